// treecopy-mpi with 1, 2 and 4 ranks on this machine: the copy must be what cp -a (and treecopy)
// make, bit for bit, whichever rank copies what: hard-link groups whose names different ranks
// meet, one huge directory beside one deep chain, bad input (exit 2 on every rank, nothing
// created), an unreadable file as an unprivileged user (exit 1, the path told once), and a job
// killed mid-copy that a run with --update completes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "copiers.hpp"
#include "fault_support.hpp"
#include "mpi_run.hpp"
#include "process.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"

namespace treecopy_test {
namespace {

using faults::as_uid;
using faults::hung;
using faults::parse_error_lines;

class mpi_ranks : public testing::TestWithParam<int> {};

TEST_P(mpi_ranks, full_tree_equals_cp) {
  scratch_dir dir("mpi-fidelity");
  build_full_tree(dir / "src");
  const process_result cp = run_cp(dir / "src", dir / "cp");
  ASSERT_TRUE(cp_ok_except_long_paths(cp)) << cp.describe();
  const process_result r = run_mpi(GetParam(), {"-j", "2", dir / "src", dir / "dst"});
  EXPECT_TRUE(exited_with(r, 0));
  compare_options c = against("cp -a");
  c.atime = c.directory_atime = true;
  c.ignore = {full_tree::long_path_dir};
  EXPECT_TRUE(same_trees(dir / "cp", dir / "dst", c));
  compare_options s = against("source");
  s.atime = s.directory_atime = true;
  EXPECT_TRUE(same_trees(dir / "src", dir / "dst", s));
}

// 24 directories of 150 files, ranks of one worker each: the ranks take directories from each
// other. Each group of hard links has a name in three directories far apart.
TEST_P(mpi_ranks, hard_link_groups_across_directories) {
  scratch_dir dir("mpi-links");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  constexpr int dirs = 24;
  for (int d = 0; d < dirs; ++d) {
    const std::string sub = src + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((sub + "/inner").c_str(), 0750), 0);
    for (int f = 0; f < 150; ++f)
      write_file(sub + "/inner/f" + std::to_string(f), std::string(f * 37 % 5000, 'a' + d % 26));
  }
  for (int g = 0; g < 40; ++g) {
    const std::string first = src + "/d" + std::to_string(g % dirs) + "/link" + std::to_string(g);
    write_file(first, "group " + std::to_string(g));
    for (int k : {7, 13}) {
      const std::string other =
          src + "/d" + std::to_string((g + k) % dirs) + "/inner/also" + std::to_string(g);
      ASSERT_EQ(::link(first.c_str(), other.c_str()), 0);
    }
  }
  ASSERT_TRUE(exited_with(run_cp(src, dir / "cp"), 0));
  const process_result r = [&] {
    ::setenv("TREECOPY_MPI_STATS", "1", 1);
    process_result out = run_mpi(GetParam(), {"-j", "1", src, dir / "dst"});
    ::unsetenv("TREECOPY_MPI_STATS");
    return out;
  }();
  EXPECT_TRUE(exited_with(r, 0));
  if (GetParam() > 1) {
    EXPECT_GT(units_handed_off(r), 0) << r.err;
  }
  EXPECT_TRUE(same_trees(dir / "cp", dir / "dst", against("cp -a")));
  // The summary counts what treecopy counts: one file per group, the other names as links.
  EXPECT_NE(r.err.find("80 hard links"), std::string::npos) << r.err;
}

// One directory of 20,000 files and a chain 400 directories deep: no rank waits forever for
// work that the others cannot give, and the job ends.
TEST_P(mpi_ranks, huge_directory_and_deep_chain) {
  scratch_dir dir("mpi-shapes");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((src + "/flat").c_str(), 0755), 0);
  for (int f = 0; f < 20000; ++f) write_file(src + "/flat/" + std::to_string(f), "x");
  std::string deep = src + "/deep";
  for (int d = 0; d < 400; ++d) {
    ASSERT_EQ(::mkdir(deep.c_str(), 0755), 0);
    write_file(deep + "/file", std::to_string(d));
    deep += "/d";
  }
  const process_result r = run_mpi(GetParam(), {"-j", "1", src, dir / "dst"}, 240);
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(same_trees(src, dir / "dst", against("source")));
}

// One flat directory of 20,000 files, some hard-linked to each other and to a name elsewhere, some
// symlinks: the rank that lists it hands batches of its files to the other ranks, and the copy is
// cp -a's. Then, changes on both sides and --update --delete: what DST has beyond SRC goes (the
// lister's --delete saw the whole listing), what changed is copied again.
TEST_P(mpi_ranks, huge_directory_shared_by_ranks) {
  if (GetParam() == 1 || GetParam() == 8) GTEST_SKIP() << "2 and 4 ranks show it";
  scratch_dir dir("mpi-flat");
  const std::string src = dir / "src", flat = src + "/flat";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(flat.c_str(), 0750), 0);
  ASSERT_EQ(::mkdir((src + "/other").c_str(), 0755), 0);
  for (int f = 0; f < 20000; ++f) {
    const std::string name = flat + "/f" + std::to_string(f);
    write_file(name, std::string(f % 300, static_cast<char>('a' + f % 26)));
    if (f % 3 == 0) {
      ASSERT_EQ(::chmod(name.c_str(), 0600), 0);
    }
    if (f % 1000 == 0) {
      ASSERT_EQ(::symlink(("f" + std::to_string(f)).c_str(), (name + ".lnk").c_str()), 0);
    }
  }
  for (int g = 0; g < 20; ++g) {
    const std::string first = flat + "/f" + std::to_string(g * 997);
    ASSERT_EQ(::link(first.c_str(), (flat + "/h" + std::to_string(g)).c_str()), 0);
    ASSERT_EQ(::link(first.c_str(), (src + "/other/h" + std::to_string(g)).c_str()), 0);
  }
  ASSERT_TRUE(exited_with(run_cp(src, dir / "cp"), 0));
  const auto run_with_stats = [&](std::vector<std::string> args) {
    ::setenv("TREECOPY_MPI_STATS", "1", 1);
    process_result out = run_mpi(GetParam(), args, 240);
    ::unsetenv("TREECOPY_MPI_STATS");
    return out;
  };
  const process_result r = run_with_stats({"-j", "1", src, dir / "dst"});
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_GE(ranks_that_copied_batches(r), 1) << r.err;
  EXPECT_NE(r.err.find("40 hard links"), std::string::npos) << r.err;
  EXPECT_TRUE(same_trees(dir / "cp", dir / "dst", against("cp -a")));

  write_file(flat + "/f5", "changed, and longer than before");
  ASSERT_EQ(::unlink((flat + "/f7").c_str()), 0);
  ASSERT_EQ(::unlink((flat + "/h3").c_str()), 0);
  for (int e = 0; e < 50; ++e) write_file(dir / ("dst/flat/extra" + std::to_string(e)), "x");
  const process_result u = run_with_stats({"-j", "1", "--update", "--delete", src, dir / "dst"});
  EXPECT_TRUE(exited_with(u, 0));
  EXPECT_TRUE(same_trees(src, dir / "dst", against("source")));
}

// Bad input: every rank exits 2, one message (rank 0's), nothing created.
TEST_P(mpi_ranks, bad_input_exits_2_on_every_rank) {
  scratch_dir dir("mpi-bad");
  const process_result missing = run_mpi(GetParam(), {dir / "nothing", dir / "dst"}, 120);
  EXPECT_TRUE(exited_with(missing, 2));
  // One line of treecopy's (mpiexec adds its own note about the exit code).
  long ours = 0;
  for (const std::string& line : split_lines(missing.err))
    ours += line.starts_with("treecopy") ? 1 : 0;
  EXPECT_EQ(ours, 1) << missing.err;
  EXPECT_NE(::access((dir / "dst").c_str(), F_OK), 0);

  ASSERT_EQ(::mkdir((dir / "src").c_str(), 0755), 0);
  write_file(dir / "src/f", "data");
  const process_result into = run_mpi(GetParam(), {dir / "src", dir / "src/sub"}, 120);
  EXPECT_TRUE(exited_with(into, 2));
  EXPECT_NE(::access((dir / "src/sub").c_str(), F_OK), 0);

  const process_result option = run_mpi(GetParam(), {"--no-such-option", dir / "src", dir / "d"});
  EXPECT_TRUE(exited_with(option, 2));
  EXPECT_NE(::access((dir / "d").c_str(), F_OK), 0);
}

// As nobody: a file it cannot read fails that file only; exit 1 and its path in rank 0's output.
TEST_P(mpi_ranks, unreadable_file_as_nobody) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run as uid 65534";
  scratch_dir dir("mpi-unreadable");
  dir.give_to(65534);
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < 8; ++d) {
    const std::string sub = src + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
    for (int f = 0; f < 50; ++f) write_file(sub + "/f" + std::to_string(f), "data");
  }
  write_file(src + "/d5/secret", "hidden");
  ASSERT_EQ(::chmod((src + "/d5/secret").c_str(), 0), 0);
  const process_result r = run_mpi(GetParam(), {"-j", "1", src, dir / "dst"}, 300, as_uid(65534));
  EXPECT_TRUE(exited_with(r, 1));
  const auto lines = parse_error_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].path, src + "/d5/secret");
  compare_options c = against("source");
  c.owner = false;
  c.ignore = {"d5/secret"};
  EXPECT_TRUE(same_trees(src, dir / "dst", c));
}

// Every rank killed mid-copy (mpiexec stopped by a signal), then --update: the copy is complete
// and exact.
TEST_P(mpi_ranks, killed_then_update_completes) {
  scratch_dir dir("mpi-kill");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < 40; ++d) {
    const std::string sub = src + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(sub.c_str(), 0700 + d % 2 * 55), 0);
    for (int f = 0; f < 400; ++f)
      write_file(sub + "/f" + std::to_string(f), std::string(4096 + f, 'a' + f % 26));
  }
  ASSERT_EQ(::link((src + "/d1/f1").c_str(), (src + "/d30/f1-link").c_str()), 0);
  const process_result killed = run_mpi(GetParam(), {"-j", "1", src, dir / "dst"}, 1);
  if (!hung(killed)) std::cout << "[ note ] the copy finished before it could be killed\n";
  const process_result r = run_mpi(GetParam(), {"--update", src, dir / "dst"});
  EXPECT_TRUE(exited_with(r, 0));
  compare_options c = against("source");
  EXPECT_TRUE(same_trees(src, dir / "dst", c));
}

// SIGTERM to the last rank only, mid-copy: every rank stops (the job ends, not killed by a time
// limit), rank 0 says the copy was stopped by SIGTERM and exits with 143 as treecopy does, and
// --update completes it.
TEST_P(mpi_ranks, signal_on_one_rank_stops_all) {
  if (GetParam() < 2) GTEST_SKIP() << "one rank: the plain signal case of treecopy";
  scratch_dir dir("mpi-signal");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < 40; ++d) {
    const std::string sub = src + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
    for (int f = 0; f < 1000; ++f)
      write_file(sub + "/f" + std::to_string(f), std::string(4096, 'x'));
  }
  // The ranks are mpiexec's children: the newest one gets the signal once the copy runs.
  std::string cmd = std::string(TREECOPY_MPIEXEC) + " --oversubscribe -np " +
                    std::to_string(GetParam()) +
                    (::geteuid() == 0 ? " --allow-run-as-root " : " ") + TREECOPY_MPI + " -j 1 " +
                    src + " " + (dir / "dst") + " & job=$!; " + "while [ ! -d " + (dir / "dst/d0") +
                    " ] && kill -0 $job 2>/dev/null; do sleep 0.02; done; " +
                    "kill -TERM $(pgrep -P $job | tail -1); wait $job";
  const process_result r = run_process({"timeout", "-k", "10", "120", "bash", "-c", cmd});
  ASSERT_FALSE(hung(r)) << r.describe();
  if (r.exit_code == 0) {
    std::cout << "[ note ] the copy finished before the signal\n";
  } else {
    // The job's exit status is treecopy's for that signal (128 + SIGTERM), and so is its summary.
    EXPECT_TRUE(exited_with(r, 128 + SIGTERM)) << r.describe();
    EXPECT_NE(r.err.find("stopped by SIGTERM"), std::string::npos) << r.describe();
  }
  const process_result u = run_mpi(GetParam(), {"--update", src, dir / "dst"});
  EXPECT_TRUE(exited_with(u, 0));
  EXPECT_TRUE(same_trees(src, dir / "dst", against("source")));
}

// The counters of the last progress event of --progress=json (entries found, entries done).
std::pair<long, long> last_progress(const process_result& r) {
  static const std::regex re("\"entries_found\":([0-9]+),\"entries_done\":([0-9]+)");
  std::pair<long, long> last{-1, -1};
  for (const std::string& line : split_lines(r.err)) {
    std::smatch m;
    if (line.find("\"event\":\"progress\"") != std::string::npos && std::regex_search(line, m, re))
      last = {std::stol(m[1]), std::stol(m[2])};
  }
  return last;
}

// --progress=json on rank 0 tells the progress of every rank: events while the copy runs, their
// counts never going back nor beyond the tree, and a last event with the tree's exact totals, as
// treecopy's (units and batches of a huge directory handed to other ranks counted once).
TEST_P(mpi_ranks, progress_summed_over_ranks) {
  scratch_dir dir("mpi-progress");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < 30; ++d) {
    const std::string sub = src + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
    for (int f = 0; f < 1000; ++f)
      write_file(sub + "/f" + std::to_string(f), std::string(4096, 'p'));
  }
  ASSERT_EQ(::mkdir((src + "/huge").c_str(), 0755), 0);
  for (int f = 0; f < 6000; ++f) write_file(src + "/huge/f" + std::to_string(f), "h");
  const process_result r = run_mpi(
      GetParam(), {"-j", "1", "--progress=json", "--progress-interval", "0.1", src, dir / "dst"});
  EXPECT_TRUE(exited_with(r, 0));
  constexpr long total = 30 * 1000 + 31 + 6001;
  long events = 0, last_done = 0;
  static const std::regex done_re("\"entries_done\":([0-9]+)");
  for (const std::string& line : split_lines(r.err)) {
    if (line.find("\"event\":\"progress\"") == std::string::npos) continue;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, done_re)) << line;
    const long done = std::stol(m[1]);
    EXPECT_GE(done, last_done) << line;
    EXPECT_LE(done, total) << line;
    last_done = done;
    ++events;
  }
  EXPECT_GT(events, 0) << r.err;
  EXPECT_GT(last_done, 0) << r.err;
  const process_result t =
      run_treecopy({"-j", "1", "--progress=json", "--progress-interval", "0.1", src, dir / "tc"});
  EXPECT_TRUE(exited_with(t, 0));
  EXPECT_EQ(last_progress(t), std::make_pair(total, total)) << t.err;
  EXPECT_EQ(last_progress(r), last_progress(t));
  EXPECT_TRUE(same_trees(src, dir / "dst", against("source")));
}

// The last progress event counts the bytes of large files copied in chunks after the walk, as
// treecopy's counts them: its entries and bytes are the summary's.
TEST_P(mpi_ranks, last_progress_counts_chunked_files) {
  if (GetParam() != 2) GTEST_SKIP() << "2 ranks show it";
  scratch_dir dir("mpi-progress-chunks");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int f = 0; f < 10; ++f) write_file(src + "/f" + std::to_string(f), std::string(1000, 'p'));
  ASSERT_EQ(::mkdir((src + "/sub").c_str(), 0755), 0);
  write_file(src + "/sub/large", faults::pattern_bytes(160 << 20, 7));  // 5 chunks
  const std::vector<std::string> args = {"-j", "1", "--progress=json", "--progress-interval",
                                         "0.1"};
  auto last_event = [](const process_result& r) {
    static const std::regex re("\"entries_done\":([0-9]+).*\"bytes_done\":([0-9]+)");
    std::string last = "none";
    for (const std::string& line : split_lines(r.err)) {
      std::smatch m;
      if (line.find("\"event\":\"progress\"") != std::string::npos &&
          std::regex_search(line, m, re))
        last = m[1].str() + " entries, " + m[2].str() + " bytes";
    }
    return last;
  };
  std::vector<std::string> mpi = args, tc = args;
  mpi.insert(mpi.end(), {src, dir / "dst"});
  tc.insert(tc.end(), {src, dir / "tc"});
  const process_result r = run_mpi(GetParam(), mpi);
  const process_result t = run_treecopy(tc);
  EXPECT_TRUE(exited_with(r, 0));
  EXPECT_TRUE(exited_with(t, 0));
  EXPECT_EQ(last_event(t), "13 entries, " + std::to_string((160 << 20) + 10 * 1000) + " bytes");
  EXPECT_EQ(last_event(r), last_event(t)) << r.err;
  EXPECT_TRUE(same_trees(src, dir / "dst", against("source")));
}

// As nobody, directories it cannot read, some handed to another rank: each is created empty with
// its mode and reported, as treecopy does (the same tree, the same errors, exit 1).
TEST_P(mpi_ranks, unreadable_directories_as_nobody) {
  if (GetParam() != 2) GTEST_SKIP() << "2 ranks show it";
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run as uid 65534";
  scratch_dir dir("mpi-unreadable-dirs");
  dir.give_to(65534);
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  std::vector<std::string> locked;
  for (int d = 0; d < 8; ++d) {
    const std::string top = src + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(top.c_str(), 0755), 0);
    for (int s = 0; s < 8; ++s) {
      const std::string sub = top + "/s" + std::to_string(s);
      ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
      for (int f = 0; f < 20; ++f) write_file(sub + "/f" + std::to_string(f), "data");
      if (s % 2) locked.push_back(sub);
    }
  }
  for (const std::string& p : locked) ASSERT_EQ(::chmod(p.c_str(), 0), 0);
  const process_result t = run_treecopy({"-j", "1", src, dir / "tc"}, as_uid(65534));
  EXPECT_TRUE(exited_with(t, 1));
  const process_result r = [&] {
    ::setenv("TREECOPY_MPI_STATS", "1", 1);
    process_result out = run_mpi(2, {"-j", "1", src, dir / "dst"}, 300, as_uid(65534));
    ::unsetenv("TREECOPY_MPI_STATS");
    return out;
  }();
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_GT(units_handed_off(r), 0) << r.err;
  std::vector<std::string> want, got;
  for (const auto& l : parse_error_lines(t.err)) want.push_back(l.path);
  for (const auto& l : parse_error_lines(r.err)) got.push_back(l.path);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want) << r.err;
  EXPECT_EQ(want, locked);
  compare_options c = against("treecopy");
  c.owner = false;
  EXPECT_TRUE(same_trees(dir / "tc", dir / "dst", c));
}

// -v: rank 0 lists every entry of every rank, the same lines as treecopy's (in another order).
TEST_P(mpi_ranks, verbose_lists_every_rank_entries) {
  scratch_dir dir("mpi-verbose");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < 16; ++d) {
    const std::string sub = src + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
    for (int f = 0; f < 200; ++f) write_file(sub + "/f" + std::to_string(f), "v");
  }
  const process_result a = run_treecopy({"-v", src, dir / "out"});
  ASSERT_TRUE(exited_with(a, 0));
  ASSERT_EQ(::rename((dir / "out").c_str(), (dir / "tc").c_str()), 0);
  const process_result b = run_mpi(GetParam(), {"-j", "1", "-v", src, dir / "out"});
  EXPECT_TRUE(exited_with(b, 0));
  std::vector<std::string> la = split_lines(a.out), lb = split_lines(b.out);
  std::sort(la.begin(), la.end());
  std::sort(lb.begin(), lb.end());
  EXPECT_EQ(la.size(), 16u * 200 + 17);
  EXPECT_EQ(la, lb);
}

// A file of 300 MiB, holes and data, copied in chunks by every rank: bytes, holes, mode and
// times as the source's.
TEST_P(mpi_ranks, large_sparse_file_in_chunks) {
  scratch_dir dir("mpi-large");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((src + "/sub").c_str(), 0750), 0);
  write_file(src + "/small", "small");
  {
    const int fd = ::open((src + "/sub/large").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0640);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 300 << 20), 0);
    for (off_t at : {off_t{0}, off_t{50} << 20, (off_t{100} << 20) + 12345, off_t{299} << 20}) {
      const std::string data = faults::pattern_bytes(1 << 20, static_cast<unsigned>(at));
      ASSERT_EQ(::pwrite(fd, data.data(), data.size(), at), static_cast<ssize_t>(data.size()));
    }
    ASSERT_EQ(::close(fd), 0);
  }
  ::setenv("TREECOPY_MPI_STATS", "1", 1);
  const process_result r = run_mpi(GetParam(), {src, dir / "dst"});
  ::unsetenv("TREECOPY_MPI_STATS");
  EXPECT_TRUE(exited_with(r, 0));
  compare_options c = against("source");
  EXPECT_TRUE(same_trees(src, dir / "dst", c));
  if (GetParam() > 1) {
    // 10 chunks of 32 MiB, spread over every rank.
    EXPECT_NE(r.err.find("chunks 10, ranks that copied chunks " + std::to_string(GetParam())),
              std::string::npos)
        << r.err;
  }
}

// Filters, --update --delete after the source changed, and --dry-run do what treecopy does, and
// the --json summary counts the same.
TEST_P(mpi_ranks, options_as_treecopy) {
  scratch_dir dir("mpi-options");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < 12; ++d) {
    const std::string sub = src + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
    for (int f = 0; f < 60; ++f) {
      write_file(sub + "/f" + std::to_string(f) + (f % 5 == 0 ? ".o" : ".c"),
                 std::string(100 + f, 'a' + d));
    }
  }
  const std::vector<std::string> filters = {"--exclude", "*.o", "-j", "1", "--json"};
  auto both = [&](std::vector<std::string> args) {
    std::vector<std::string> tc = args, mpi = args;
    tc.insert(tc.end(), {src, dir / "tc"});
    mpi.insert(mpi.end(), {src, dir / "mpi"});
    const process_result a = run_treecopy(tc);
    const process_result b = run_mpi(GetParam(), mpi);
    EXPECT_EQ(a.exit_code, b.exit_code) << b.describe();
    EXPECT_EQ(json_counts(a.out), json_counts(b.out)) << b.describe();
    EXPECT_TRUE(same_trees(dir / "tc", dir / "mpi", against("treecopy")));
  };
  both(filters);

  // The source changes: files rewritten, removed, added; a directory goes.
  for (int d = 0; d < 12; d += 3) write_file(src + "/d" + std::to_string(d) + "/f1.c", "changed");
  for (int d = 1; d < 12; d += 4)
    ASSERT_EQ(::unlink((src + "/d" + std::to_string(d) + "/f2.c").c_str()), 0);
  write_file(src + "/d7/new.c", "new");
  for (int f = 0; f < 60; ++f)
    ASSERT_EQ(::unlink((src + "/d11/f" + std::to_string(f) + (f % 5 == 0 ? ".o" : ".c")).c_str()),
              0);
  ASSERT_EQ(::rmdir((src + "/d11").c_str()), 0);

  std::vector<std::string> dry = {"--dry-run", "--update", "--delete"};
  dry.insert(dry.end(), filters.begin(), filters.end());
  both(dry);  // changes nothing: both still hold the first copy
  std::vector<std::string> update = {"--update", "--delete"};
  update.insert(update.end(), filters.begin(), filters.end());
  both(update);
  EXPECT_EQ(::access((dir / "mpi/d11").c_str(), F_OK), -1);
}

// -x with directories handed to other ranks: mount points inside SRC are made empty with their
// metadata wherever they are met (listed by one rank, or handed to another as a unit), as
// treecopy -x makes them; the rest of the tree is copied whole.
TEST_P(mpi_ranks, one_file_system_hands_off) {
  if (GetParam() != 2) GTEST_SKIP() << "2 ranks show it";
  if (auto why = faults::mount_unavailable()) GTEST_SKIP() << *why;
  scratch_dir dir("mpi-one-fs");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < 8; ++d) {
    const std::string top = src + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(top.c_str(), 0755), 0);
    for (int s = 0; s < 6; ++s) {
      if (s == 2) continue;  // a mount point, below
      const std::string sub = top + "/s" + std::to_string(s);
      ASSERT_EQ(::mkdir(sub.c_str(), 0750), 0);
      for (int f = 0; f < 20; ++f) write_file(sub + "/f" + std::to_string(f), "data");
    }
  }
  std::vector<std::unique_ptr<faults::tmpfs_mount>> mounts;  // unmounted before dir goes
  std::vector<std::string> points;
  for (int d = 0; d < 8; ++d) {
    points.push_back(src + "/d" + std::to_string(d) + "/s2");
    points.push_back(src + "/m" + std::to_string(d));  // children of SRC: units themselves
  }
  for (const std::string& at : points) {
    mounts.push_back(std::make_unique<faults::tmpfs_mount>(at, "size=1m,mode=711"));
    write_file(at + "/other", "other file system");
    ASSERT_EQ(::mkdir((at + "/sub").c_str(), 0755), 0);
  }
  const process_result t = run_treecopy({"-x", "-j", "1", "--json", src, dir / "tc"});
  EXPECT_TRUE(exited_with(t, 0));
  EXPECT_EQ(::access((dir / "tc/d3/s2/other").c_str(), F_OK), -1);
  EXPECT_EQ(::access((dir / "tc/m3/other").c_str(), F_OK), -1);
  // Whether rank 1 asks before rank 0 has walked everything depends on the machine's load: every
  // run must copy as treecopy does, and one of up to three must have handed units off.
  long handed = 0;
  for (int run = 0; run < 3 && handed <= 0; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    const std::string dst = dir / ("dst" + std::to_string(run));
    ::setenv("TREECOPY_MPI_STATS", "1", 1);
    const process_result r = run_mpi(2, {"-x", "-j", "1", "--json", src, dst});
    ::unsetenv("TREECOPY_MPI_STATS");
    EXPECT_TRUE(exited_with(r, 0));
    EXPECT_EQ(json_counts(t.out), json_counts(r.out));
    EXPECT_TRUE(same_trees(dir / "tc", dst, against("treecopy")));
    handed = units_handed_off(r);
  }
  mounts.clear();
  EXPECT_GT(handed, 0) << "no unit was handed off in three runs";
}

// A directory on the way to a unit swapped for a symlink that leads out of SRC, between the
// listing that found the unit and the rank that copies it: nothing outside SRC may be copied.
// A race: 8 jobs at 4 ranks while a thread swaps every top directory back and forth; before
// units were checked against SRC's root, 30 such jobs copied the outside files 3 times.
TEST(mpi_hostile, unit_behind_a_swapped_directory_stays_inside_src) {
  scratch_dir dir("mpi-swap");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir / "outside").c_str(), 0755), 0);
  for (int s = 0; s < 10; ++s) {
    const std::string o = dir / ("outside/s" + std::to_string(s));
    ASSERT_EQ(::mkdir(o.c_str(), 0755), 0);
    write_file(o + "/SECRET", "outside");
  }
  for (int d = 0; d < 30; ++d) {
    const std::string dd = src + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(dd.c_str(), 0755), 0);
    for (int s = 0; s < 10; ++s) {
      const std::string sd = dd + "/s" + std::to_string(s);
      ASSERT_EQ(::mkdir(sd.c_str(), 0755), 0);
      for (int f = 0; f < 3; ++f) write_file(sd + "/f" + std::to_string(f), "x");
    }
  }
  const int src_fd = ::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  ASSERT_GE(src_fd, 0);
  const std::string target = dir / "outside";
  std::atomic<bool> stop{false};
  // Swaps, relative to SRC's descriptor only: dN <-> dN.real with a symlink dN -> outside.
  std::thread swapper([&] {
    while (!stop.load()) {
      for (int d = 0; d < 30 && !stop.load(); ++d) {
        const std::string n = "d" + std::to_string(d), real = n + ".real";
        if (::renameat(src_fd, n.c_str(), src_fd, real.c_str()) == 0) {
          (void)::symlinkat(target.c_str(), src_fd, n.c_str());
        } else {
          struct stat st {};
          if (::fstatat(src_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
            (void)::unlinkat(src_fd, n.c_str(), 0);
          (void)::renameat(src_fd, real.c_str(), src_fd, n.c_str());
        }
      }
    }
  });
  std::size_t outside_copies = 0;
  for (int run = 0; run < 8; ++run) {
    const std::string dst = dir / ("dst" + std::to_string(run));
    (void)run_mpi(4, {"-q", "-j", "1", src, dst}, 120);
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dst, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it->path().filename() == "SECRET") ++outside_copies;
    }
  }
  stop = true;
  swapper.join();
  ::close(src_fd);
  EXPECT_EQ(outside_copies, 0u);
}

// A job of one rank (mpiexec -np 1, or a start without mpiexec) runs treecopy's own command
// without starting MPI: the same copy, output and exit codes, without MPI's start-up cost.
TEST(mpi_one_rank, runs_the_local_engine) {
  scratch_dir dir("mpi-one");
  const std::string src = dir / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((src + "/sub").c_str(), 0750), 0);
  write_file(src + "/sub/f", "data");
  ASSERT_EQ(::symlink("sub/f", (src + "/l").c_str()), 0);
  ::setenv("TREECOPY_MPI_STATS", "1", 1);
  const process_result launched = run_mpi(1, {"-j", "1", src, dir / "a"});
  const process_result singleton = run_process({TREECOPY_MPI, "-j", "1", src, dir / "b"});
  ::unsetenv("TREECOPY_MPI_STATS");
  for (const process_result* r : {&launched, &singleton}) {
    EXPECT_TRUE(exited_with(*r, 0));
    EXPECT_NE(r->err.find("ranks 1, the local engine"), std::string::npos) << r->describe();
  }
  EXPECT_TRUE(same_trees(src, dir / "a", against("source")));
  EXPECT_TRUE(same_trees(src, dir / "b", against("source")));
  // Exit codes reach mpiexec's as treecopy's: 2 for bad input, 1 for an entry's error.
  EXPECT_TRUE(exited_with(run_mpi(1, {dir / "nothing", dir / "c"}), 2));
  const process_result into = run_mpi(1, {"-j", "1", src, dir / "a/sub/f/x"});
  EXPECT_EQ(into.exit_code, run_treecopy({"-j", "1", src, dir / "a/sub/f/y"}).exit_code);
}

INSTANTIATE_TEST_SUITE_P(ranks, mpi_ranks, testing::Values(1, 2, 4, 8),
                         [](const testing::TestParamInfo<int>& i) {
                           return "np" + std::to_string(i.param);
                         });

}  // namespace
}  // namespace treecopy_test
