// treecopy-mpi with filters that match paths and with --gitignore, its directories handed to other
// ranks: each unit must decide as the walk of the whole SRC does, so the copy, the --json counts
// and the exit code equal treecopy's with the same options, and units did go to other ranks.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "copiers.hpp"
#include "mpi_run.hpp"
#include "process.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"

namespace treecopy_test {
namespace {

void make_dir(const std::string& path) { ASSERT_EQ(::mkdir(path.c_str(), 0755), 0) << path; }

// A tree of many directories (d0..d11, each with s0..s3 and s0/deep/er) holding .c, .o and .log
// files: enough directories that an idle rank asks for some while rank 0 walks.
void make_tree(const std::string& root) {
  make_dir(root);
  for (int d = 0; d < 12; ++d) {
    const std::string top = root + "/d" + std::to_string(d);
    make_dir(top);
    write_file(top + "/top.o", "top");
    for (int s = 0; s < 4; ++s) {
      const std::string sub = top + "/s" + std::to_string(s);
      make_dir(sub);
      for (int f = 0; f < 30; ++f) {
        const char* ext = f % 3 == 0 ? ".o" : f % 3 == 1 ? ".c" : ".log";
        write_file(sub + "/f" + std::to_string(f) + ext, std::string(40 + f, 'a' + s));
      }
    }
    make_dir(top + "/s0/deep");
    make_dir(top + "/s0/deep/er");
    write_file(top + "/s0/deep/er/keep.log", "kept?");
    write_file(top + "/s0/deep/er/x.o", "object");
  }
}

// A repository's top as git finds it (HEAD, objects, refs in .git), without running git.
void make_repository(const std::string& top) {
  make_dir(top + "/.git");
  make_dir(top + "/.git/objects");
  make_dir(top + "/.git/refs");
  write_file(top + "/.git/HEAD", "ref: refs/heads/main\n");
  // Inside .git git looks at nothing: a name its rules would ignore is copied there.
  write_file(top + "/.git/ignored.log", "git's own");
}

// treecopy and treecopy-mpi at n ranks with args (each of SRC and its own DST): the same exit code,
// --json counts and tree. Returns how many units went to other ranks: whether any does depends on
// when the other ranks ask (on a loaded machine rank 0 may be done first), so a test sums its runs
// and checks the sum at 2 ranks, where rank 1 asks as soon as the walk starts.
long expect_as_treecopy(int n, const std::vector<std::string>& args, const std::string& src,
                        const std::string& tc, const std::string& mpi) {
  std::vector<std::string> targs = args, margs = args;
  targs.insert(targs.end(), {"-j", "1", "--json", src, tc});
  margs.insert(margs.end(), {"-j", "1", "--json", src, mpi});
  const process_result a = run_treecopy(targs);
  ::setenv("TREECOPY_MPI_STATS", "1", 1);
  const process_result b = run_mpi(n, margs);
  ::unsetenv("TREECOPY_MPI_STATS");
  EXPECT_EQ(a.exit_code, b.exit_code) << a.describe() << b.describe();
  EXPECT_EQ(json_counts(a.out), json_counts(b.out)) << b.describe();
  EXPECT_TRUE(same_trees(tc, mpi, against("treecopy")));
  return std::max(0L, units_handed_off(b));
}

// A file in a copy that SRC does not have (--delete removes it unless excluded), with the same
// times in both copies. Kept in set 0: d6/s2/f1x.o, d6/s3/extra.o; in set 1: d4/s0/extra.c.
void write_extra(const std::string& path) {
  write_file(path, "extra");
  const struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

class mpi_filters : public testing::TestWithParam<int> {};

// Anchored patterns, a trailing '/', '**', and an --include that brings entries back under an
// excluded pattern; then --update --delete into copies that hold extra entries, some of them
// excluded (kept) by patterns with '/', others not (removed).
TEST_P(mpi_filters, patterns_with_slash_as_treecopy) {
  scratch_dir dir("mpi-slash-filters");
  const std::string src = dir / "src";
  make_tree(src);
  const std::vector<std::vector<std::string>> sets = {
      {"--exclude", "/d1", "--exclude", "d2/s1/", "--exclude", "d*/s2/f1*", "--exclude",
       "**/s3/*.o", "--exclude", "/d*/s0/deep/er/x.o"},
      {"--include", "d4/s0/f2.log", "--exclude", "d4/s0/*", "--include", "**/deep/**", "--include",
       "*/", "--exclude", "*.log"},
      {"--exclude", "d3/**/er", "--include", "/d5/s1/*.c", "--exclude", "d5/s1/*"},
  };
  long handed = 0;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    SCOPED_TRACE("filter set " + std::to_string(i));
    const std::string tc = dir / ("tc" + std::to_string(i));
    const std::string mpi = dir / ("mpi" + std::to_string(i));
    handed += expect_as_treecopy(GetParam(), sets[i], src, tc, mpi);
    for (const std::string& d : {tc, mpi}) {
      for (const char* extra : {"d6/s2/f1x.o", "d6/s3/extra.o", "d6/s1/extra.c", "d4/s0/extra.c"})
        write_extra(d + "/" + extra);
    }
    std::vector<std::string> update = {"--update", "--delete"};
    update.insert(update.end(), sets[i].begin(), sets[i].end());
    handed += expect_as_treecopy(GetParam(), update, src, tc, mpi);
  }
  if (GetParam() == 2) {
    EXPECT_GT(handed, 0);
  }
}

// SRC inside a repository: a .gitignore above SRC (patterns anchored at the top, a negation), and
// .gitignore files at several depths of SRC, a nested repository with rules of its own.
TEST_P(mpi_filters, gitignore_in_repository_as_treecopy) {
  scratch_dir dir("mpi-gitignore-repo");
  const std::string top = dir / "repo";
  make_dir(top);
  make_repository(top);
  write_file(top + "/.gitignore", "*.log\n!keep.log\n/src/d1/s2/\nsrc/d2/s1/f*.c\n");
  const std::string src = top + "/src";
  make_tree(src);
  write_file(src + "/.gitignore", "d3/\n!d3/\n*.o\n");
  write_file(src + "/d4/.gitignore", "!top.o\ns0/deep/\n");
  write_file(src + "/d4/s1/.gitignore", "!*.log\nf1*\n");
  make_repository(src + "/d5/s1");  // a nested repository: the rules above stop there
  write_file(src + "/d5/s1/.gitignore", "f2*\n");
  make_dir(src + "/d5/s1/inner");
  write_file(src + "/d5/s1/inner/a.o", "not ignored in the nested repository");
  write_file(src + "/d5/s1/inner/f2.c", "ignored there");
  long handed = expect_as_treecopy(GetParam(), {"--gitignore"}, src, dir / "tc", dir / "mpi");
  handed += expect_as_treecopy(GetParam(), {"--gitignore", "--update", "--delete"}, src, dir / "tc",
                               dir / "mpi");
  handed +=
      expect_as_treecopy(GetParam(), {"--gitignore", "--dry-run"}, src, dir / "tc", dir / "mpi");
  if (GetParam() == 2) {
    EXPECT_GT(handed, 0);
  }
}

// SRC in no repository: SRC is the top, and the .gitignore files between SRC and a unit's
// directory decide, with negations and a directory that a filter brings back under an ignored one.
TEST_P(mpi_filters, gitignore_outside_repository_as_treecopy) {
  scratch_dir dir("mpi-gitignore-plain");
  const std::string src = dir / "src";
  make_tree(src);
  write_file(src + "/.gitignore", "*.o\n/d1/s0\nd6/\ns3/f1*\n");
  write_file(src + "/d2/.gitignore", "!f3.o\ns1/\n");
  write_file(src + "/d2/s0/.gitignore", "*.c\n!f1.c\n");
  write_file(src + "/d2/s0/deep/.gitignore", "!*.o\n");
  write_file(src + "/d7/s0/deep/er/.gitignore", "keep.log\n");
  make_repository(src + "/d5");
  write_file(src + "/d5/.gitignore", "*.log\n");
  long handed = expect_as_treecopy(GetParam(), {"--gitignore"}, src, dir / "tc", dir / "mpi");
  handed +=
      expect_as_treecopy(GetParam(), {"--gitignore", "--include", "d6/", "--include", "d6/s1/**"},
                         src, dir / "tc-include", dir / "mpi-include");
  handed += expect_as_treecopy(GetParam(), {"--gitignore", "--update", "--delete"}, src, dir / "tc",
                               dir / "mpi");
  if (GetParam() == 2) {
    EXPECT_GT(handed, 0);
  }
}

// A huge directory whose batches of files go to other ranks: each batch decides by the rules of
// its directory, its own .gitignore included (whichever batch holds it), and by its path from SRC.
TEST_P(mpi_filters, shared_directory_batches_as_treecopy) {
  if (GetParam() != 2) GTEST_SKIP() << "2 ranks show it";
  scratch_dir dir("mpi-filter-batches");
  const std::string src = dir / "src", huge = src + "/a/huge";
  make_dir(src);
  make_dir(src + "/a");
  make_dir(huge);
  write_file(src + "/.gitignore", "*.log\n/a/huge/f1*.c\n");
  write_file(huge + "/.gitignore", "!f2*.log\n*.o\n");
  for (int f = 0; f < 12000; ++f) {  // more than 4096 kept: a shared directory
    const char* ext = f % 4 == 0 ? ".o" : f % 4 == 3 ? ".log" : ".c";
    write_file(huge + "/f" + std::to_string(f) + ext, std::to_string(f));
  }
  ::setenv("TREECOPY_MPI_STATS", "1", 1);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--gitignore"}, {"--exclude", "a/huge/f3*"}}) {
    SCOPED_TRACE(args.front());
    const std::string tc = dir / ("tc" + args.front()), mpi = dir / ("mpi" + args.front());
    std::vector<std::string> targs = args, margs = args;
    targs.insert(targs.end(), {"-j", "1", "--json", src, tc});
    margs.insert(margs.end(), {"-j", "1", "--json", src, mpi});
    const process_result a = run_treecopy(targs);
    const process_result b = run_mpi(2, margs);
    EXPECT_EQ(a.exit_code, b.exit_code) << a.describe() << b.describe();
    EXPECT_EQ(json_counts(a.out), json_counts(b.out)) << b.describe();
    EXPECT_TRUE(same_trees(tc, mpi, against("treecopy")));
    EXPECT_GT(batches_handed_off(b), 0) << b.err;
  }
  ::unsetenv("TREECOPY_MPI_STATS");
}

INSTANTIATE_TEST_SUITE_P(ranks, mpi_filters, testing::Values(2, 4),
                         [](const testing::TestParamInfo<int>& i) {
                           return "np" + std::to_string(i.param);
                         });

}  // namespace
}  // namespace treecopy_test
