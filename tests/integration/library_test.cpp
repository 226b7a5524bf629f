// The library API: copy_tree() in-process (fidelity, reentrancy), its observer, its report,
// cancellation through a stop_token, and setup errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <thread>
#include <tuple>

#include "copiers.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test {
namespace {

compare_options labelled(const char* left, const char* right) {
  compare_options o;
  o.directory_atime = true;
  o.left_label = left;
  o.right_label = right;
  return o;
}

// Records every callback; on_error and on_entry are serialized by the library, on_progress may
// overlap them, hence the lock.
class recording_observer : public treecopy::copy_observer {
 public:
  bool on_progress(const treecopy::progress_snapshot& s) override {
    std::lock_guard lock(mutex_);
    snapshots_.push_back(s);
    return true;
  }
  void on_error(const treecopy::entry_error& e) override {
    std::lock_guard lock(mutex_);
    errors_.push_back(e);
  }
  std::vector<treecopy::progress_snapshot> snapshots_;
  std::vector<treecopy::entry_error> errors_;

 private:
  std::mutex mutex_;
};

// Copies the full tree at src with cp -a to cp_dst and with copy_tree at `jobs` workers to dst,
// and checks the copy against the source and against cp's.
void expect_full_tree_copy_matches(const std::string& src, const std::string& cp_dst,
                                   const std::string& dst, unsigned jobs) {
  const process_result cp = run_cp(src, cp_dst);
  ASSERT_TRUE(cp_ok_except_long_paths(cp)) << cp.describe();
  treecopy::copy_options options;
  options.jobs = jobs;
  const treecopy::copy_report report = treecopy::copy_tree(src, dst, options);
  EXPECT_TRUE(report.ok()) << report.error_count << " errors, first: "
                           << (report.errors.empty() ? "" : report.errors[0].message());
  EXPECT_TRUE(same_trees(src, dst, labelled("source", "copy_tree")));
  compare_options o = labelled("cp -a", "copy_tree");
  o.ignore = {full_tree::long_path_dir};
  EXPECT_TRUE(same_trees(cp_dst, dst, o));
}

class library_fidelity_test : public testing::TestWithParam<unsigned> {};

TEST_P(library_fidelity_test, full_tree_equals_source_and_cp) {
  scratch_dir scratch("library");
  build_full_tree(scratch / "src");
  expect_full_tree_copy_matches(scratch / "src", scratch / "cp", scratch / "dst", GetParam());
}

INSTANTIATE_TEST_SUITE_P(jobs, library_fidelity_test, testing::Values(1u, 2u, 8u),
                         [](const testing::TestParamInfo<unsigned>& info) {
                           return "jobs_" + std::to_string(info.param);
                         });

// Across two file systems copy_file_range is refused (EXDEV) and the data goes through sendfile,
// splice or read/write instead: the same full tree, from the disk scratch to the tmpfs scratch and
// back, must come out equal to the source and to what cp -a makes in the same direction.
class cross_fs_fidelity_test : public testing::TestWithParam<std::tuple<bool, unsigned>> {};

TEST_P(cross_fs_fidelity_test, full_tree_equals_source_and_cp) {
  const auto [from_disk, jobs] = GetParam();
  scratch_dir tmp("cross-fs");
  scratch_dir disk("cross-fs-disk", disk_scratch_root());
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(tmp.path().c_str(), &a), 0);
  ASSERT_EQ(::stat(disk.path().c_str(), &b), 0);
  if (a.st_dev == b.st_dev) GTEST_SKIP() << "the disk scratch and the scratch are one file system";
  const scratch_dir& from = from_disk ? disk : tmp;
  const scratch_dir& to = from_disk ? tmp : disk;
  build_full_tree(from / "src");
  expect_full_tree_copy_matches(from / "src", to / "cp", to / "dst", jobs);
}

INSTANTIATE_TEST_SUITE_P(directions, cross_fs_fidelity_test,
                         testing::Combine(testing::Bool(), testing::Values(1u, 8u)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "disk_to_tmpfs"
                                                                      : "tmpfs_to_disk") +
                                  "_jobs_" + std::to_string(std::get<1>(info.param));
                         });

TEST(library, two_copies_run_concurrently_in_one_process) {
  scratch_dir scratch("library_concurrent");
  for (std::uint64_t seed : {101u, 102u}) {
    random_tree_options o;
    o.seed = seed;
    o.files = 600;
    build_random_tree(scratch / ("src" + std::to_string(seed)), o);
  }
  treecopy::copy_report reports[2];
  std::thread threads[2];
  for (int i = 0; i < 2; ++i) {
    threads[i] = std::thread([&, i] {
      treecopy::copy_options options;
      options.jobs = 3;
      const std::string seed = std::to_string(101 + i);
      reports[i] = treecopy::copy_tree(scratch / ("src" + seed), scratch / ("dst" + seed), options);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 2; ++i) {
    const std::string seed = std::to_string(101 + i);
    EXPECT_TRUE(reports[i].ok()) << "copy " << i;
    EXPECT_TRUE(same_trees(scratch / ("src" + seed), scratch / ("dst" + seed),
                           labelled("source", "copy_tree")));
  }
}

// A worker that meets a file of 1 MiB or more hands the rest of its batch to other workers before
// copying it. Directories whose files are mostly such files, with small files, hard links (within
// the directory and across), symlinks and a FIFO between them, must come out whole and counted
// once each, at every worker count, copied afresh, merged into a copy and updated in place.
class hand_off_test : public testing::TestWithParam<unsigned> {};

TEST_P(hand_off_test, directories_of_large_files_are_copied_whole) {
  scratch_dir scratch("hand-off");
  tree_maker m(scratch / "src", 77);
  std::uint64_t bytes = 0;
  auto add = [&](const std::string& rel, std::size_t size) {
    m.file(rel, m.random_bytes(size));
    bytes += size;
  };
  m.dir("data");
  m.dir("other");
  for (int i = 0; i < 24; ++i) {
    const std::string n = std::to_string(i);
    add("data/big" + n, (1u << 20) + static_cast<std::size_t>(i) * 40000);
    add("data/small" + n, static_cast<std::size_t>(i) * 100);
    if (i % 6 == 0) m.hardlink("data/big" + n, "data/big" + n + "_link");
    if (i % 8 == 0) m.hardlink("data/big" + n, "other/big" + n + "_link");
  }
  m.symlink("data/to_big0", "big0");
  m.special("data/fifo", S_IFIFO, 0600);
  m.finish();

  treecopy::copy_options options;
  options.jobs = GetParam();
  const treecopy::copy_report r = treecopy::copy_tree(scratch / "src", scratch / "dst", options);
  using k = treecopy::entry_kind;
  EXPECT_TRUE(r.ok()) << r.error_count << " errors";
  EXPECT_EQ(r.copied[k::file], 48u);
  EXPECT_EQ(r.copied[k::hardlink], 7u);  // big0, 6, 12, 18 in data; big0, 8, 16 in other
  EXPECT_EQ(r.copied[k::symlink], 1u);
  EXPECT_EQ(r.copied[k::fifo], 1u);
  EXPECT_EQ(r.bytes_copied, bytes);
  compare_options o;
  o.directory_atime = true;
  EXPECT_TRUE(same_trees(scratch / "src", scratch / "dst", o));

  // Into the finished copy again: --merge replaces every entry, --update then has nothing to do.
  options.merge = true;
  const treecopy::copy_report merged =
      treecopy::copy_tree(scratch / "src", scratch / "dst", options);
  EXPECT_TRUE(merged.ok()) << merged.error_count << " errors";
  EXPECT_EQ(merged.copied[k::file], 48u);
  EXPECT_TRUE(same_trees(scratch / "src", scratch / "dst", o));
  options.update = true;
  const treecopy::copy_report updated =
      treecopy::copy_tree(scratch / "src", scratch / "dst", options);
  EXPECT_TRUE(updated.ok()) << updated.error_count << " errors";
  EXPECT_EQ(updated.copied[k::file], 0u);
  EXPECT_EQ(updated.bytes_copied, 0u);
  EXPECT_TRUE(same_trees(scratch / "src", scratch / "dst", o));
}

INSTANTIATE_TEST_SUITE_P(jobs, hand_off_test, testing::Values(1u, 2u, 8u),
                         [](const testing::TestParamInfo<unsigned>& info) {
                           return "jobs_" + std::to_string(info.param);
                         });

TEST(library, report_counts_entries_by_kind_and_bytes) {
  scratch_dir scratch("library_report");
  tree_maker m(scratch / "src", 1);
  m.dir("d1");
  m.dir("d1/d2");
  m.file("f1", std::string(1000, 'a'));
  m.file("d1/f2", std::string(2345, 'b'));
  m.file("d1/d2/f3", "");
  m.hardlink("f1", "d1/d2/f1_again");
  m.symlink("s", "f1");
  m.special("p", S_IFIFO, 0644);
  m.finish();
  const treecopy::copy_report r = treecopy::copy_tree(scratch / "src", scratch / "dst");
  using k = treecopy::entry_kind;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.copied[k::file], 3u);
  EXPECT_GE(r.copied[k::directory], 2u);  // the root may or may not count
  EXPECT_LE(r.copied[k::directory], 3u);
  EXPECT_EQ(r.copied[k::hardlink], 1u);
  EXPECT_EQ(r.copied[k::symlink], 1u);
  EXPECT_EQ(r.copied[k::fifo], 1u);
  EXPECT_EQ(r.bytes_copied, 3345u);
  EXPECT_TRUE(r.errors.empty());
}

TEST(library, observer_and_report_list_failed_entries) {
  scratch_dir scratch("library_errors");
  tree_maker m(scratch / "src", 2);
  m.file("x", "a file where the destination has a non-empty directory");
  m.file("y", "fine");
  m.finish();
  ASSERT_EQ(::mkdir((scratch / "dst").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((scratch / "dst/x").c_str(), 0755), 0);
  ASSERT_EQ(::close(::creat((scratch / "dst/x/keep").c_str(), 0644)), 0);

  recording_observer observer;
  treecopy::copy_options options;
  options.merge = true;
  const treecopy::copy_report r =
      treecopy::copy_tree(scratch / "src", scratch / "dst", options, &observer);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.error_count, 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  const treecopy::entry_error& e = r.errors[0];
  EXPECT_NE(e.path.find("/x"), std::string::npos) << e.message();
  EXPECT_TRUE(e.code) << "the error carries the errno";
  EXPECT_NE(e.op, treecopy::operation::cancelled);
  EXPECT_NE(e.message().find(e.path), std::string::npos) << e.message();
  ASSERT_EQ(observer.errors_.size(), 1u);
  EXPECT_EQ(observer.errors_[0].path, e.path);
  EXPECT_EQ(observer.errors_[0].op, e.op);
  EXPECT_EQ(observer.errors_[0].code, e.code);
  ASSERT_FALSE(observer.snapshots_.empty()) << "the final progress snapshot is always sent";
  EXPECT_TRUE(observer.snapshots_.back().scan_complete);
  EXPECT_EQ(observer.snapshots_.back().errors, 1u);
  struct stat st {};
  EXPECT_EQ(::stat((scratch / "dst/y").c_str(), &st), 0) << "the rest is copied";
  EXPECT_EQ(::stat((scratch / "dst/x/keep").c_str(), &st), 0) << "the directory is left alone";
}

TEST(library, stop_requested_before_start_cancels) {
  scratch_dir scratch("library_cancel");
  random_tree_options o;
  o.files = 50;
  build_random_tree(scratch / "src", o);
  std::stop_source stop;
  stop.request_stop();
  const treecopy::copy_report r =
      treecopy::copy_tree(scratch / "src", scratch / "dst", {}, nullptr, stop.get_token());
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.copied[treecopy::entry_kind::file], 0u) << "no new entry starts after a stop";
}

TEST(library, setup_errors_are_thrown_before_anything_is_created) {
  scratch_dir scratch("library_setup");
  ASSERT_EQ(::mkdir((scratch / "src").c_str(), 0755), 0);
  const auto before = snapshot_tree(scratch.path());
  try {
    treecopy::copy_tree(scratch / "missing", scratch / "dst");
    ADD_FAILURE() << "a missing source must throw setup_error";
  } catch (const treecopy::setup_error& e) {
    EXPECT_NE(e.path().find("missing"), std::string::npos) << e.what();
    EXPECT_TRUE(e.code());
  }
  EXPECT_THROW(treecopy::copy_tree(scratch / "src", scratch / "src/inside"), treecopy::setup_error);
  EXPECT_THROW(treecopy::copy_tree(scratch / "src", scratch / "src"), treecopy::setup_error);
  EXPECT_THROW(treecopy::copy_tree(scratch / "src", scratch / "no/parent"), treecopy::setup_error);
  EXPECT_EQ(snapshot_tree(scratch.path()), before);
}

}  // namespace
}  // namespace treecopy_test
