// Kill and resume: the treecopy CLI is killed with SIGKILL at seeded moments spread over the time
// a full copy takes, then run again with --update; each time DST must end up identical to SRC,
// entry by entry (content, modes, owners, times to the nanosecond, hard links, directory
// metadata), with no extra name left behind by the killed run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <thread>

#include "copiers.hpp"
#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

extern char** environ;

namespace treecopy_test {
namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::uint64_t corpus_seed = 20240611;
constexpr int kill_count = 24;
constexpr std::size_t mib = 1024 * 1024;

// Large files (one above the engine's 128 MiB threshold for chunked copies), thousands of small
// files, hard-link groups (one of them on a large file), symlinks and directories with their own
// modes and times.
void build_corpus(const std::string& root) {
  tree_maker m(root, corpus_seed);
  std::mt19937_64& rng = m.rng();
  static const mode_t dir_modes[] = {0755, 0700, 0750, 0555, 02775, 0711};
  std::vector<std::string> dirs{""};
  for (int i = 0; i < 60; ++i) {
    const std::string& parent = dirs[rng() % dirs.size()];
    std::string rel = (parent.empty() ? "" : parent + "/") + "d" + std::to_string(i);
    if (std::count(rel.begin(), rel.end(), '/') > 4) rel = "d" + std::to_string(i);
    m.dir(rel, dir_modes[rng() % std::size(dir_modes)]);
    dirs.push_back(rel);
  }
  auto in = [&](const std::string& d, const std::string& name) {
    return d.empty() ? name : d + "/" + name;
  };

  m.dir("big", 0750);
  const std::string block = m.random_bytes(mib);
  for (const auto& [name, size] :
       {std::pair{"b60", 60}, std::pair{"b100", 100}, std::pair{"b160", 160}}) {
    std::string content;
    content.reserve(static_cast<std::size_t>(size) * mib);
    for (int i = 0; i < size; ++i) {
      content += block;
      std::snprintf(content.data() + content.size() - mib, 32, "%s block %d", name, i);
    }
    m.file(std::string("big/") + name, content, 0640);
  }
  m.hardlink("big/b60", "big/b60.link");

  static const mode_t file_modes[] = {0644, 0600, 0755, 0444, 0640};
  std::vector<std::string> files;
  for (int i = 0; i < 3000; ++i) {
    const std::string rel = in(dirs[rng() % dirs.size()], "f" + std::to_string(i));
    m.file(rel, m.random_bytes(rng() % 16384), file_modes[rng() % std::size(file_modes)]);
    files.push_back(rel);
  }
  for (int i = 0; i < 150; ++i) {
    const std::string& target = files[rng() % files.size()];
    const int names = 1 + static_cast<int>(rng() % 2);
    for (int k = 0; k < names; ++k)
      m.hardlink(target,
                 in(dirs[rng() % dirs.size()], "h" + std::to_string(i) + "_" + std::to_string(k)));
  }
  for (int i = 0; i < 100; ++i)
    m.symlink(in(dirs[rng() % dirs.size()], "s" + std::to_string(i)),
              "../" + files[rng() % files.size()]);
  m.finish();
}

// The CLI started in the background; stdout and stderr go to /dev/null.
pid_t start_copy(const std::vector<std::string>& args) {
  std::vector<std::string> argv{cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) throw std::system_error(err, std::generic_category(), "posix_spawn " + argv[0]);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Waits until the copy started by start_copy() has created dst (its work begins there: process
// start-up, slow under sanitizers, is not part of it) and returns that moment; nullopt when the
// process ended first (its status is then in *status).
std::optional<clock_type::time_point> wait_until_writing(pid_t pid, const std::string& dst,
                                                         int* status) {
  for (;;) {
    if (entry_exists(dst)) return clock_type::now();
    const pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

std::vector<std::string> copy_args(const std::string& src, const std::string& dst, bool update) {
  std::vector<std::string> a{"--progress=none", "-q"};
  if (update) a.push_back("--update");
  a.push_back(src);
  a.push_back(dst);
  return a;
}

double seconds(clock_type::duration d) { return std::chrono::duration<double>(d).count(); }

// Copies src to dst and sets `full` to the time from DST's appearance to the moment DST's root gets
// SRC's mtime (directories are finalized last, so the copy is complete then); the process may take
// longer to exit (a sanitizer's exit-time work), which is not part of it.
void time_full_copy(const std::string& src, const std::string& dst, clock_type::duration& full) {
  const pid_t pid = start_copy(copy_args(src, dst, false));
  int status = 0;
  const auto t0 = wait_until_writing(pid, dst, &status);
  ASSERT_TRUE(t0.has_value()) << "the copy ended without creating DST, status " << status;
  struct stat src_st {};
  ASSERT_EQ(::stat(src.c_str(), &src_st), 0);
  auto done = clock_type::now();
  bool reaped = false;
  for (;;) {
    struct stat dst_st {};
    done = clock_type::now();
    if (::stat(dst.c_str(), &dst_st) == 0 && dst_st.st_mtim.tv_sec == src_st.st_mtim.tv_sec &&
        dst_st.st_mtim.tv_nsec == src_st.st_mtim.tv_nsec)
      break;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (!reaped) status = wait_for(pid);
  full = done - *t0;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST(resume_test, kill_at_random_moments_then_update) {
  if (cli_path().empty()) GTEST_SKIP() << "the treecopy CLI is not built";
  scratch_dir s("resume");
  const std::string src = s / "src", dst = s / "dst";
  const auto build_start = clock_type::now();
  build_corpus(src);
  const census c = count_entries(src);
  std::printf(
      "corpus: %llu directories, %llu other entries, %.0f MiB of file data (built in %.1f s)\n",
      static_cast<unsigned long long>(c.directories), static_cast<unsigned long long>(c.others),
      static_cast<double>(c.file_bytes) / mib, seconds(clock_type::now() - build_start));

  // The full copy time, measured from the moment DST appears, spans the kill moments: the
  // shortest of three copies, since a copy slowed by other loads would put most kills after the
  // end.
  clock_type::duration full = clock_type::duration::max();
  for (int round = 0; round < 3; ++round) {
    if (round > 0) remove_tree(dst);
    clock_type::duration t{};
    ASSERT_NO_FATAL_FAILURE(time_full_copy(src, dst, t));
    full = std::min(full, t);
  }
  ASSERT_TRUE(same_trees(src, dst));
  std::printf("full copy: %.3f s after DST appeared\n", seconds(full));

  std::mt19937_64 rng(corpus_seed);
  int killed = 0, unfinished = 0;
  for (int i = 0; i < kill_count; ++i) {
    remove_tree(dst);
    // Stratified: one moment drawn inside each of kill_count equal slices of [0, full].
    const double fraction = (i + static_cast<double>(rng() % 1000) / 1000.0) / kill_count;
    const auto moment = std::chrono::duration_cast<clock_type::duration>(full * fraction);
    const pid_t pid = start_copy(copy_args(src, dst, false));
    int status = 0;
    if (const auto start = wait_until_writing(pid, dst, &status)) {
      std::this_thread::sleep_until(*start + moment);
      ::kill(pid, SIGKILL);
      status = wait_for(pid);
    }
    const bool was_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    killed += was_killed;
    std::size_t differences = 0;
    if (entry_exists(dst)) {
      compare_options quick;
      quick.content = false;
      quick.xattrs = false;
      differences = compare_trees(src, dst, quick).size();
    }
    unfinished += differences > 0;

    const process_result resumed = run_treecopy(copy_args(src, dst, true));
    std::printf("kill %2d at %6.1f ms (%4.1f%%): %s, %zu entries unfinished; resume exit %d\n", i,
                seconds(moment) * 1000, fraction * 100, was_killed ? "killed" : "had finished",
                differences, resumed.exit_code);
    EXPECT_TRUE(exited_with(resumed, 0)) << "kill " << i;
    EXPECT_TRUE(same_trees(src, dst)) << "after kill " << i << " at " << seconds(moment) << " s";
    if (HasFailure()) break;
  }
  std::printf("%d of %d runs were killed before they finished; %d left DST unfinished\n", killed,
              kill_count, unfinished);
  EXPECT_GE(unfinished, kill_count / 2) << "too few kills landed inside the copy to test resuming";
}

// A resume that is itself killed, then resumed again: still identical.
TEST(resume_test, resume_killed_again_then_update) {
  if (cli_path().empty()) GTEST_SKIP() << "the treecopy CLI is not built";
  scratch_dir s("resume2");
  const std::string src = s / "src", dst = s / "dst";
  random_tree_options o;
  o.seed = 1002;
  o.files = 2000;
  o.directories = 80;
  build_random_tree(src, o);
  const auto t0 = clock_type::now();
  ASSERT_EQ(wait_for(start_copy(copy_args(src, dst, false))), 0);
  const auto full = clock_type::now() - t0;
  remove_tree(dst);
  for (int round = 0; round < 3; ++round) {
    const pid_t pid = start_copy(copy_args(src, dst, round > 0));
    std::this_thread::sleep_for(full / 3);
    ::kill(pid, SIGKILL);
    wait_for(pid);
  }
  EXPECT_TRUE(exited_with(run_treecopy(copy_args(src, dst, true)), 0));
  EXPECT_TRUE(same_trees(src, dst));
}

}  // namespace
}  // namespace treecopy_test
