// Messages that can be trusted: output that cannot be written is an error (exit 1 and a word on
// stderr), bad filter files are bad input (exit 2, nothing copied), every message names the real
// path, quoted so that no name can split a line or forge one, and a source directory that cannot
// be read is still created, as cp -a does.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "copiers.hpp"
#include "entry_check.hpp"
#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test::faults {
namespace {

constexpr owner nobody{unprivileged_id, unprivileged_id};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The CLI with its stdout and/or stderr sent elsewhere (/dev/full), through the shell.
process_result run_redirected(const std::vector<std::string>& args,
                              const std::string& redirections) {
  std::vector<std::string> argv{"sh", "-c", "exec \"$0\" \"$@\" " + redirections, cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

void small_tree(const std::string& root) {
  tree_maker m(root, 71);
  m.dir("a");
  m.file("a/one", "one");
  m.file("two", m.random_bytes(5000));
  m.finish();
}

// What the names of the hostile names tests look like: every byte class that quote() handles.
const std::vector<std::string>& awkward_names() {
  static const std::vector<std::string> names{"plain",
                                              "it's",
                                              "no\nsuch",
                                              "\n",
                                              "a\n\tb",
                                              "'",
                                              "''",
                                              "\x01x",
                                              "caf\xc3\xa9",
                                              "bad\xff",
                                              "c1\xc2\x85",
                                              "sp ace",
                                              "$x",
                                              "back\\slash",
                                              "tail'",
                                              "\x1b[31mred",
                                              "\x7f",
                                              "ls\xe2\x80\xa8"
                                              "ep",
                                              "treecopy: x",
                                              "q\"uote",
                                              "x\r",
                                              "\xf0\x9f\x98\x80"};
  return names;
}

// ---- output errors ------------------------------------------------------------------------------

TEST(output_errors, json_summary_to_a_full_stdout_is_an_error) {
  scratch_dir s("out-json");
  small_tree(s / "src");
  const auto r = run_redirected({"--json", s / "src", s / "dst"}, ">/dev/full");
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_TRUE(contains(r.err, "treecopy: write error on standard output: No space left on device"))
      << r.describe();
  EXPECT_TRUE(same_trees(s / "src", s / "dst")) << "the copy itself is complete";
}

TEST(output_errors, progress_file_that_cannot_be_written_is_an_error) {
  scratch_dir s("out-progress");
  small_tree(s / "src");
  const auto r = run_treecopy_limited({"--progress-file", "/dev/full", s / "src", s / "dst"}, 60);
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_TRUE(contains(r.err, "treecopy: --progress-file '/dev/full': write error: No space left"))
      << r.describe();
  EXPECT_TRUE(same_trees(s / "src", s / "dst"));
}

TEST(output_errors, verbose_lines_to_a_full_stdout_are_an_error) {
  scratch_dir s("out-v");
  small_tree(s / "src");
  const auto r = run_redirected({"-v", s / "src", s / "dst"}, ">/dev/full");
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_TRUE(contains(r.err, "write error on standard output")) << r.describe();
  // The summary says 0 errors (no entry failed), the exit code says the output was lost.
  EXPECT_TRUE(same_trees(s / "src", s / "dst"));
}

TEST(output_errors, full_stderr_still_exits_1) {
  scratch_dir s("out-stderr");
  small_tree(s / "src");
  const auto r = run_redirected({s / "src", s / "dst"}, "2>/dev/full");
  EXPECT_TRUE(exited_with(r, 1)) << "the summary could not be written";
  EXPECT_TRUE(same_trees(s / "src", s / "dst"));
}

TEST(output_errors, events_on_stderr_say_that_stdout_was_lost) {
  scratch_dir s("out-events");
  small_tree(s / "src");
  const auto r = run_redirected({"--progress=json", "--json", s / "src", s / "dst"}, ">/dev/full");
  EXPECT_TRUE(exited_with(r, 1));
  const auto lines = split_lines(r.err);
  ASSERT_FALSE(lines.empty()) << r.describe();
  EXPECT_EQ(
      lines.back().rfind("{\"event\":\"output_error\",\"output\":\"stdout\",\"errno\":28,", 0), 0u)
      << "stderr stays NDJSON\n"
      << r.describe();
}

TEST(output_errors, help_and_version_to_a_full_stdout) {
  for (const char* arg : {"--version", "--help"}) {
    const auto r = run_redirected({arg}, ">/dev/full");
    EXPECT_TRUE(exited_with(r, 1)) << arg;
    EXPECT_TRUE(contains(r.err, "write error on standard output")) << r.describe();
  }
}

// ---- --exclude-from -----------------------------------------------------------------------------

TEST(exclude_from, a_directory_or_an_unreadable_file_is_bad_input) {
  scratch_dir s("exfrom");
  small_tree(s / "src");
  ASSERT_EQ(::mkdir((s / "rules_dir").c_str(), 0755), 0);
  {
    tree_maker m(s / "rules", 72);
    m.file("secret", "two\n", 0600);  // root's: nobody cannot read it
    m.finish();
  }
  s.give_to(unprivileged_id);
  struct probe {
    std::string file;
    std::string reason;
    bool as_nobody;
  };
  const std::vector<probe> probes{{s / "rules_dir", "Is a directory", false},
                                  {"/proc/self/mem", "Input/output error", false},
                                  {s / "rules/secret", "Permission denied", true}};
  for (const probe& p : probes) {
    SCOPED_TRACE(p.file);
    if (p.as_nobody && unprivileged_unavailable()) continue;  // needs root to switch users
    const auto r = run_treecopy_limited({"--exclude-from", p.file, s / "src", s / "dst"}, 60,
                                        p.as_nobody ? as_uid(unprivileged_id) : process_options{});
    EXPECT_TRUE(exited_with(r, 2));
    EXPECT_TRUE(one_error_line_naming(r, "--exclude-from '" + p.file + "'"));
    EXPECT_TRUE(contains(r.err, p.reason)) << r.describe();
    EXPECT_FALSE(exists(s / "dst")) << "nothing is copied when the rules cannot be read";
  }
}

// ---- a source directory that cannot be read -----------------------------------------------------

TEST(unreadable_source_directory, is_created_with_its_metadata_like_cp) {
  if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
  scratch_dir s("locked-dir");
  s.give_to(unprivileged_id);
  {
    tree_maker m(s / "src", 73);
    m.dir("a", 0755, nobody);
    m.dir("a/locked", 0755, nobody);
    m.file("a/locked/inside", "unseen", 0644, nobody);
    m.dir("a/locked_x", 0755, nobody);
    m.file("keep", "kept", 0644, nobody);
    m.dir_mode("a/locked", 0);
    m.dir_mode("a/locked_x", 0100);  // search without read: cannot be listed either
    m.finish();
  }
  ASSERT_EQ(::chown((s / "src").c_str(), unprivileged_id, unprivileged_id), 0);
  const auto cp = run_cp(s / "src", s / "cp", as_user(unprivileged_id));
  ASSERT_TRUE(exited_with(cp, 1)) << "cp -a reports the directories it cannot read";
  for (const char* jobs : {"1", "4"}) {
    SCOPED_TRACE(jobs);
    const std::string dst = s / (std::string("tc") + jobs);
    const auto r =
        run_treecopy_limited({"-q", "-j", jobs, s / "src", dst}, 60, as_uid(unprivileged_id));
    EXPECT_TRUE(exited_with(r, 1));
    const auto errors = parse_error_lines(r.err);
    ASSERT_EQ(errors.size(), 2u) << r.describe();
    for (const error_line& e : errors) {
      EXPECT_TRUE(e.path == s / "src/a/locked" || e.path == s / "src/a/locked_x") << e.path;
      EXPECT_EQ(e.reason, "Permission denied");
    }
    compare_options o;
    o.left_label = "cp -a as 65534";
    o.right_label = "treecopy as 65534";
    o.root_metadata = false;
    EXPECT_TRUE(same_trees(s / "cp", dst, o));
  }
}

// ---- quoting ------------------------------------------------------------------------------------

TEST(quoting, as_gnu_shell_escape_always) {
  EXPECT_EQ(treecopy::quote("plain"), "'plain'");
  EXPECT_EQ(treecopy::quote(""), "''");
  EXPECT_EQ(treecopy::quote("it's"), "'it'\\''s'");
  EXPECT_EQ(treecopy::quote("no\nsuch"), "'no'$'\\n''such'");
  EXPECT_EQ(treecopy::quote("\n"), "''$'\\n'");
  EXPECT_EQ(treecopy::quote("a\n\tb"), "'a'$'\\n\\t''b'");
  EXPECT_EQ(treecopy::quote("\x01x"), "''$'\\001''x'");
  EXPECT_EQ(treecopy::quote("bad\xff"), "'bad'$'\\377'");
  EXPECT_EQ(treecopy::quote("c1\xc2\x85"), "'c1'$'\\302\\205'");
  EXPECT_EQ(treecopy::quote("caf\xc3\xa9"), "'caf\xc3\xa9'");
  EXPECT_EQ(treecopy::quote("'\n"), "''\\'$'\\n'");
}

// Every quoted name reads back, in bash, as exactly the name.
TEST(quoting, bash_reads_back_the_exact_bytes) {
  for (const std::string& name : awkward_names()) {
    const std::string q = treecopy::quote(name);
    EXPECT_EQ(q.find('\n'), std::string::npos) << q;
    const auto r = run_process({"bash", "-c", "printf %s " + q});
    EXPECT_EQ(r.out, name) << q;
    std::size_t pos = 0;
    EXPECT_EQ(unquote_name(q, pos), name) << q;
    EXPECT_EQ(pos, q.size()) << q;
  }
}

// Entry errors and setup errors name awkward paths on one line each, decodable to the real path;
// the JSON summary keeps the exact bytes; -v lines name one entry per line.
TEST(quoting, error_and_entry_lines_cannot_be_split_or_forged) {
  scratch_dir s("quoting");
  const std::string src = s / "src", dst = s / "dst";
  {
    tree_maker m(src, 74);
    for (const std::string& name : awkward_names()) m.file(name, "x");
    m.finish();
    tree_maker d(dst, 75);  // a directory where each file goes: one error per name
    for (const std::string& name : awkward_names()) d.dir(name);
    d.finish();
  }
  const auto r = run_treecopy_limited({"--merge", "-q", src, dst}, 60);
  EXPECT_TRUE(exited_with(r, 1));
  std::vector<std::string> malformed;
  const auto errors = parse_error_lines(r.err, &malformed);
  EXPECT_TRUE(malformed.empty()) << r.describe();
  EXPECT_EQ(split_lines(r.err).size(), awkward_names().size()) << "one line per error\n"
                                                               << r.describe();
  std::vector<std::string> got, want;
  for (const error_line& e : errors) got.push_back(e.path);
  for (const std::string& name : awkward_names()) want.push_back(dst + "/" + name);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want) << r.describe();

  // The library: structured path exact, message on one line.
  treecopy::copy_options o;
  o.merge = true;
  const treecopy::copy_report rep = treecopy::copy_tree(src, dst, o);
  ASSERT_EQ(rep.errors.size(), awkward_names().size());
  for (const treecopy::entry_error& e : rep.errors) {
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(treecopy::quote(e.path)), std::string::npos) << e.message();
  }

  // A setup error about an awkward name: one line.
  const std::string odd = s / "dst'\ntreecopy: forged";
  ASSERT_EQ(::mkdir(odd.c_str(), 0755), 0);
  const auto setup = run_treecopy_limited({src, odd}, 60);
  EXPECT_TRUE(exited_with(setup, 2));
  EXPECT_TRUE(one_error_line_naming(setup, treecopy::quote(odd))) << setup.describe();

  // JSON: exact (JSON escapes), not shell quoting.
  const auto j = run_treecopy_limited({"--merge", "--json", src, dst}, 60);
  EXPECT_TRUE(contains(j.out, "\"path\":\"" + dst + "/no\\nsuch\"")) << j.out;

  // -v: plain paths as they are, the others quoted; one line per entry either way.
  const std::string vdst = s / "vdst";
  const auto v = run_treecopy_limited({"-v", src, vdst}, 60);
  EXPECT_TRUE(exited_with(v, 0));
  const auto lines = split_lines(v.out);
  EXPECT_EQ(lines.size(), awkward_names().size() + 1) << v.describe();
  std::vector<std::string> listed;
  for (const std::string& line : lines) {
    std::size_t pos = 0;
    if (line.empty() || line[0] != '\'') {
      EXPECT_EQ(line.find('\''), std::string::npos) << line;
      listed.push_back(line);
    } else {
      auto name = unquote_name(line, pos);
      ASSERT_TRUE(name && pos == line.size()) << line;
      EXPECT_NE(treecopy::quote(*name), "'" + *name + "'") << "quoted without need: " << line;
      listed.push_back(*name);
    }
  }
  std::vector<std::string> expected{vdst};
  for (const std::string& name : awkward_names()) expected.push_back(vdst + "/" + name);
  std::sort(listed.begin(), listed.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(listed, expected);
}

// ---- messages name the real path ----------------------------------------------------------------

// Reading the source's extended attributes fails (injected with strace): the message names the
// source entry, not its copy.
TEST(quoting, usage_errors_cannot_be_split_or_forged) {
  scratch_dir s("usage-forge");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--jobs", "x\ntreecopy: forged", s / "a", s / "b"},
        std::vector<std::string>{"--reflink", "q\ntreecopy: forged", s / "a", s / "b"},
        std::vector<std::string>{"--bad\ntreecopy: forged", s / "a", s / "b"}}) {
    const auto r = run_treecopy_limited(args, 60);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_EQ(split_lines(r.err).size(), 1u) << "a usage error took more than one line\n"
                                             << r.describe();
  }
}

TEST(real_paths, xattr_read_failure_names_the_source) {
  if (auto why = sanitizer_runtime()) GTEST_SKIP() << *why;  // strace: ptrace
  if (run_process({"sh", "-c", "command -v strace"}).exit_code != 0) GTEST_SKIP() << "no strace";
  scratch_dir s("xattr-read");
  const std::string src = s / "src", dst = s / "dst";
  {
    tree_maker m(src, 76);
    m.file("f", "data");
    m.symlink("l", "f");
    m.finish();
  }
  const auto r = run_process(
      {"strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=flistxattr,llistxattr", "-e",
       "inject=flistxattr,llistxattr:error=EIO", cli_path(), "-q", "-j", "1", src, dst});
  if (contains(r.err, "strace:")) GTEST_SKIP() << "strace cannot trace here\n" << r.describe();
  EXPECT_TRUE(exited_with(r, 1));
  const auto errors = parse_error_lines(r.err);
  ASSERT_FALSE(errors.empty()) << r.describe();
  std::vector<std::string> paths;
  for (const error_line& e : errors) {
    EXPECT_EQ(e.op, "read attributes of") << r.describe();
    EXPECT_EQ(e.path.rfind(src, 0), 0u) << "names the copy, not the source: " << e.path;
    paths.push_back(e.path);
  }
  for (const char* name : {"/f", "/l"})
    EXPECT_NE(std::find(paths.begin(), paths.end(), src + name), paths.end()) << name << "\n"
                                                                              << r.describe();
}

// ---- progress -----------------------------------------------------------------------------------

class recording_observer final : public treecopy::copy_observer {
 public:
  bool on_progress(const treecopy::progress_snapshot& s) override {
    snapshots.push_back(s);
    return true;
  }
  std::vector<treecopy::progress_snapshot> snapshots;
};

// /proc files say st_size 0 and hold more: bytes done never above bytes found.
TEST(progress, bytes_done_never_above_bytes_found) {
  const std::string src = "/proc/sys/fs/inotify";
  if (!exists(src)) GTEST_SKIP() << src << " does not exist here";
  scratch_dir s("proc-bytes");
  recording_observer obs;
  const auto rep = treecopy::copy_tree(src, s / "dst", {}, &obs);
  ASSERT_GT(rep.bytes_copied, 0u);
  ASSERT_FALSE(obs.snapshots.empty());
  for (const auto& snap : obs.snapshots) EXPECT_LE(snap.bytes_done, snap.bytes_found);
  EXPECT_EQ(obs.snapshots.back().bytes_done, rep.bytes_copied);
}

// ---- cycles -------------------------------------------------------------------------------------

TEST(cycles, a_directory_cycle_under_L_says_so) {
  scratch_dir s("cycle");
  {
    tree_maker m(s / "src", 77);
    m.dir("a");
    m.file("a/data", "data");
    m.symlink("a/up", "..");
    m.finish();
  }
  const auto r = run_treecopy_limited({"-L", "-q", s / "src", s / "dst"}, 60);
  EXPECT_TRUE(exited_with(r, 1));
  const auto errors = parse_error_lines(r.err);
  ASSERT_EQ(errors.size(), 1u) << r.describe();
  EXPECT_EQ(errors[0].path, s / "src/a/up");
  EXPECT_EQ(errors[0].reason, "directory cycle (already being copied as an ancestor)");
  const auto j = run_treecopy_limited({"-L", "--json", s / "src", s / "dst2"}, 60);
  EXPECT_TRUE(contains(j.out, "\"treecopy_error\":\"directory_cycle\"")) << j.out;
  EXPECT_TRUE(contains(j.out, "\"errno\":0,")) << j.out;
  treecopy::copy_options o;
  o.dereference = treecopy::symlink_mode::always;
  const auto rep = treecopy::copy_tree(s / "src", s / "dst3", o);
  ASSERT_EQ(rep.errors.size(), 1u);
  EXPECT_EQ(rep.errors[0].code, treecopy::errc::directory_cycle);
}

}  // namespace
}  // namespace treecopy_test::faults
