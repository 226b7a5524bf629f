#include "entry_check.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include "fd.hpp"

namespace treecopy_test {
namespace {

// fstatat(parent of path, its last name, AT_SYMLINK_NOFOLLOW); the parent opened O_NOFOLLOW.
int lstat_beneath(const std::string& path, struct stat& st) {
  const std::size_t slash = path.rfind('/');
  const std::string parent = slash == std::string::npos ? "."
                             : slash == 0               ? "/"
                                                        : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  unique_fd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return -1;
  return ::fstatat(dir.get(), name.empty() ? "." : name.c_str(), &st, AT_SYMLINK_NOFOLLOW);
}

}  // namespace

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat_beneath(path, st), 0) << path;
  return st;
}

bool exists(const std::string& path) {
  struct stat st {};
  return lstat_beneath(path, st) == 0;
}

std::string diffs(const std::string& a, const std::string& b, const compare_options& o) {
  const auto found = compare_trees(a, b, o);
  return found.empty() ? std::string() : describe(found, o);
}

}  // namespace treecopy_test
