// A copy keeps to its own task arena: it changes no process-wide setting of oneTBB, and still runs
// with every worker it was given, more than there are cores.
#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>
#include <thread>

#include "process.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test {
namespace {

// Reads, from inside the copy (on_entry runs on its workers), TBB's process-wide parallelism
// ceiling and how many threads the process has.
class arena_watch final : public treecopy::copy_observer {
 public:
  bool wants_entries() const override { return true; }
  void on_entry(treecopy::entry_kind, std::string_view) override {
    const auto ceiling =
        tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
    std::size_t seen = max_ceiling.load();
    while (ceiling > seen && !max_ceiling.compare_exchange_weak(seen, ceiling)) {
    }
    if (entries.fetch_add(1) % 64 != 0) return;
    const std::size_t threads = thread_count();
    std::size_t most = max_threads.load();
    while (threads > most && !max_threads.compare_exchange_weak(most, threads)) {
    }
  }
  std::atomic<std::size_t> max_ceiling{0};
  std::atomic<std::size_t> max_threads{0};
  std::atomic<std::size_t> entries{0};
};

TEST(arena, more_workers_than_cores_change_no_process_wide_setting) {
  scratch_dir scratch("arena-ceiling");
  random_tree_options o;
  o.seed = 7;
  o.files = 2000;
  build_random_tree(scratch / "src", o);
  const std::size_t ceiling_before =
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  treecopy::copy_options options;
  options.jobs = cores + 4;
  arena_watch watch;
  const treecopy::copy_report rep =
      treecopy::copy_tree(scratch / "src", scratch / "dst", options, &watch);
  EXPECT_TRUE(rep.ok());
  EXPECT_TRUE(same_trees(scratch / "src", scratch / "dst"));
  ASSERT_GT(watch.entries.load(), 0u);
  EXPECT_EQ(watch.max_ceiling.load(), ceiling_before) << "the copy raised TBB's global ceiling";
  // The calling thread and jobs - 1 others run the copy (other threads of the process only add).
  EXPECT_GE(watch.max_threads.load(), std::size_t{options.jobs});
}

}  // namespace
}  // namespace treecopy_test
