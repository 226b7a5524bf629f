// Unit tests of the data copy (src/fs copy_range()): within one file system (copy_file_range) and
// across two (where copy_file_range says EXDEV and sendfile, splice through a pipe or read/write
// take over), with and without file positions of its own (a whole file is then copied by the
// descriptors' positions, without offsets), whole files of the sizes at the
// paths' thresholds, ranges at an offset, sparse files whose holes must stay holes, files shorter
// than the length asked for, cancellation and progress counts. Every copy is read back and
// compared byte for byte.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fd.hpp"
#include "fs/sys.hpp"
#include "scratch.hpp"

namespace treecopy_test {
namespace {

constexpr std::uint64_t kib = 1024, mib = 1024 * kib;
using span = std::pair<std::uint64_t, std::uint64_t>;  // offset, length

std::vector<char> pattern(std::size_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::vector<char> bytes(size);
  for (char& c : bytes) c = static_cast<char>(gen());
  return bytes;
}

void write_at(int fd, const std::vector<char>& bytes, off_t off) {
  for (std::size_t done = 0; done < bytes.size();) {
    ssize_t n =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, off + static_cast<off_t>(done));
    if (n <= 0) throw_errno("pwrite");
    done += static_cast<std::size_t>(n);
  }
}

std::vector<char> read_file(const std::string& path) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw_errno("open '" + path + "'");
  std::vector<char> out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) throw_errno("read '" + path + "'");
    if (n == 0) return out;
    out.insert(out.end(), buf, buf + n);
  }
}

// Where the source and the destination live: both on the tmpfs scratch (one file system), or one
// on the disk scratch and the other on the tmpfs (two file systems), in either direction.
enum class place { same_fs, disk_to_tmpfs, tmpfs_to_disk };

std::string place_name(place p) {
  switch (p) {
    case place::same_fs:
      return "same_fs";
    case place::disk_to_tmpfs:
      return "disk_to_tmpfs";
    case place::tmpfs_to_disk:
      return "tmpfs_to_disk";
  }
  return "?";
}

class copy_range_test : public testing::TestWithParam<std::tuple<place, bool>> {
 protected:
  void SetUp() override {
    const place p = std::get<0>(GetParam());
    position_ours_ = std::get<1>(GetParam());
    tmp_ = std::make_unique<scratch_dir>("copy-range");
    if (p != place::same_fs) {
      disk_ = std::make_unique<scratch_dir>("copy-range-disk", disk_scratch_root());
      struct stat a {
      }, b{};
      ASSERT_EQ(::stat(tmp_->path().c_str(), &a), 0);
      ASSERT_EQ(::stat(disk_->path().c_str(), &b), 0);
      if (a.st_dev == b.st_dev)
        GTEST_SKIP() << "the disk scratch and the scratch are one file system";
    }
    src_dir_ = p == place::disk_to_tmpfs ? disk_->path() : tmp_->path();
    dst_dir_ = p == place::tmpfs_to_disk ? disk_->path() : tmp_->path();
    cross_fs_ = p != place::same_fs;
  }

  // A fresh source file at src_dir_/name with the given bytes.
  std::string make_source(const std::string& name, const std::vector<char>& bytes) {
    const std::string path = src_dir_ + "/" + name;
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) throw_errno("create '" + path + "'");
    write_at(fd.get(), bytes, 0);
    return path;
  }

  // Copies [offset, offset + length) of src into a fresh destination file; returns its path.
  std::string copy(const std::string& src, std::uint64_t offset, std::uint64_t length, bool sparse,
                   treecopy::fs::copy_result& r, const std::atomic<bool>* cancel = nullptr) {
    const std::string dst = dst_dir_ + "/copy-" + std::to_string(++copies_);
    unique_fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    unique_fd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!in.valid() || !out.valid()) throw_errno("open for copy");
    progress_ = 0;
    refused_ = false;
    treecopy::fs::copy_control ctl{&progress_, cancel, true, &refused_, position_ours_};
    // Both positions are the copy's own: a whole file goes by the descriptors' positions.
    ctl.src_position_ours = position_ours_;
    r = treecopy::fs::copy_range(in.get(), out.get(), offset, length, sparse, ctl);
    return dst;
  }

  bool position_ours_ = false;
  bool cross_fs_ = false;
  std::unique_ptr<scratch_dir> tmp_, disk_;
  std::string src_dir_, dst_dir_;
  std::atomic<std::uint64_t> progress_{0};
  std::atomic<bool> refused_{false};
  int copies_ = 0;
};

TEST_P(copy_range_test, whole_files_of_every_threshold_size) {
  // 0 and 1 byte; a page and around it; just under and at the pipe threshold (256 KiB); more than
  // one 1 MiB pipe-full and an odd tail.
  for (std::uint64_t size :
       std::vector<std::uint64_t>{0, 1, 4095, 4096, 4097, 256 * kib - 1, 256 * kib, 3 * mib + 7}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const auto bytes = pattern(size, static_cast<unsigned>(size));
    const std::string src = make_source("whole-" + std::to_string(size), bytes);
    treecopy::fs::copy_result r;
    const std::string dst = copy(src, 0, size, false, r);
    EXPECT_EQ(r.error, 0);
    EXPECT_EQ(r.bytes, size);
    EXPECT_EQ(progress_.load(), size);
    EXPECT_EQ(read_file(dst), bytes);
    // copy_file_range is asked only when there is something to copy.
    if (size > 0) {
      EXPECT_EQ(refused_.load(), cross_fs_);
    }
  }
}

TEST_P(copy_range_test, a_range_at_an_offset_lands_at_the_same_offset) {
  const auto bytes = pattern(5 * mib, 7);
  const std::string src = make_source("ranged", bytes);
  for (auto [off, len] : std::vector<span>{{mib + 5, 2 * mib}, {4096, 100}, {3 * mib, 2 * mib}}) {
    SCOPED_TRACE("offset " + std::to_string(off) + " length " + std::to_string(len));
    treecopy::fs::copy_result r;
    const std::string dst = copy(src, off, len, false, r);
    EXPECT_EQ(r.error, 0);
    EXPECT_EQ(r.bytes, len);
    std::vector<char> expect(off + len, 0);
    std::copy(bytes.begin() + static_cast<std::ptrdiff_t>(off),
              bytes.begin() + static_cast<std::ptrdiff_t>(off + len),
              expect.begin() + static_cast<std::ptrdiff_t>(off));
    EXPECT_EQ(read_file(dst), expect);
  }
}

TEST_P(copy_range_test, sparse_files_keep_their_holes) {
  // Data at the start, a run in the middle longer than a pipe-full, a small piece near the end;
  // holes of several MiB between them.
  const std::uint64_t size = 12 * mib;
  std::vector<char> bytes(size, 0);
  const std::string path = src_dir_ + "/sparse";
  {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    for (auto [off, len] :
         std::vector<span>{{0, 64 * kib}, {4 * mib, 1536 * kib}, {size - 4096, 100}}) {
      const auto piece = pattern(len, static_cast<unsigned>(off));
      write_at(fd.get(), piece, static_cast<off_t>(off));
      std::copy(piece.begin(), piece.end(), bytes.begin() + static_cast<std::ptrdiff_t>(off));
    }
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
  }
  treecopy::fs::copy_result r;
  const std::string dst = copy(path, 0, size, true, r);
  EXPECT_EQ(r.error, 0);
  // Extents are whole blocks: the last piece's block ends at the file's end.
  EXPECT_EQ(r.bytes, 64 * kib + 1536 * kib + 4096);
  // The caller sets the size past a final hole.
  ASSERT_EQ(::truncate(dst.c_str(), static_cast<off_t>(size)), 0);
  EXPECT_EQ(read_file(dst), bytes);
  struct stat st {};
  ASSERT_EQ(::stat(dst.c_str(), &st), 0);
  EXPECT_LT(static_cast<std::uint64_t>(st.st_blocks) * 512, 3 * mib) << "the holes were filled";
}

TEST_P(copy_range_test, a_file_shorter_than_asked_copies_what_it_has) {
  const auto bytes = pattern(300 * kib + 3, 11);
  const std::string src = make_source("short", bytes);
  treecopy::fs::copy_result r;
  const std::string dst = copy(src, 0, 2 * mib, false, r);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.bytes, bytes.size());
  EXPECT_EQ(read_file(dst), bytes);
}

TEST_P(copy_range_test, until_end_of_file_reads_past_a_wrong_size) {
  const auto bytes = pattern(1 * mib + 9, 13);
  const std::string src = make_source("eof", bytes);
  treecopy::fs::copy_result r;
  const std::string dst = copy(src, 0, UINT64_MAX, false, r);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.bytes, bytes.size());
  EXPECT_EQ(read_file(dst), bytes);
}

TEST_P(copy_range_test, cancel_stops_before_copying) {
  const std::string src = make_source("cancelled", pattern(3 * mib, 17));
  const std::atomic<bool> cancel{true};
  treecopy::fs::copy_result r;
  (void)copy(src, 0, 3 * mib, false, r, &cancel);
  EXPECT_EQ(r.error, ECANCELED);
  EXPECT_EQ(r.bytes, 0u);
}

INSTANTIATE_TEST_SUITE_P(places, copy_range_test,
                         testing::Combine(testing::Values(place::same_fs, place::disk_to_tmpfs,
                                                          place::tmpfs_to_disk),
                                          testing::Bool()),
                         [](const auto& info) {
                           return place_name(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_own_position" : "_shared_position");
                         });

}  // namespace
}  // namespace treecopy_test
