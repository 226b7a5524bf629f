// git's ignore rules (src/plan/gitignore.hpp): pattern by pattern, and against git itself on
// generated repositories (`git ls-files -o --exclude-standard`), which is the oracle.
#include "plan/gitignore.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "fd.hpp"
#include "git_repo.hpp"
#include "process.hpp"
#include "scratch.hpp"

namespace {

using treecopy::plan::excludes_file_setting;
using treecopy::plan::ignore_file;
using treecopy::plan::ignore_scope;
using treecopy::plan::ignore_verdict;
using treecopy_test::put_file;
using treecopy_test::repo_maker;

// Whether the patterns of one .gitignore at the top ignore dir/name.
bool top_ignores(std::string_view text, std::string_view dir, std::string_view name,
                 bool is_dir = false) {
  return ignore_scope::top({}, ignore_file(text, ""))->ignored(dir, name, is_dir);
}

TEST(GitignorePatterns, NameAtAnyDepthUnlessASlashAnchorsIt) {
  EXPECT_TRUE(top_ignores("foo\n", "", "foo"));
  EXPECT_TRUE(top_ignores("foo\n", "a/b", "foo"));
  EXPECT_TRUE(top_ignores("/foo\n", "", "foo"));
  EXPECT_FALSE(top_ignores("/foo\n", "a", "foo"));
  EXPECT_TRUE(top_ignores("a/foo\n", "a", "foo"));
  EXPECT_FALSE(top_ignores("a/foo\n", "x/a", "foo"));
  EXPECT_TRUE(top_ignores("*.o\n", "src/deep", "main.o"));
  EXPECT_FALSE(top_ignores("*.o\n", "src", "main.oo"));
}

TEST(GitignorePatterns, TrailingSlashMatchesDirectoriesOnly) {
  EXPECT_TRUE(top_ignores("build/\n", "x", "build", true));
  EXPECT_FALSE(top_ignores("build/\n", "x", "build", false));
  EXPECT_TRUE(top_ignores("doc/out/\n", "doc", "out", true));
  EXPECT_FALSE(top_ignores("doc/out/\n", "x/doc", "out", true));  // anchored by its inner '/'
}

TEST(GitignorePatterns, LastMatchDecidesAndNegationBringsBack) {
  EXPECT_FALSE(top_ignores("*.log\n!keep.log\n", "", "keep.log"));
  EXPECT_TRUE(top_ignores("*.log\n!keep.log\n", "", "other.log"));
  EXPECT_TRUE(top_ignores("!keep.log\n*.log\n", "", "keep.log"));  // order matters
  EXPECT_TRUE(top_ignores("\\!bang\n", "", "!bang"));
  EXPECT_TRUE(top_ignores("\\#hash\n", "", "#hash"));
  EXPECT_FALSE(top_ignores("#hash\n", "", "#hash"));  // a comment
}

TEST(GitignorePatterns, DoubleStarOnlyAsAWholeComponent) {
  EXPECT_TRUE(top_ignores("**/foo\n", "a/b", "foo"));
  EXPECT_TRUE(top_ignores("**/foo\n", "", "foo"));
  EXPECT_TRUE(top_ignores("a/**/b\n", "a", "b"));
  EXPECT_TRUE(top_ignores("a/**/b\n", "a/x/y", "b"));
  EXPECT_TRUE(top_ignores("abc/**\n", "abc/d", "e"));
  EXPECT_FALSE(top_ignores("abc/**\n", "", "abc", true));
  // Elsewhere "**" is '*': it does not cross '/'.
  EXPECT_TRUE(top_ignores("a/x**y\n", "a", "x1y"));
  EXPECT_FALSE(top_ignores("a/x**y\n", "a/x1", "y"));
  EXPECT_FALSE(top_ignores("a/*\n", "a/b", "c"));
  EXPECT_TRUE(top_ignores("a/*\n", "a", "b"));
}

TEST(GitignorePatterns, SpacesCarriageReturnsAndByteOrderMark) {
  EXPECT_TRUE(top_ignores("foo   \n", "", "foo"));
  EXPECT_TRUE(top_ignores("sp\\ \n", "", "sp "));
  EXPECT_FALSE(top_ignores("sp\\ \n", "", "sp"));
  EXPECT_TRUE(top_ignores("foo\r\nbar\r\n", "", "bar"));
  EXPECT_TRUE(
      top_ignores("\xEF\xBB\xBF"
                  "foo\n",
                  "", "foo"));
  EXPECT_TRUE(top_ignores("no-newline-at-end", "", "no-newline-at-end"));
  EXPECT_FALSE(top_ignores("\n\n   \n", "", "x"));
}

TEST(GitignorePatterns, BracketsQuestionMarksAndEscapes) {
  EXPECT_TRUE(top_ignores("[ab].c\n", "", "a.c"));
  EXPECT_FALSE(top_ignores("[!ab].c\n", "", "a.c"));
  EXPECT_TRUE(top_ignores("[!ab].c\n", "", "z.c"));
  EXPECT_TRUE(top_ignores("?.c\n", "", "x.c"));
  EXPECT_TRUE(top_ignores("st\\*r\n", "", "st*r"));
  EXPECT_FALSE(top_ignores("st\\*r\n", "", "stxr"));
  EXPECT_TRUE(top_ignores("[[:digit:]]*\n", "", "1x"));
  EXPECT_FALSE(top_ignores("[[:digit:]]*\n", "", "x1"));
  EXPECT_TRUE(top_ignores("x[![:upper:]]\n", "", "xa"));
  EXPECT_FALSE(top_ignores("x[![:upper:]]\n", "", "xA"));
}

TEST(GitignoreScopes, DeeperFilesWinAndPathsAreRelativeToTheirDirectory) {
  auto top = ignore_scope::top({ignore_file("*.txt\n", "")}, ignore_file("*.o\n", ""));
  auto sub = ignore_scope::child(top, ignore_file("!keep.o\n/local\n", "sub"));
  EXPECT_TRUE(sub->ignored("sub", "x.o", false));
  EXPECT_FALSE(sub->ignored("sub", "keep.o", false));
  EXPECT_TRUE(top->ignored("", "keep.o", false));
  EXPECT_TRUE(sub->ignored("sub", "local", false));
  EXPECT_FALSE(sub->ignored("sub/deeper", "local", false));  // anchored at sub
  EXPECT_TRUE(sub->ignored("sub/deeper", "a.txt", false));   // the repository-wide file
  auto unignore = ignore_scope::child(top, ignore_file("!*.txt\n", "u"));
  EXPECT_FALSE(unignore->ignored("u", "a.txt", false));  // any .gitignore beats info/exclude
}

TEST(GitConfig, ExcludesFileSetting) {
  EXPECT_EQ(excludes_file_setting("[core]\n\texcludesFile = ~/.ignore\n"), "~/.ignore");
  EXPECT_EQ(excludes_file_setting("[Core]\nEXCLUDESFILE=\"/a b/x\" ; comment\n"), "/a b/x");
  EXPECT_EQ(excludes_file_setting("[core] excludesfile = /one\n[core]\nexcludesfile = /two\n"),
            "/two");
  EXPECT_EQ(excludes_file_setting("[user]\nexcludesfile = /no\n"), std::nullopt);
  EXPECT_EQ(excludes_file_setting("[core \"x\"]\nexcludesfile = /no\n"), std::nullopt);
  EXPECT_EQ(excludes_file_setting("[core]\nexcludesfile = /a\\\nb # c\n"), "/ab");
  EXPECT_EQ(excludes_file_setting("[core]\n  bare\n  excludesfile = /x\\\"y\n"), "/x\"y");
  EXPECT_EQ(excludes_file_setting(""), std::nullopt);
}

// ---- git as the oracle.

// The files (not directories) that the module says git does not ignore, relative to the top.
void walk(int dirfd, const std::string& rel, const std::shared_ptr<const ignore_scope>& scope,
          std::set<std::string>& out) {
  for (const std::string& name : treecopy_test::list_dir(dirfd)) {
    if (rel.empty() && name == ".git") continue;
    struct stat st = treecopy_test::lstat_at(dirfd, name);
    bool is_dir = S_ISDIR(st.st_mode);
    if (scope->ignored(rel, name, is_dir)) continue;
    std::string path = rel.empty() ? name : rel + "/" + name;
    if (!is_dir) {
      out.insert(path);
      continue;
    }
    treecopy_test::unique_fd sub = treecopy_test::open_dir_at(dirfd, name);
    auto sub_scope = scope;
    std::string text;
    int fd = ::openat(sub.get(), ".gitignore", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
      ::close(fd);
      sub_scope = ignore_scope::child(scope, ignore_file(text, path));
    }
    walk(sub.get(), path, sub_scope, out);
  }
}

std::string read_at(int dirfd, const std::string& name) {
  std::string text;
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return text;
}

TEST(GitignoreOracle, SameFilesAsGitLsFilesOnGeneratedRepositories) {
  if (treecopy_test::run_process({"git", "--version"}).exit_code != 0)
    GTEST_SKIP() << "git is not installed (apt-get install git)";
  // TREECOPY_GITIGNORE_REPOS: more repositories for a longer search.
  const char* more = std::getenv("TREECOPY_GITIGNORE_REPOS");
  const unsigned repos = more ? static_cast<unsigned>(std::stoul(more)) : 60;
  std::size_t all_files = 0, kept_files = 0;  // over every repository: the rules did decide things
  for (unsigned seed = 1; seed <= repos; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    treecopy_test::scratch_dir home("gitignore-home");
    treecopy_test::scratch_dir repo("gitignore-repo");
    const std::vector<std::string> env = {"env", "-i", "HOME=" + home.path(),
                                          "GIT_CONFIG_NOSYSTEM=1", "PATH=/usr/bin:/bin"};
    auto git = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = env;
      argv.insert(argv.end(), {"git", "-C", repo.path()});
      argv.insert(argv.end(), args.begin(), args.end());
      return treecopy_test::run_process(argv);
    };
    ASSERT_EQ(git({"init", "-q"}).exit_code, 0);
    repo_maker maker(seed);
    treecopy_test::unique_fd top = treecopy_test::open_dir(repo.path());
    maker.make(top.get(), 0);
    std::vector<ignore_file> repo_wide;
    if (seed % 3 == 0) {
      treecopy_test::unique_fd info = treecopy_test::open_dir(repo / ".git/info");
      ::unlinkat(info.get(), "exclude", 0);
      put_file(info.get(), "exclude", maker.patterns(3));
      repo_wide.emplace_back(read_at(info.get(), "exclude"), "");
    }
    if (seed % 4 == 0) {
      treecopy_test::unique_fd h = treecopy_test::open_dir(home.path());
      put_file(h.get(), ".gitconfig", "[core]\n\texcludesFile = ~/user-ignore\n");
      put_file(h.get(), "user-ignore", maker.patterns(2));
      auto setting = excludes_file_setting(read_at(h.get(), ".gitconfig"));
      ASSERT_EQ(setting, "~/user-ignore");
      repo_wide.emplace_back(read_at(h.get(), "user-ignore"), "");
    }
    auto result = git({"ls-files", "-o", "--exclude-standard", "-z"});
    ASSERT_EQ(result.exit_code, 0) << result.describe();
    std::set<std::string> want;
    for (std::size_t at = 0; at < result.out.size();) {
      std::size_t end = result.out.find('\0', at);
      want.insert(result.out.substr(at, end - at));
      at = end + 1;
    }
    auto scope =
        ignore_scope::top(std::move(repo_wide), ignore_file(read_at(top.get(), ".gitignore"), ""));
    std::set<std::string> got;
    walk(top.get(), "", scope, got);
    auto all = git({"ls-files", "-o", "-z"});
    all_files += static_cast<std::size_t>(std::count(all.out.begin(), all.out.end(), '\0'));
    kept_files += want.size();
    if (got != want) {
      std::string diff;
      for (const auto& p : want)
        if (!got.count(p)) diff += "  git lists, treecopy ignores: " + p + "\n";
      for (const auto& p : got)
        if (!want.count(p)) diff += "  treecopy keeps, git ignores: " + p + "\n";
      ADD_FAILURE() << diff << "(git check-ignore -v shows which rule decides)";
    }
  }
  EXPECT_GT(kept_files, all_files / 10) << "the generated rules ignore almost everything";
  EXPECT_LT(kept_files, all_files * 9 / 10) << "the generated rules ignore almost nothing";
  std::printf("%zu of %zu files kept over %u repositories\n", kept_files, all_files, repos);
}

}  // namespace
