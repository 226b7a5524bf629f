// --gitignore end to end, with git as the oracle: copies of generated repositories (and of a
// directory below their top) hold exactly what `git ls-files -co --exclude-standard` lists, the
// directories holding them and .git, each equal to its source; what `git ls-files -o -i
// --directory` calls ignored is absent. Also: negations below an ignored directory, a nested
// repository, --delete keeping ignored DST entries, --dry-run, and an unreadable .gitignore as an
// unprivileged user.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "fault_support.hpp"
#include "fd.hpp"
#include "git_repo.hpp"
#include "process.hpp"
#include "scratch.hpp"
#include "sync_support.hpp"
#include "tree_assert.hpp"
#include "tree_compare.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

// git with a private HOME and no system configuration; the copies made by this process read the
// same environment (set_home()).
struct git_env {
  std::string home;
  process_result run(const std::string& dir, std::vector<std::string> args) const {
    std::vector<std::string> argv = {
        "env", "-i", "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "PATH=/usr/bin:/bin", "git",
        "-C",  dir};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv);
  }
  // NUL-separated output as a set, trailing '/' of directories dropped.
  std::set<std::string> paths(const std::string& dir, std::vector<std::string> args) const {
    process_result r = run(dir, std::move(args));
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    std::set<std::string> out;
    for (std::size_t at = 0; at < r.out.size();) {
      std::size_t end = r.out.find('\0', at);
      std::string p = r.out.substr(at, end - at);
      if (!p.empty() && p.back() == '/') p.pop_back();
      out.insert(p);
      at = end + 1;
    }
    return out;
  }
  void set_home() const {
    ::setenv("HOME", home.c_str(), 1);
    ::setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    ::unsetenv("XDG_CONFIG_HOME");
    ::unsetenv("GIT_CONFIG_GLOBAL");
  }
};

bool have_git() { return run_process({"git", "--version"}).exit_code == 0; }

// Every non-directory entry below root (relative paths), outside .git.
void files_below(int dirfd, const std::string& rel, std::set<std::string>& out) {
  for (const std::string& name : list_dir(dirfd)) {
    if (name == ".git") continue;
    const std::string path = rel.empty() ? name : rel + "/" + name;
    if (S_ISDIR(lstat_at(dirfd, name).st_mode)) {
      unique_fd sub = open_dir_at(dirfd, name);
      files_below(sub.get(), path, out);
    } else {
      out.insert(path);
    }
  }
}

std::set<std::string> files_of(const std::string& root) {
  std::set<std::string> out;
  unique_fd top = open_dir(root);
  files_below(top.get(), "", out);
  return out;
}

std::string set_diff(const std::set<std::string>& want, const std::set<std::string>& got) {
  std::string d;
  for (const auto& p : want)
    if (!got.count(p)) d += "  git lists, the copy lacks: " + p + "\n";
  for (const auto& p : got)
    if (!want.count(p)) d += "  the copy has, git ignores: " + p + "\n";
  return d;
}

// Copies dir (a repository's top or a directory below it) with --gitignore and checks the copy
// against git run in dir.
void check_copy(const git_env& git, const std::string& dir, const std::string& dst) {
  treecopy::copy_options o;
  o.gitignore = true;
  const treecopy::copy_report r = treecopy::copy_tree(dir, dst, o);
  ASSERT_TRUE(r.ok()) << describe(r);
  const std::set<std::string> want =
      git.paths(dir, {"ls-files", "-co", "--exclude-standard", "-z"});
  const std::set<std::string> got = files_of(dst);
  EXPECT_EQ(want, got) << set_diff(want, got);
  compare_options c;
  c.atime = false;  // files made here, not by tree_maker: reading them (git does) moves atimes
  c.ignore = git.paths(dir, {"ls-files", "-o", "-i", "--exclude-standard", "--directory", "-z"});
  if (c.ignore.count(".")) {  // dir itself is ignored: git lists nothing of it
    unique_fd d = open_dir(dir);
    for (const std::string& name : list_dir(d.get())) c.ignore.insert(name);
  }
  c.left_label = "source";
  c.right_label = "copy";
  const auto diffs = compare_trees(dir, dst, c);
  EXPECT_TRUE(diffs.empty()) << describe(diffs, c);
  // git lists a directory whose entries it all ignores as ignored (git keeps no directories):
  // the copy may have it, with no file below it.
  for (const std::string& p : c.ignore) {
    const std::string there = p == "." ? dst : dst + "/" + p;
    if (entry_exists(there) && S_ISDIR(lstat_path(there).st_mode))
      EXPECT_TRUE(files_of(there).empty()) << p << " holds files in the copy";
    else
      EXPECT_FALSE(entry_exists(there)) << p;
  }
  // A dry run reports exactly the entries the copy made.
  o.dry_run = true;
  recording_observer seen;
  const treecopy::copy_report dry = treecopy::copy_tree(dir, dst + ".dry", o, &seen);
  EXPECT_TRUE(dry.ok()) << describe(dry);
  for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k)
    EXPECT_EQ(dry.copied.by_kind[k], r.copied.by_kind[k]) << "kind " << k;
  EXPECT_EQ(dry.skipped, r.skipped);
}

TEST(gitignore_copy_test, generated_repositories_match_git) {
  if (!have_git()) GTEST_SKIP() << "git is not installed (apt-get install git)";
  const char* more = std::getenv("TREECOPY_GITIGNORE_REPOS");
  const unsigned repos = more ? static_cast<unsigned>(std::stoul(more)) : 30;
  for (unsigned seed = 1; seed <= repos; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    scratch_dir home("gitignore-home");
    scratch_dir s("gitignore-copy");
    git_env git{home.path()};
    git.set_home();
    const std::string repo = s / "repo";
    ASSERT_EQ(git.run(s.path(), {"init", "-q", "repo"}).exit_code, 0);
    repo_maker maker(seed);
    unique_fd top = open_dir(repo);
    maker.make(top.get(), 0);
    if (seed % 3 == 0) {
      unique_fd info = open_dir(repo + "/.git/info");
      ::unlinkat(info.get(), "exclude", 0);
      put_file(info.get(), "exclude", maker.patterns(3));
    }
    if (seed % 4 == 0) {
      unique_fd h = open_dir(home.path());
      put_file(h.get(), ".gitconfig", "[core]\n\texcludesFile = ~/user-ignore\n");
      put_file(h.get(), "user-ignore", maker.patterns(2));
    }
    check_copy(git, repo, s / "dst");
    // A directory below the top: the rules of the directories above it apply, with paths from
    // the top (anchored patterns, info/exclude).
    for (const std::string& name : list_dir(top.get())) {
      if (name == ".git" || !S_ISDIR(lstat_at(top.get(), name).st_mode)) continue;
      check_copy(git, repo + "/" + name, s / "sub-dst");
      break;
    }
  }
}

// A repository with fixed rules: negations cannot bring back what an ignored directory holds
// (git does not look inside it), but can below "dir/*"; a symlinked .gitignore is not followed.
TEST(gitignore_copy_test, negations_below_ignored_directories) {
  if (!have_git()) GTEST_SKIP() << "git is not installed";
  scratch_dir home("gitignore-home");
  scratch_dir s("gitignore-neg");
  git_env git{home.path()};
  git.set_home();
  const std::string repo = s / "repo";
  ASSERT_EQ(git.run(s.path(), {"init", "-q", "repo"}).exit_code, 0);
  unique_fd top = open_dir(repo);
  put_file(top.get(), ".gitignore", "build/\n!build/keep.txt\nout/*\n!out/keep.txt\n*.log\n");
  for (const char* d : {"build", "out", "link"}) ASSERT_EQ(::mkdirat(top.get(), d, 0755), 0);
  for (const char* f : {"build/keep.txt", "build/x", "out/keep.txt", "out/x", "a.log", "b",
                        "link/c.tmp", "link/d", "real-ignore"})
    put_file(top.get(), f, "data");
  ::unlinkat(top.get(), "real-ignore", 0);
  put_file(top.get(), "real-ignore", "*.tmp\n");
  ASSERT_EQ(::symlinkat("../real-ignore", top.get(), "link/.gitignore"), 0);
  check_copy(git, repo, s / "dst");
  EXPECT_FALSE(entry_exists(s / "dst/build"));
  EXPECT_TRUE(entry_exists(s / "dst/out/keep.txt"));
  EXPECT_TRUE(entry_exists(s / "dst/link/c.tmp")) << "a symlinked .gitignore was followed";
}

// A repository inside SRC: its own rules apply inside it, the enclosing repository's do not.
TEST(gitignore_copy_test, nested_repository_has_rules_of_its_own) {
  if (!have_git()) GTEST_SKIP() << "git is not installed";
  scratch_dir home("gitignore-home");
  scratch_dir s("gitignore-nested");
  git_env git{home.path()};
  git.set_home();
  const std::string repo = s / "repo";
  ASSERT_EQ(git.run(s.path(), {"init", "-q", "repo"}).exit_code, 0);
  ASSERT_EQ(git.run(repo, {"init", "-q", "inner"}).exit_code, 0);
  unique_fd top = open_dir(repo);
  put_file(top.get(), ".gitignore", "*.log\n");
  put_file(top.get(), "a.log", "x");
  unique_fd inner = open_dir(repo + "/inner");
  put_file(inner.get(), ".gitignore", "*.tmp\n");
  for (const char* f : {"b.log", "c.tmp", "d"}) put_file(inner.get(), f, "x");
  unique_fd info = open_dir(repo + "/inner/.git/info");
  ::unlinkat(info.get(), "exclude", 0);
  put_file(info.get(), "exclude", "d\n");
  treecopy::copy_options o;
  o.gitignore = true;
  const treecopy::copy_report r = treecopy::copy_tree(repo, s / "dst", o);
  ASSERT_TRUE(r.ok()) << describe(r);
  std::set<std::string> want = {".gitignore", "inner/.git"};  // inner/.git: a directory, not a file
  for (const std::string& p :
       git.paths(repo + "/inner", {"ls-files", "-co", "--exclude-standard", "-z"}))
    want.insert("inner/" + p);
  std::set<std::string> got = files_of(s / "dst");
  got.insert("inner/.git");
  EXPECT_EQ(want, got) << set_diff(want, got);
  EXPECT_TRUE(entry_exists(s / "dst/inner/.git/HEAD"));
}

// --update --delete --gitignore: what git ignores in DST is kept, like an excluded entry; what
// SRC lacks and git does not ignore is removed.
TEST(gitignore_copy_test, delete_keeps_ignored_destination_entries) {
  scratch_dir s("gitignore-delete");
  const std::string src = s / "src", dst = s / "dst";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  unique_fd top = open_dir(src);
  put_file(top.get(), ".gitignore", "*.o\nbuild/\n");
  put_file(top.get(), "main.c", "int main;");
  ASSERT_EQ(::mkdirat(top.get(), "lib", 0755), 0);
  put_file(top.get(), "lib/.gitignore", "/gen\n");
  treecopy::copy_options o;
  o.gitignore = true;
  ASSERT_TRUE(treecopy::copy_tree(src, dst, o).ok());
  unique_fd d = open_dir(dst);
  put_file(d.get(), "main.o", "obj");
  ASSERT_EQ(::mkdirat(d.get(), "build", 0755), 0);
  put_file(d.get(), "build/out", "out");
  put_file(d.get(), "stale.txt", "stale");
  put_file(d.get(), "lib/gen", "generated");
  put_file(d.get(), "lib/old.c", "old");
  o.update = true;
  o.delete_extraneous = true;
  const treecopy::copy_report r = treecopy::copy_tree(src, dst, o);
  EXPECT_TRUE(r.ok()) << describe(r);
  for (const char* kept : {"main.o", "build/out", "lib/gen"})
    EXPECT_TRUE(entry_exists(dst + "/" + kept)) << kept << " was removed";
  for (const char* gone : {"stale.txt", "lib/old.c"})
    EXPECT_FALSE(entry_exists(dst + "/" + gone)) << gone << " was kept";
}

// As an unprivileged user, a .gitignore that cannot be read is reported (exit 1) and its rules
// count as empty; the rest of the tree, and the rules of readable .gitignore files, still apply.
TEST(gitignore_copy_test, unreadable_gitignore_is_reported) {
  if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
  scratch_dir s("gitignore-perm");
  s.give_to(unprivileged_id);
  const std::string src = s / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  unique_fd top = open_dir(src);
  put_file(top.get(), ".gitignore", "*.o\n");
  ASSERT_EQ(::mkdirat(top.get(), "locked", 0755), 0);
  put_file(top.get(), "locked/.gitignore", "*.tmp\n");
  ASSERT_EQ(::fchmodat(top.get(), "locked/.gitignore", 0, 0), 0);
  for (const char* f : {"a.o", "a.c", "locked/b.tmp", "locked/b.o", "locked/c"})
    put_file(top.get(), f, "x");
  ASSERT_EQ(::fchownat(top.get(), "", unprivileged_id, unprivileged_id, AT_EMPTY_PATH), 0);
  const auto r = faults::run_treecopy_limited({"-q", "--gitignore", src, s / "dst"}, 60,
                                              faults::as_uid(unprivileged_id));
  EXPECT_TRUE(exited_with(r, 1));
  EXPECT_NE(r.err.find("locked/.gitignore"), std::string::npos) << r.err;
  EXPECT_TRUE(entry_exists(s / "dst/locked/b.tmp")) << "the unreadable rules were applied";
  EXPECT_TRUE(entry_exists(s / "dst/locked/c"));
  EXPECT_TRUE(entry_exists(s / "dst/a.c"));
  EXPECT_FALSE(entry_exists(s / "dst/a.o"));
  EXPECT_FALSE(entry_exists(s / "dst/locked/b.o"));
}

}  // namespace
}  // namespace treecopy_test
