// The treecopy command as built with TREECOPY_STATIC_CLI (cmake/static_cli.cmake): it loads
// neither the shared libstdc++ nor libtbb (their relocations were most of a small copy's start-up),
// tells the oneTBB it was built with, and still copies a larger tree with its pool of workers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <string>

#include "copiers.hpp"
#include "process.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"

namespace treecopy_test {
namespace {

TEST(static_cli, needs_neither_libstdcxx_nor_libtbb) {
#ifndef TREECOPY_STATIC_CLI_BUILT
  GTEST_SKIP() << "the treecopy command is linked to the shared libraries in this build";
#endif
  if (!tool_present("readelf")) GTEST_SKIP() << "readelf (binutils) is not installed";
  const process_result elf = run_process({"readelf", "-d", cli_path()});
  ASSERT_EQ(elf.exit_code, 0) << elf.describe();
  EXPECT_NE(elf.out.find("(NEEDED)"), std::string::npos) << elf.out;  // libc: still dynamic
  EXPECT_EQ(elf.out.find("libstdc++"), std::string::npos) << elf.out;
  EXPECT_EQ(elf.out.find("libtbb"), std::string::npos) << elf.out;
  EXPECT_EQ(elf.out.find("libtreecopy"), std::string::npos) << elf.out;
  // No run path: an empty entry in one is the working directory, where a libc.so.6 planted by
  // anyone would be loaded.
  EXPECT_EQ(elf.out.find("RUNPATH"), std::string::npos) << elf.out;
  EXPECT_EQ(elf.out.find("(RPATH)"), std::string::npos) << elf.out;
}

TEST(static_cli, version_names_the_onetbb_it_was_built_with) {
  const process_result v = run_treecopy({"--version"});
  ASSERT_EQ(v.exit_code, 0) << v.describe();
  EXPECT_NE(v.out.find("built with: oneTBB 20"), std::string::npos) << v.out;
}

// 8 directories of 100 files: the walk hands them to workers, threads that strace sees created.
// Only the static build: the shared one is covered by startup_test, and a sanitizer build's
// LeakSanitizer cannot run under ptrace (it exits 87 after a correct copy).
TEST(static_cli, copies_a_larger_tree_with_worker_threads) {
#ifndef TREECOPY_STATIC_CLI_BUILT
  GTEST_SKIP() << "the treecopy command is linked to the shared libraries in this build";
#endif
  if (!tool_present("strace")) GTEST_SKIP() << "strace is not installed";
  scratch_dir scratch("static-cli");
  ASSERT_EQ(::mkdir((scratch / "src").c_str(), 0750), 0);
  for (int d = 0; d < 8; ++d) {
    const std::string dir = scratch / ("src/d" + std::to_string(d));
    ASSERT_EQ(::mkdir(dir.c_str(), 0750), 0);
    for (int i = 0; i < 100; ++i) write_filled_file(dir + "/f" + std::to_string(i), 512, 'c');
  }
  const std::string trace = scratch / "trace";
  const process_result run =
      run_process({"strace", "-f", "-qq", "-e", "trace=clone,clone3", "-o", trace, cli_path(), "-j",
                   "4", scratch / "src", scratch / "dst"});
  if (run.exit_code != 0 && run.err.find("ptrace") != std::string::npos) {
    GTEST_SKIP() << "strace cannot trace here: " << run.err;
  }
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  EXPECT_TRUE(same_trees(scratch / "src", scratch / "dst"));
  const process_result grep = run_process({"grep", "-c", "CLONE_THREAD", trace});
  EXPECT_GE(std::stoi(grep.out.empty() ? "0" : grep.out), 2) << grep.describe();
}

// Ten small files: copied on the calling thread, and the command's signal watcher waits for the
// workers too, so the process never has a second thread. strace stops the process only at the
// calls it traces (--seccomp-bpf): a stop at every call would be time waited that starts the pool.
TEST(static_cli, copies_ten_small_files_without_a_thread) {
#ifndef TREECOPY_STATIC_CLI_BUILT
  GTEST_SKIP() << "the treecopy command is linked to the shared libraries in this build";
#endif
  if (!tool_present("strace")) GTEST_SKIP() << "strace is not installed";
  scratch_dir scratch("static-cli-small");
  ASSERT_EQ(::mkdir((scratch / "src").c_str(), 0750), 0);
  for (int i = 0; i < 10; ++i)
    write_filled_file(scratch / ("src/f" + std::to_string(i)), 4096, 'e');
  const std::string trace = scratch / "trace";
  const process_result run =
      run_process({"strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=clone,clone3", "-o", trace,
                   cli_path(), scratch / "src", scratch / "dst"});
  if (run.exit_code != 0 && (run.err.find("ptrace") != std::string::npos ||
                             run.err.find("seccomp") != std::string::npos)) {
    GTEST_SKIP() << "strace cannot trace here: " << run.err;
  }
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  EXPECT_TRUE(same_trees(scratch / "src", scratch / "dst"));
  const process_result grep = run_process({"grep", "-c", "CLONE_THREAD", trace});
  EXPECT_EQ(grep.out, "0\n") << grep.describe();
}

}  // namespace
}  // namespace treecopy_test
