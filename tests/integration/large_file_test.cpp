// Large files (128 MiB and up) are copied in 32 MiB chunks by stream tasks fed from a queue, at
// most one stream per core. Files whose data is cached spread over the streams, files read from the
// disk are streamed one at a time, and when the queue is full the worker that meets a file copies
// it itself. Every one of these paths must give a tree equal to the source, bit for bit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "fd.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test {
namespace {

constexpr off_t mib = 1 << 20;
constexpr int sparse_files = 10;  // more than the queue holds at -j 1 and -j 2

// Data files: a short last chunk, a hard link, an xattr, modes other than the default.
const std::vector<std::string> data_files = {"data/a", "data/b"};

void build_large_tree(const std::string& root) {
  tree_maker m(root, 4242);
  m.dir("data");
  m.file("data/a", m.random_bytes(130 * mib + 123), 0640);
  m.hardlink("data/a", "data/a_link");
  (void)m.xattr("data/a", "user.origin", "large");  // where the file system has user xattrs
  m.file("data/b", m.random_bytes(129 * mib), 0600);
  // Sparse files just over the threshold: a little data at the start, in the middle, at the end.
  m.dir("sparse");
  for (int i = 0; i < sparse_files; ++i) {
    m.sparse_file("sparse/s" + std::to_string(i), 128 * mib + 4096,
                  {0, 64 * mib + i * 4096, 128 * mib});
  }
  m.dir("small");
  for (int i = 0; i < 40; ++i) m.file("small/f" + std::to_string(i), m.random_bytes(100 * i));
  m.finish();
}

// How many of the file's pages are in the page cache (mincore over a mapping of it).
std::size_t resident_pages(const std::string& path) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw_errno("open '" + path + "'");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat '" + path + "'");
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) throw_errno("mmap '" + path + "'");
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core((size + page - 1) / page);
  const int rc = ::mincore(map, size, in_core.data());
  ::munmap(map, size);
  if (rc != 0) throw_errno("mincore '" + path + "'");
  std::size_t n = 0;
  for (unsigned char c : in_core) n += c & 1;
  return n;
}

// Writes the file out and drops its pages from the page cache.
void evict(const std::string& path) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw_errno("open '" + path + "'");
  if (::fdatasync(fd.get()) != 0) throw_errno("fdatasync '" + path + "'");
  if (::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED) != 0)
    throw_errno("fadvise '" + path + "'");
}

void read_all(const std::string& path) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw_errno("open '" + path + "'");
  std::vector<char> buf(1 << 20);
  while (::read(fd.get(), buf.data(), buf.size()) > 0) {
  }
}

enum class source_cache { warm, cold };

void PrintTo(source_cache c, std::ostream* os) {
  *os << (c == source_cache::warm ? "warm" : "cold");
}

class large_file_test : public testing::TestWithParam<std::tuple<unsigned, source_cache>> {
 protected:
  // One source for every case, on a disk file system (the page cache of a tmpfs cannot be
  // dropped), built once.
  static void SetUpTestSuite() {
    scratch_ = std::make_unique<scratch_dir>("large", disk_scratch_root());
    build_large_tree(*scratch_ / "src");
  }
  static void TearDownTestSuite() { scratch_.reset(); }
  static std::unique_ptr<scratch_dir> scratch_;
};

std::unique_ptr<scratch_dir> large_file_test::scratch_;

TEST_P(large_file_test, tree_equals_source) {
  const auto [jobs, cache] = GetParam();
  const std::string src = *scratch_ / "src";
  for (const std::string& rel : data_files) {
    const std::string path = src + "/" + rel;
    if (cache == source_cache::warm) {
      read_all(path);
      ASSERT_GT(resident_pages(path), 0u) << path;
    } else {
      evict(path);
      if (resident_pages(path) != 0)
        GTEST_SKIP() << "the page cache of " << path << " cannot be dropped here";
    }
  }
  scratch_dir out("large-dst");
  treecopy::copy_options options;
  options.jobs = jobs;
  const treecopy::copy_report report = treecopy::copy_tree(src, out / "dst", options);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(report.copied[treecopy::entry_kind::file], 2u + sparse_files + 40u);
  EXPECT_EQ(report.copied[treecopy::entry_kind::hardlink], 1u);
  compare_options o;
  o.directory_atime = true;
  EXPECT_TRUE(same_trees(src, out / "dst", o));
}

INSTANTIATE_TEST_SUITE_P(jobs_and_cache, large_file_test,
                         testing::Combine(testing::Values(1u, 2u, 8u),
                                          testing::Values(source_cache::warm, source_cache::cold)),
                         [](const auto& info) {
                           return "j" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) == source_cache::warm ? "_warm"
                                                                                 : "_cold");
                         });

}  // namespace
}  // namespace treecopy_test
