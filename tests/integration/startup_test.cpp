// Start-up: a small copy (one file, a directory of a few files) runs on the calling thread alone,
// starting neither the worker pool nor the progress sampler, since starting them costs several
// times the copy itself; a larger tree or a large file still gets them. Threads are
// counted in /proc/self/task from the observer's callbacks, which run inside the copy.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "process.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test {
namespace {

// The most threads the process had while the copy told of an entry or of its progress. With
// `yield`, each entry also gives the CPU away, as a preempted thread would.
class thread_watch final : public treecopy::copy_observer {
 public:
  explicit thread_watch(bool yield) : yield_(yield) {}
  bool wants_entries() const override { return true; }
  void on_entry(treecopy::entry_kind, std::string_view) override {
    look();
    if (yield_) ::sched_yield();
  }
  bool on_progress(const treecopy::progress_snapshot&) override {
    look();
    return true;
  }
  void on_workers_started() override {
    started.fetch_add(1);
    started_by_caller = std::this_thread::get_id() == caller_;
  }
  std::atomic<std::size_t> most{0};
  std::atomic<std::size_t> looks{0};
  std::atomic<unsigned> started{0};  ///< on_workers_started() calls
  std::atomic<bool> started_by_caller{false};

 private:
  bool yield_;
  std::thread::id caller_ = std::this_thread::get_id();
  void look() {
    looks.fetch_add(1);
    const std::size_t n = thread_count();
    std::size_t seen = most.load();
    while (n > seen && !most.compare_exchange_weak(seen, n)) {
    }
  }
};

// Copies src to dst with default options (default -j, an observer: as the CLI does) and returns
// how many threads beyond those of the process before the copy were seen during it.
std::size_t threads_added(const std::string& src, const std::string& dst, bool yield = false) {
  const std::size_t before = thread_count();
  EXPECT_GT(before, 0u) << "/proc/self/task cannot be read";
  thread_watch watch(yield);
  const treecopy::copy_report rep = treecopy::copy_tree(src, dst, {}, &watch);
  EXPECT_TRUE(rep.ok());
  EXPECT_GT(watch.looks.load(), 0u);
  EXPECT_TRUE(same_trees(src, dst));
  const std::size_t added = watch.most.load() > before ? watch.most.load() - before : 0;
  // The observer hears of the workers once, on the calling thread, exactly when they start (the
  // command starts its signal watcher then).
  EXPECT_EQ(watch.started.load(), added > 0 ? 1u : 0u);
  if (added > 0) {
    EXPECT_TRUE(watch.started_by_caller.load());
  }
  return added;
}

TEST(startup, one_small_file_is_copied_without_starting_a_thread) {
  scratch_dir scratch("startup-file");
  write_filled_file(scratch / "f", 4096, 'a');
  EXPECT_EQ(threads_added(scratch / "f", scratch / "g"), 0u);
}

TEST(startup, a_tree_of_ten_small_files_is_copied_without_starting_a_thread) {
  scratch_dir scratch("startup-tree");
  ASSERT_EQ(::mkdir((scratch / "src").c_str(), 0750), 0);
  for (int i = 0; i < 10; ++i)
    write_filled_file(scratch / ("src/f" + std::to_string(i)), 4096, 'b');
  EXPECT_EQ(threads_added(scratch / "src", scratch / "dst"), 0u);
}

// A small tree copied by a thread that hardly gets a CPU (SCHED_IDLE beside a busy thread per
// core and one more, giving the CPU away at each entry): the copy takes far longer than the time
// after which a slow file system starts the workers, but that time is spent waiting for a CPU,
// not for the file system, and more threads would only compete for the same busy cores.
// Whether this build runs under a sanitizer: its instrumented copy of ten files uses more than
// the 5 ms of CPU time after which the workers start, busy machine or not.
constexpr bool sanitized() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return true;
#endif
#endif
  return false;
}

TEST(startup, a_small_tree_copied_on_a_busy_machine_starts_no_thread) {
  if (sanitized()) GTEST_SKIP() << "a sanitizer's instrumented copy uses more than 5 ms of CPU";
  scratch_dir scratch("startup-busy");
  ASSERT_EQ(::mkdir((scratch / "src").c_str(), 0750), 0);
  for (int i = 0; i < 10; ++i)
    write_filled_file(scratch / ("src/f" + std::to_string(i)), 4096, 'e');
  if (treecopy::default_jobs() < 2) GTEST_SKIP() << "one worker by default here";
  std::atomic<bool> busy{true};
  std::vector<std::thread> hogs;
  for (unsigned i = 0; i <= std::thread::hardware_concurrency(); ++i)
    hogs.emplace_back([&busy] {
      while (busy.load(std::memory_order_relaxed)) {
      }
    });
  std::size_t added = 0;
  bool idle = false;
  std::thread copier([&] {
    const sched_param param{};
    idle = ::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &param) == 0;
    if (idle) added = threads_added(scratch / "src", scratch / "dst", true);
  });
  copier.join();
  busy = false;
  for (std::thread& t : hogs) t.join();
  if (!idle) GTEST_SKIP() << "SCHED_IDLE cannot be set here";
  EXPECT_EQ(added, 0u);
}

// One file of 2 MiB in a small tree: the sampler (and the pool) start before its data is copied,
// so that its progress is told.
TEST(startup, a_large_file_starts_the_sampler) {
  scratch_dir scratch("startup-big");
  ASSERT_EQ(::mkdir((scratch / "src").c_str(), 0750), 0);
  write_filled_file(scratch / "src/big", 2 << 20, 'd');
  EXPECT_GT(threads_added(scratch / "src", scratch / "dst"), 0u);
}

// The other side: a tree with work for several workers starts them (and the sampler).
TEST(startup, a_larger_tree_starts_the_workers) {
  scratch_dir scratch("startup-large");
  ASSERT_EQ(::mkdir((scratch / "src").c_str(), 0750), 0);
  for (int d = 0; d < 8; ++d) {
    const std::string dir = scratch / ("src/d" + std::to_string(d));
    ASSERT_EQ(::mkdir(dir.c_str(), 0750), 0);
    for (int i = 0; i < 100; ++i) write_filled_file(dir + "/f" + std::to_string(i), 512, 'c');
  }
  if (treecopy::default_jobs() < 2) GTEST_SKIP() << "one worker by default here";
  EXPECT_GT(threads_added(scratch / "src", scratch / "dst"), 0u);
}

}  // namespace
}  // namespace treecopy_test
