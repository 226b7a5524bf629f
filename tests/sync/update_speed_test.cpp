// How fast a no-op --update is: the 100,000-small-file benchmark corpus (scripts/make-corpus.py
// small) is copied with the CLI, then copied again with --update. The second run must write
// nothing (its JSON summary says so) and its time, and the ratio to the full copy, are printed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "copiers.hpp"
#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"

namespace treecopy_test {
namespace {

double timed_seconds(const std::vector<std::string>& args, process_result& out) {
  const auto t0 = std::chrono::steady_clock::now();
  out = run_treecopy(args);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(update_speed_test, noop_update_of_100k_small_files) {
  scratch_dir s("upd-speed");
  const process_result made =
      run_process({"python3", TREECOPY_CORPUS_SCRIPT, "small", s / "src", "--seed", "7"});
  ASSERT_TRUE(exited_with(made, 0));
  const census c = count_entries(s / "src");

  process_result full, noop;
  const double full_s = timed_seconds({"--progress=none", "-q", s / "src", s / "dst"}, full);
  ASSERT_TRUE(exited_with(full, 0));
  double best = 1e9;
  for (int run = 0; run < 2; ++run) {
    const double t =
        timed_seconds({"--progress=none", "-q", "--json", "--update", s / "src", s / "dst"}, noop);
    ASSERT_TRUE(exited_with(noop, 0));
    best = std::min(best, t);
    EXPECT_NE(noop.out.find("\"file\":0,"), std::string::npos) << noop.out;
    EXPECT_NE(noop.out.find("\"bytes\":0,"), std::string::npos) << noop.out;
    EXPECT_NE(noop.out.find("\"skipped\":" + std::to_string(c.others) + ","), std::string::npos)
        << "expected " << c.others << " skipped\n"
        << noop.out;
  }
  std::printf("corpus: %llu files in %llu directories\n", static_cast<unsigned long long>(c.others),
              static_cast<unsigned long long>(c.directories));
  std::printf("full copy %.3f s; no-op --update %.3f s; ratio %.3f\n", full_s, best, best / full_s);
  RecordProperty("noop_update_ratio", std::to_string(best / full_s));
  // The corpus script gives files atimes in the past, so the first copy's reads move the source's
  // atimes (relatime) after their values were copied: atimes are left out here for that reason.
  compare_options o;
  o.atime = false;
  EXPECT_TRUE(same_trees(s / "src", s / "dst", o));
}

}  // namespace
}  // namespace treecopy_test
