// cp's forms and several sources in one call: copy_trees() with several pairs (one report, one
// pool), `treecopy SRC... DIR`, `treecopy -t DIR SRC...`, `SRC DIR/` into an existing directory,
// -T, and the two-path form that stays what it was. Every copy is compared with its source bit
// for bit (tree_compare); exit codes, the JSON summary and per-entry errors are checked too.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "copiers.hpp"
#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"

namespace treecopy_test {
namespace {

process_result tc(std::vector<std::string> args) {
  args.insert(args.begin(), {"--progress=none", "-j", "4"});
  return run_treecopy(args);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

random_tree_options small_tree(std::uint64_t seed) {
  random_tree_options o;
  o.seed = seed;
  o.files = 120;
  o.directories = 15;
  return o;
}

// Three sources of different kinds: two trees and a file.
void make_sources(const scratch_dir& s) {
  ASSERT_EQ(::mkdir((s / "in").c_str(), 0755), 0);
  build_random_tree(s / "in/alpha", small_tree(1701));
  build_random_tree(s / "in/beta", small_tree(1702));
  write_file(s / "in/note.txt", "a file among the sources", past_time(3));
}

TEST(forms_test, library_copies_several_pairs_in_one_report) {
  scratch_dir s("forms-lib");
  make_sources(s);
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  const std::vector<treecopy::copy_pair> pairs = {{s / "in/alpha", s / "out/alpha"},
                                                  {s / "in/beta", s / "out/b2"},
                                                  {s / "in/note.txt", s / "out/note.txt"}};
  recording_observer obs;
  const treecopy::copy_report r = treecopy::copy_trees(pairs, {}, &obs);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(same_trees(s / "in/alpha", s / "out/alpha"));
  EXPECT_TRUE(same_trees(s / "in/beta", s / "out/b2"));
  EXPECT_TRUE(same_trees(s / "in/note.txt", s / "out/note.txt"));
  const census a = count_entries(s / "in/alpha"), b = count_entries(s / "in/beta");
  EXPECT_EQ(r.copied.total(), a.directories + a.others + b.directories + b.others + 1);
  // Entries are told with their own pair's DST.
  bool saw_b2 = false;
  for (const auto& [kind, path] : obs.entries) saw_b2 |= path.rfind(s / "out/b2/", 0) == 0;
  EXPECT_TRUE(saw_b2);
}

TEST(forms_test, missing_source_among_several_is_an_entry_error) {
  scratch_dir s("forms-missing");
  make_sources(s);
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  const std::vector<treecopy::copy_pair> pairs = {{s / "in/alpha", s / "out/alpha"},
                                                  {s / "in/nothing", s / "out/nothing"},
                                                  {s / "in/beta", s / "out/beta"}};
  const treecopy::copy_report r = treecopy::copy_trees(pairs);
  EXPECT_EQ(r.error_count, 1u) << describe(r);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].path, s / "in/nothing");
  EXPECT_EQ(r.errors[0].code, std::errc::no_such_file_or_directory);
  EXPECT_TRUE(same_trees(s / "in/alpha", s / "out/alpha"));
  EXPECT_TRUE(same_trees(s / "in/beta", s / "out/beta"));
  EXPECT_FALSE(entry_exists(s / "out/nothing"));
  // One pair: the same source is a setup error, as copy_tree() always said.
  EXPECT_THROW(treecopy::copy_trees(std::vector<treecopy::copy_pair>{pairs[1]}),
               treecopy::setup_error);
}

TEST(forms_test, cli_copies_sources_into_dir_under_their_names) {
  scratch_dir s("forms-cli");
  make_sources(s);
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  // "alpha/" is named alpha: the trailing slash does not change the name.
  const process_result r =
      tc({"--json", s / "in/alpha/", s / "in/beta", s / "in/note.txt", s / "out"});
  ASSERT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(same_trees(s / "in/alpha", s / "out/alpha"));
  EXPECT_TRUE(same_trees(s / "in/beta", s / "out/beta"));
  EXPECT_TRUE(same_trees(s / "in/note.txt", s / "out/note.txt"));
  EXPECT_TRUE(contains(r.out, "\"sources\":[")) << r.out;
  EXPECT_TRUE(contains(r.out, "\"destination\":\"" + (s / "out") + "\"")) << r.out;
}

TEST(forms_test, cli_target_directory_option) {
  scratch_dir s("forms-t");
  make_sources(s);
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  ASSERT_TRUE(exited_with(tc({"-t", s / "out", s / "in/beta"}), 0));
  EXPECT_TRUE(same_trees(s / "in/beta", s / "out/beta"));
  ASSERT_TRUE(
      exited_with(tc({"--target-directory", s / "out", s / "in/alpha", s / "in/note.txt"}), 0));
  EXPECT_TRUE(same_trees(s / "in/alpha", s / "out/alpha"));
  EXPECT_TRUE(same_trees(s / "in/note.txt", s / "out/note.txt"));
}

TEST(forms_test, existing_dir_with_trailing_slash_receives_the_source) {
  scratch_dir s("forms-slash");
  make_sources(s);
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  ASSERT_TRUE(exited_with(tc({s / "in/alpha", s / "out/"}), 0));
  EXPECT_TRUE(same_trees(s / "in/alpha", s / "out/alpha"));
}

TEST(forms_test, two_paths_keep_their_meaning) {
  scratch_dir s("forms-two");
  make_sources(s);
  // DST that does not exist, with or without a slash: DST is the copy.
  ASSERT_TRUE(exited_with(tc({s / "in/alpha", s / "copy"}), 0));
  EXPECT_TRUE(same_trees(s / "in/alpha", s / "copy"));
  ASSERT_TRUE(exited_with(tc({s / "in/alpha", s / "copy2/"}), 0));
  EXPECT_TRUE(same_trees(s / "in/alpha", s / "copy2"));
  // An existing DST without a slash: refused as before, not nested (cp would nest).
  const process_result again = tc({s / "in/alpha", s / "copy"});
  EXPECT_TRUE(exited_with(again, 2));
  EXPECT_FALSE(entry_exists(s / "copy/alpha"));
  // --merge into DST/: DST is still the copy (merged into), as every mirror script expects.
  write_file(s / "in/alpha/added", "new", past_time(4));
  ASSERT_TRUE(exited_with(tc({"--update", s / "in/alpha", s / "copy/"}), 0));
  EXPECT_TRUE(same_trees(s / "in/alpha", s / "copy"));
  EXPECT_FALSE(entry_exists(s / "copy/alpha"));
  // -T: DST/ is the copy even when it exists; exactly two paths.
  ASSERT_EQ(::mkdir((s / "empty").c_str(), 0755), 0);
  EXPECT_TRUE(exited_with(tc({"-T", "--merge", s / "in/beta", s / "empty/"}), 0));
  EXPECT_TRUE(same_trees(s / "in/beta", s / "empty"));
  EXPECT_TRUE(exited_with(tc({"-T", s / "in/alpha", s / "in/beta", s / "empty"}), 2));
}

TEST(forms_test, update_delete_and_dry_run_cover_every_pair) {
  scratch_dir s("forms-upd");
  make_sources(s);
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  // A dry run creates nothing.
  const process_result dry = tc({"--dry-run", "-v", s / "in/alpha", s / "in/beta", s / "out"});
  ASSERT_TRUE(exited_with(dry, 0));
  EXPECT_TRUE(contains(dry.out, s / "out/beta/")) << dry.out;
  EXPECT_FALSE(entry_exists(s / "out/alpha"));
  ASSERT_TRUE(exited_with(tc({s / "in/alpha", s / "in/beta", s / "out"}), 0));
  write_file(s / "out/alpha/extra", "not in SRC", past_time(5));
  write_file(s / "out/beta/extra", "not in SRC", past_time(5));
  write_file(s / "in/beta/changed", "changed", past_time(6));
  const auto before = non_directory_inodes(s / "out/alpha");
  ASSERT_TRUE(
      exited_with(tc({"--update", "--delete", s / "in/alpha", s / "in/beta", s / "out"}), 0));
  EXPECT_TRUE(same_trees(s / "in/alpha", s / "out/alpha"));
  EXPECT_TRUE(same_trees(s / "in/beta", s / "out/beta"));
  auto after = non_directory_inodes(s / "out/alpha");
  auto before_kept = before;
  before_kept.erase("extra");
  EXPECT_EQ(inode_changes(before_kept, after), "");
}

TEST(forms_test, missing_source_among_several_exits_1_and_copies_the_rest) {
  scratch_dir s("forms-cli-missing");
  make_sources(s);
  ASSERT_EQ(::mkdir((s / "out").c_str(), 0755), 0);
  const process_result r = tc({s / "in/alpha", s / "in/nothing", s / "in/beta", s / "out"});
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_TRUE(contains(r.err, s / "in/nothing")) << r.err;
  EXPECT_TRUE(same_trees(s / "in/alpha", s / "out/alpha"));
  EXPECT_TRUE(same_trees(s / "in/beta", s / "out/beta"));
}

}  // namespace
}  // namespace treecopy_test
