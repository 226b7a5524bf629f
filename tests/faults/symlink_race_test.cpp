// Symlink attacks on the destination: while a copy runs, an attacker thread swaps destination
// directories (and freshly created special files) with symlinks that point outside DST. Whatever
// the timing, treecopy must never create, write or change anything outside DST. The attack is
// repeated over many rounds because each round only hits some windows.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test::faults {
namespace {

constexpr int top_dirs = 24;
constexpr int rounds = 20;

int exchange(const std::string& a, const std::string& b) {
  return static_cast<int>(
      ::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE));
}

// A world-writable directory outside DST that mirrors DST's names, so that a copier that followed
// a planted symlink anywhere would succeed in writing there (and be caught).
void build_outside(const std::string& outside) {
  ASSERT_EQ(::mkdir(outside.c_str(), 0777), 0);
  for (const char* d : {"/a", "/a/b", "/a/b/c"}) ASSERT_EQ(::mkdir((outside + d).c_str(), 0777), 0);
  ASSERT_EQ(::chmod(outside.c_str(), 0777), 0);
  write_pattern_file(outside + "/victim", 10, 1);
  ASSERT_EQ(::chmod((outside + "/victim").c_str(), 0600), 0);
}

class symlink_race_test : public testing::Test {
 protected:
  void SetUp() override {
    build_outside(outside_);
    tree_maker m(src_, 61);
    for (int d = 0; d < top_dirs; ++d) {
      const std::string top = "d" + std::to_string(d);
      m.dir(top, 0755);
      m.dir(top + "/a", 0755);
      m.dir(top + "/a/b", 0755);
      m.dir(top + "/a/b/c", 0755);
      for (const std::string& dir : {top, top + "/a", top + "/a/b", top + "/a/b/c"}) {
        for (int f = 0; f < 12; ++f)
          m.file(dir + "/f" + std::to_string(f), m.random_bytes(8192), 0644);
        // Mode 0666 is not what the umask gives a new entry, so the copier sets it explicitly.
        m.special(dir + "/fifo", S_IFIFO, 0666);
        m.symlink(dir + "/victim", "../victim");
      }
    }
    m.finish();
    outside_before_ = snapshot_tree(outside_);
  }

  // Swaps directories of dst with symlinks to outside (and back) until stopped.
  void attack(const std::string& dst, std::atomic<bool>& stop, std::atomic<long>& swaps,
              unsigned seed) {
    std::mt19937 rng(seed);
    const char* levels[] = {"", "/a", "/a/b", "/a/b/c"};
    while (!stop.load()) {
      const std::string base = dst + "/d" + std::to_string(rng() % top_dirs) + levels[rng() % 4];
      const std::string bait = base + ".bait";
      // The bait is a symlink to the outside directory of the same depth, or to the victim file.
      const bool file_bait = rng() % 3 == 0;
      const std::string target = file_bait ? outside_ + "/victim" : outside_;
      if (::symlink(target.c_str(), bait.c_str()) != 0 && errno != EEXIST) {
        std::this_thread::yield();
        continue;
      }
      if (file_bait) {
        // Replace an entry of the directory (a FIFO or file being created) with the link.
        const std::string victim = base + (rng() % 2 ? "/fifo" : "/f" + std::to_string(rng() % 12));
        if (::rename(bait.c_str(), victim.c_str()) == 0) swaps.fetch_add(1);
        continue;
      }
      if (exchange(base, bait) == 0) {
        swaps.fetch_add(1);
        std::this_thread::yield();
        exchange(base, bait);  // and back, so later entries meet the real directory again
      }
    }
  }

  // Runs the CLI with args while attack() works on dst, checks that it ended normally and that
  // nothing outside DST changed; returns the swaps the attacker made.
  long copy_under_attack(const std::string& dst, unsigned seed,
                         const std::vector<std::string>& args,
                         const process_options& options = {}) {
    std::atomic<bool> stop{false};
    std::atomic<long> swaps{0};
    std::thread attacker([&] { attack(dst, stop, swaps, seed); });
    const auto r = run_treecopy_limited(args, 120, options);
    stop.store(true);
    attacker.join();
    EXPECT_FALSE(hung(r)) << r.describe();
    EXPECT_EQ(r.signal, 0) << r.describe();
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.describe();
    expect_outside_untouched();
    return swaps.load();
  }

  void expect_outside_untouched() {
    EXPECT_EQ(snapshot_tree(outside_), outside_before_) << "something was written outside DST";
    struct stat st {};
    ASSERT_EQ(::stat((outside_ + "/victim").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u)
        << "the victim's mode was changed through a planted symlink";
  }

  scratch_dir scratch_{"symrace"};
  std::string src_ = scratch_ / "src";
  std::string outside_ = scratch_ / "outside";
  std::vector<std::string> outside_before_;
};

TEST_F(symlink_race_test, swapped_directories_never_lead_outside) {
  long total_swaps = 0;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string dst = scratch_ / ("dst" + std::to_string(round));
    total_swaps += copy_under_attack(dst, static_cast<unsigned>(round),
                                     {"-q", "-j", round % 2 ? "2" : "8", src_, dst});
    if (HasFailure()) break;
    remove_tree(dst);
  }
  std::printf("symlink swaps made: %ld\n", total_swaps);
  EXPECT_GT(total_swaps, 0) << "the attack never got in: the test proved nothing";
}

// The same attack on a --merge into an existing DST whose directories already exist, so that the
// copier opens them by name and reopens them by path after closing descriptors.
TEST_F(symlink_race_test, merge_into_existing_tree_never_leads_outside) {
  const std::string dst = scratch_ / "dst";
  const auto first = run_treecopy_limited({"-q", src_, dst}, 120);
  ASSERT_TRUE(exited_with(first, 0));
  long total_swaps = 0;
  for (int round = 0; round < rounds / 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    total_swaps += copy_under_attack(dst, 1000u + static_cast<unsigned>(round),
                                     {"-q", "--merge", "-j", "4", src_, dst}, nofile(64));
    if (HasFailure()) break;
  }
  EXPECT_GT(total_swaps, 0);
}

// Special files get their mode by name (they cannot be opened). An attacker who renames a symlink
// over each FIFO's name right after it is created must not make that chmod land on the symlink's
// target outside DST.
TEST(symlink_race, special_file_mode_never_follows_a_planted_symlink) {
  scratch_dir s("fifo-race");
  const std::string src = s / "src", outside = s / "outside";
  constexpr int fifos = 3000;
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int i = 0; i < fifos; ++i) {
    const std::string p = src + "/p" + std::to_string(i);
    ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0);
    ASSERT_EQ(::chmod(p.c_str(), 0666), 0);  // not what the umask gives: the copier must chmod
  }
  build_outside(outside);
  long planted = 0;
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string dst = s / ("dst" + std::to_string(round));
    std::atomic<bool> stop{false};
    std::thread attacker([&] {
      for (long k = 0; !stop.load(); ++k) {
        const std::string bait = dst + "/.bait" + std::to_string(k);
        if (::symlink((outside + "/victim").c_str(), bait.c_str()) != 0) continue;
        const std::string name = dst + "/p" + std::to_string(k % fifos);
        if (::rename(bait.c_str(), name.c_str()) == 0) ++planted;
      }
    });
    const auto r = run_treecopy_limited({"-q", "-j", "2", src, dst}, 120);
    stop.store(true);
    attacker.join();
    ASSERT_FALSE(hung(r)) << r.describe();
    struct stat st {};
    ASSERT_EQ(::stat((outside + "/victim").c_str(), &st), 0);
    ASSERT_EQ(st.st_mode & 07777, 0600u) << "chmod followed a planted symlink out of DST";
  }
  EXPECT_GT(planted, 0);
}

}  // namespace
}  // namespace treecopy_test::faults
