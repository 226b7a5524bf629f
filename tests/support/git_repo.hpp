// Generated git repositories for tests of --gitignore: nested directories of files whose names
// the random patterns are made from, with some .gitignore files (git is the oracle that judges
// them, see tests/unit/gitignore_test.cpp and tests/sync/gitignore_copy_test.cpp).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fd.hpp"

namespace treecopy_test {

// Creates a file (never through a symlink: O_EXCL | O_NOFOLLOW) in dirfd with text.
inline void put_file(int dirfd, const std::string& name, const std::string& text) {
  int fd =
      ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << name << ": " << std::strerror(errno);
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
}

// A random repository: nested directories of files whose names the patterns are made from, some
// .gitignore files, sometimes .git/info/exclude and a user excludes file.
class repo_maker {
 public:
  explicit repo_maker(unsigned seed) : rng_(seed) {}

  void make(int dirfd, int depth) {
    int n = pick(2, 6);
    for (int i = 0; i < n; ++i) {
      std::string name = names_[pick(0, static_cast<int>(names_.size()) - 1)];
      struct stat st {};
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
      if (depth < 3 && pick(0, 2) == 0) {
        ASSERT_EQ(::mkdirat(dirfd, name.c_str(), 0755), 0) << name;
        treecopy_test::unique_fd sub = treecopy_test::open_dir_at(dirfd, name);
        make(sub.get(), depth + 1);
      } else {
        put_file(dirfd, name, "x");
      }
    }
    if (pick(0, 1) == 0) put_file(dirfd, ".gitignore", patterns(pick(1, 5)));
  }

  std::string patterns(int n) {
    std::string text;
    for (int i = 0; i < n; ++i) text += pattern() + "\n";
    if (pick(0, 4) == 0) text += "# a comment\n\n";
    return text;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::string component() {
    static const std::vector<std::string> parts = {"*",
                                                   "*.o",
                                                   "?",
                                                   "[ab]*",
                                                   "[!a]*",
                                                   "b*",
                                                   "*x*",
                                                   "foo",
                                                   "bar",
                                                   "build",
                                                   "a",
                                                   "b",
                                                   "x.o",
                                                   "y.log",
                                                   "**",
                                                   "\\!bang",
                                                   "\\#hash",
                                                   "sp\\ ",
                                                   "st\\*r",
                                                   "Build",
                                                   "*.log",
                                                   "doc",
                                                   "[[:digit:]]*",
                                                   "*[[:upper:]]*",
                                                   "[[:alpha:]][[:digit:]]"};
    return parts[pick(0, static_cast<int>(parts.size()) - 1)];
  }

  std::string pattern() {
    std::string p;
    if (pick(0, 4) == 0) p += '!';
    if (pick(0, 3) == 0) p += '/';
    int parts = pick(1, 3);
    for (int i = 0; i < parts; ++i) {
      if (i > 0) p += '/';
      p += component();
    }
    if (pick(0, 3) == 0) p += '/';
    if (pick(0, 6) == 0) p += "  ";
    return p;
  }

  std::mt19937 rng_;
  const std::vector<std::string> names_ = {"a",    "b",     "foo", "bar",   "build", "Build",
                                           "x.o",  "y.log", "doc", "!bang", "#hash", "sp ",
                                           "st*r", "bx",    "ab",  "q",     "1x",    "B2"};
};

}  // namespace treecopy_test
