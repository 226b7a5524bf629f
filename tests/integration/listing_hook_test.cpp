// copy_options::on_listing (the per-directory hook the Python copytree() calls ignore= through)
// and copy_file() (the single-file entry point of treecopy.copy2/copyfile).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test {
namespace {

// The names of a directory in readdir order (that of os.scandir), without . and ..
std::vector<std::string> listing_of(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  return names;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

void make_hook_tree(const std::string& root) {
  tree_maker m(root, 18);
  m.dir("a");
  m.dir("a/keep");
  m.dir("a/skip-dir");
  m.file("a/skip-dir/inner", "never listed");
  m.dir("b");
  for (int i = 0; i < 40; ++i) m.file("b/f" + std::to_string(i), std::to_string(i));
  m.file("b/skip.pyc", "left out");
  m.file("top.txt", "top");
  m.finish();
}

class listing_hook_test : public testing::TestWithParam<unsigned> {};

// Every listed directory is handed over once, with its path from SRC and its names in readdir
// order; what the hook leaves out is neither copied nor (for a directory) listed.
TEST_P(listing_hook_test, called_once_per_directory_in_listing_order) {
  scratch_dir scratch("listing-hook");
  make_hook_tree(scratch / "src");
  std::mutex mutex;
  std::map<std::string, std::vector<std::string>> seen;
  int calls = 0;
  treecopy::copy_options options;
  options.jobs = GetParam();
  options.on_listing = [&](std::string_view rel, int fd, std::span<const treecopy::listed_entry> es,
                           std::vector<bool>& leave_out) {
    EXPECT_GE(fd, 0);
    ASSERT_EQ(leave_out.size(), es.size());
    std::vector<std::string> names;
    for (std::size_t i = 0; i < es.size(); ++i) {
      names.emplace_back(es[i].name);
      if (es[i].name == "skip-dir") {
        EXPECT_EQ(es[i].type, DT_DIR);
      }
      leave_out[i] = es[i].name == "skip-dir" || es[i].name.ends_with(".pyc");
    }
    std::lock_guard lock(mutex);
    ++calls;
    seen[std::string(rel)] = names;
  };
  const treecopy::copy_report report =
      treecopy::copy_tree(scratch / "src", scratch / "dst", options);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.skipped, 2u);
  EXPECT_EQ(calls, 4);  // SRC, a, a/keep, b: never the left-out a/skip-dir
  for (const char* rel : {"", "a", "a/keep", "b"}) {
    const std::string dir = std::string(rel).empty() ? scratch / "src" : scratch / "src/" + rel;
    EXPECT_EQ(seen[rel], listing_of(dir)) << "directory '" << rel << "'";
  }
  EXPECT_FALSE(exists(scratch / "dst/a/skip-dir"));
  EXPECT_FALSE(exists(scratch / "dst/b/skip.pyc"));
  EXPECT_TRUE(exists(scratch / "dst/b/f39"));
  EXPECT_TRUE(exists(scratch / "dst/a/keep"));
}

INSTANTIATE_TEST_SUITE_P(jobs, listing_hook_test, testing::Values(1u, 8u),
                         [](const testing::TestParamInfo<unsigned>& info) {
                           return "jobs_" + std::to_string(info.param);
                         });

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

// copy_file() with metadata: data, permission bits (set-id included), times to the nanosecond and
// extended attributes, not the owner; the umask does not matter.
TEST(copy_file_test, copies_data_mode_times_and_xattrs) {
  scratch_dir scratch("copy-file");
  {
    tree_maker m(scratch / "src", 7);
    m.file("f", m.random_bytes(200000), 04751);
    (void)m.xattr("f", "user.color", "blue");  // tmpfs without user xattrs: compared anyway
    m.finish();
  }
  ASSERT_FALSE(treecopy::copy_file(scratch / "src/f", scratch / "g").has_value());
  compare_options o;
  o.owner = false;
  EXPECT_TRUE(same_trees(scratch / "src/f", scratch / "g", o));
  EXPECT_EQ(lstat_of(scratch / "g").st_mode & 07777, 04751u);
}

// Without metadata (shutil.copyfile): an existing destination is truncated and rewritten in
// place, keeping its inode and mode; a new one gets 0666 less the umask.
TEST(copy_file_test, data_only_rewrites_in_place) {
  scratch_dir scratch("copy-file");
  {
    tree_maker m(scratch / "src", 8);
    m.file("f", "new", 0700);
    m.file("old", "a much longer old content", 0640);
    m.finish();
  }
  const ino_t ino = lstat_of(scratch / "src/old").st_ino;
  treecopy::file_copy_options o;
  o.metadata = false;
  ASSERT_FALSE(treecopy::copy_file(scratch / "src/f", scratch / "src/old", o).has_value());
  const struct stat st = lstat_of(scratch / "src/old");
  EXPECT_EQ(st.st_ino, ino);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_size, 3);
  const mode_t mask = ::umask(022);
  ::umask(mask);
  ASSERT_FALSE(treecopy::copy_file(scratch / "src/f", scratch / "new", o).has_value());
  EXPECT_EQ(lstat_of(scratch / "new").st_mode & 07777, 0666u & ~mask);
}

// Failures name the path and the side, and create nothing when the source cannot be opened.
TEST(copy_file_test, failures_name_the_side) {
  scratch_dir scratch("copy-file");
  {
    tree_maker m(scratch / "src", 9);
    m.file("f", "x");
    m.finish();
  }
  auto missing = treecopy::copy_file(scratch / "src/missing", scratch / "out");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->side, treecopy::entry_side::source);
  EXPECT_EQ(missing->path, scratch / "src/missing");
  EXPECT_EQ(missing->code, std::errc::no_such_file_or_directory);
  EXPECT_FALSE(exists(scratch / "out"));
  auto no_dir = treecopy::copy_file(scratch / "src/f", scratch / "nowhere/out");
  ASSERT_TRUE(no_dir.has_value());
  EXPECT_EQ(no_dir->side, treecopy::entry_side::destination);
  EXPECT_EQ(no_dir->path, scratch / "nowhere/out");
}

}  // namespace
}  // namespace treecopy_test
