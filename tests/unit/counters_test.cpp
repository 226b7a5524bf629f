// The copy's counters that every worker bumps for every file (engine::spread_counter): spread over
// cells, read as one sum. Threads adding at once must lose nothing, and a reader that samples while
// they add (the progress sampler) must never see a sum go down.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "engine/context.hpp"

namespace treecopy_test {
namespace {

TEST(spread_counter, threads_adding_at_once_lose_nothing_and_the_sum_never_goes_down) {
  treecopy::engine::spread_counter counter;
  constexpr unsigned threads = 9;  // more than the cells: some share one
  constexpr std::uint64_t adds = 20000;
  std::atomic<bool> done{false};
  std::uint64_t went_down = 0, samples = 0;
  std::thread reader([&] {
    std::uint64_t last = 0;
    while (!done.load()) {
      const std::uint64_t now = counter.load(std::memory_order_relaxed);
      if (now < last) ++went_down;
      last = now;
      ++samples;
    }
  });
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t)
    workers.emplace_back([&counter, t] {
      for (std::uint64_t i = 0; i < adds; ++i) {
        // Half through fetch_add, half through the cell a copy_control would be given.
        if ((i + t) % 2 == 0)
          counter.fetch_add(3, std::memory_order_relaxed);
        else
          counter.local().fetch_add(3, std::memory_order_relaxed);
      }
    });
  for (auto& w : workers) w.join();
  done.store(true);
  reader.join();
  EXPECT_EQ(counter.load(), threads * adds * 3);
  EXPECT_EQ(went_down, 0u) << "of " << samples << " samples";
}

TEST(spread_counter, a_fresh_counter_reads_zero) {
  treecopy::engine::spread_counter counter;
  EXPECT_EQ(counter.load(), 0u);
  counter.fetch_add(5);
  EXPECT_EQ(counter.load(), 5u);
}

}  // namespace
}  // namespace treecopy_test
