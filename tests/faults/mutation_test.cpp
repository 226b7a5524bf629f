// A source that changes while it is copied: a mutator thread grows, shrinks, deletes and replaces
// files (by files, directories, symlinks, FIFOs) and removes and recreates whole directories. The
// copy must not crash or hang, must exit 0 or 1, must name a path in every error, and must still
// copy the part of the tree nobody touched exactly. A file that grows while it is copied is
// reported as changed, keeps a consistent prefix, and a later --update makes the copy exact.
// A third of the churn directories hold only files of at most 8 KiB, whose data the engine's
// io_uring batches read and write themselves; the others' files, up to 384 KiB, are batched too
// but for their data (copy_file_range). Files change between any two steps of a batch.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <random>
#include <thread>

#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "tree_walk.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_test::faults {
namespace {

constexpr int churn_dirs = 12;
constexpr int churn_files = 60;

std::string churn_dir(const std::string& src, int d) { return src + "/churn" + std::to_string(d); }
bool small_churn_dir(int d) { return d % 3 == 2; }
// The largest size of a file in a churn directory (a small one's files stay within a batch's).
std::size_t churn_size(int d, std::size_t size) {
  return small_churn_dir(d) ? size % (8 * 1024 + 1) : size;
}

void fill_churn_dir(const std::string& dir, int d, unsigned seed) {
  ::mkdir(dir.c_str(), 0755);
  ::mkdir((dir + "/sub").c_str(), 0755);
  for (int f = 0; f < churn_files; ++f) {
    const std::string p = dir + (f % 4 == 0 ? "/sub/f" : "/f") + std::to_string(f);
    ::unlink(p.c_str());
    write_pattern_file(
        p, churn_size(d, (seed * 7919u + static_cast<unsigned>(f) * 104729u) % (384u * 1024u)),
        seed + static_cast<unsigned>(f));
  }
}

// SRC: churn directories the mutator works on, and a stable tree it never touches.
void build_source(const std::string& src) {
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < churn_dirs; ++d)
    fill_churn_dir(churn_dir(src, d), d, static_cast<unsigned>(d) + 1);
  random_tree_options o;
  o.seed = 41;
  o.directories = 30;
  o.files = 200;
  o.max_file_size = 128 * 1024;
  build_random_tree(src + "/stable", o);
}

// Changes the churn directories at random until stopped. Every call may fail (the copier or an
// earlier step may have removed or replaced what it aims at): failures are expected and ignored.
class mutator {
 public:
  /// canary: a file outside SRC that planted symlinks point to; nothing may ever write it.
  mutator(std::string src, std::string canary, unsigned seed)
      : src_(std::move(src)), canary_(std::move(canary)), rng_(seed) {}
  ~mutator() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t steps() const { return steps_.load(); }

 private:
  void run() {
    while (!stop_.load()) {
      step();
      steps_.fetch_add(1);
    }
  }

  // Every call is relative to a descriptor of the churn directory (or its "sub"), opened without
  // following a symlink, and none follows a symlink in its last component: the mutator itself
  // plants symlinks, and a path-based truncate() through one of them once truncated the file it
  // named outside the scratch directory.
  void step() {
    const int d = static_cast<int>(rng_() % churn_dirs);
    const int f = static_cast<int>(rng_() % churn_files);
    const std::string dir = churn_dir(src_, d);
    unique_fd top(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!top.valid()) {
      if (rng_() % 4 == 0) rebuild(dir, d);  // a churn directory removed by case 8 comes back
      return;
    }
    const bool in_sub = f % 4 == 0;
    unique_fd sub;
    if (in_sub)
      sub.reset(::openat(top.get(), "sub", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    const int at = in_sub ? sub.get() : top.get();
    const std::string name = "f" + std::to_string(f);
    const char* n = name.c_str();
    switch (rng_() % 10) {
      case 0: {  // grow
        unique_fd fd(::openat(at, n, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
        const std::string more(small_churn_dir(d) ? 512 : 64 * 1024, 'g');
        if (fd.valid()) (void)!::write(fd.get(), more.data(), more.size());
        break;
      }
      case 1: {  // shrink
        unique_fd fd(::openat(at, n, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
        struct stat st {};
        if (fd.valid() && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode))
          (void)!::ftruncate(fd.get(), static_cast<off_t>(rng_() % 1024));
        break;
      }
      case 2:  // delete
        ::unlinkat(at, n, 0);
        break;
      case 3: {  // replace atomically by a new file
        const std::string tmp = ".tmp" + std::to_string(f);
        ::unlinkat(top.get(), tmp.c_str(), 0);
        if (!write_pattern_at(top.get(), tmp, churn_size(d, rng_() % 200000),
                              static_cast<unsigned>(rng_())))
          break;
        ::renameat(top.get(), tmp.c_str(), at, n);
        break;
      }
      case 4:  // replace by a directory
        ::unlinkat(at, n, 0);
        ::mkdirat(at, n, 0755);
        break;
      case 5:  // replace by a symlink to a file outside SRC: must be copied as a link only
        ::unlinkat(at, n, 0);
        ::unlinkat(at, n, AT_REMOVEDIR);
        (void)!::symlinkat(canary_.c_str(), at, n);
        break;
      case 6:  // replace by a FIFO: a copier that opens it for reading would hang
        ::unlinkat(at, n, 0);
        ::unlinkat(at, n, AT_REMOVEDIR);
        ::mkfifoat(at, n, 0644);
        break;
      case 7:  // remove a directory while it may be walked
        if (rng_() % 8 == 0) remove_quietly(dir + "/sub");
        break;
      case 8:  // remove and rebuild a whole churn directory
        if (rng_() % 20 == 0) {
          sub.reset();
          top.reset();
          remove_quietly(dir);
          rebuild(dir, d);
        }
        break;
      default:  // recreate a deleted file (O_EXCL: never through a planted link)
        if (in_sub && !sub.valid()) {
          ::mkdirat(top.get(), "sub", 0755);
          break;
        }
        (void)write_pattern_at(at, name, churn_size(d, rng_() % 100000),
                               static_cast<unsigned>(rng_()));
        break;
    }
  }

  // Creates name in dirfd (O_EXCL | O_NOFOLLOW) with a pattern; false when that fails.
  static bool write_pattern_at(int dirfd, const std::string& name, std::size_t size,
                               unsigned seed) {
    unique_fd fd(
        ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd.valid()) return false;
    const std::string data = pattern_bytes(size, seed);
    return ::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size());
  }

  void rebuild(const std::string& dir, int d) {
    try {
      fill_churn_dir(dir, d, static_cast<unsigned>(rng_()));
    } catch (const std::exception&) {
    }
  }

  static void remove_quietly(const std::string& path) {
    try {
      remove_tree(path);
    } catch (const std::exception&) {
    }
  }

  std::string src_;
  std::string canary_;
  std::mt19937 rng_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> steps_{0};
  std::thread thread_;
};

class mutation_test : public testing::Test {
 protected:
  void SetUp() override {
    build_source(src_);
    write_pattern_file(canary_, 4096, 5);
    canary_before_ = read_file(canary_);
  }

  // The file the planted symlinks name is outside SRC and DST: neither the mutator nor the copier
  // may have written it.
  void expect_canary_untouched() {
    EXPECT_EQ(read_file(canary_), canary_before_) << "a write went through a planted symlink";
  }

  void expect_stable_part_copied(const std::string& dst) {
    compare_options o;
    o.left_label = "source";
    o.right_label = "copy";
    EXPECT_TRUE(same_trees(src_ + "/stable", dst + "/stable", o));
  }

  scratch_dir scratch_{"mutate"};
  std::string src_ = scratch_ / "src";
  std::string canary_ = scratch_ / "canary";
  std::optional<std::string> canary_before_;
};

TEST_F(mutation_test, cli_survives_a_changing_source) {
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string dst = scratch_ / ("dst" + std::to_string(round));
    const std::string jobs = round % 2 == 0 ? "8" : "2";
    mutator m(src_, canary_, static_cast<unsigned>(round) + 100);
    m.start();
    const auto r = run_treecopy_limited({"-q", "-j", jobs, src_, dst}, 120);
    m.stop();
    ASSERT_FALSE(hung(r)) << "the copy hung while its source changed\n" << r.describe();
    ASSERT_EQ(r.signal, 0) << r.describe();
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.describe();
    std::vector<std::string> malformed;
    const auto errors = parse_error_lines(r.err, &malformed);
    EXPECT_TRUE(malformed.empty()) << "an error that names no path: " << malformed.front();
    EXPECT_EQ(errors.size(), split_lines(r.err).size())
        << "with -q stderr holds only entry errors\n"
        << r.describe();
    for (const auto& e : errors) {
      EXPECT_TRUE(e.path.rfind(src_ + "/", 0) == 0 || e.path.rfind(dst, 0) == 0) << e.path;
    }
    EXPECT_EQ(r.exit_code == 1, !errors.empty()) << r.describe();
    expect_stable_part_copied(dst);
    expect_canary_untouched();
  }
}

// The same in-process, through the library, so that sanitizer builds see the engine's own threads
// race with the mutator; the report must hold a path for every error it keeps.
TEST_F(mutation_test, library_report_names_every_failure) {
  for (unsigned jobs : {1u, 4u, 16u}) {
    SCOPED_TRACE("jobs " + std::to_string(jobs));
    const std::string dst = scratch_ / ("lib" + std::to_string(jobs));
    treecopy::copy_options options;
    options.jobs = jobs;
    mutator m(src_, canary_, jobs);
    m.start();
    treecopy::copy_report rep;
    ASSERT_NO_THROW(rep = treecopy::copy_tree(src_, dst, options));
    m.stop();
    EXPECT_GE(rep.error_count, rep.errors.size());
    for (const auto& e : rep.errors) {
      EXPECT_TRUE(e.path.rfind(src_ + "/", 0) == 0 || e.path.rfind(dst, 0) == 0) << e.message();
      EXPECT_TRUE(e.code) << e.message();
    }
    expect_stable_part_copied(dst);
    expect_canary_untouched();
  }
}

// Appends one byte at a time to a file until stopped, so its size changes every microsecond or so:
// any copy that takes longer than that sees a different size after than before.
class appender {
 public:
  explicit appender(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)) {}
  ~appender() { stop(); }
  bool ok() const { return fd_ >= 0; }
  void start() {
    thread_ = std::thread([this] {
      while (!stop_.load(std::memory_order_relaxed)) {
        if (::write(fd_, "+", 1) != 1) return;
      }
    });
  }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct growing_case {
  std::size_t size;
  unsigned jobs;  ///< 1: one copy_file_range loop; 4 and 160 MiB: chunks copied by several workers
};
// The smaller file is 16 MiB, not less: a copy of a few MiB takes a fraction of a millisecond, and
// under a full ctest -j run on two cores the appender could miss all 20 such windows.

class growing_file_test : public testing::TestWithParam<growing_case> {};

struct stat lstat_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    ADD_FAILURE() << "lstat " << path << ": " << std::strerror(errno);
  return st;
}

TEST_P(growing_file_test, is_reported_keeps_a_prefix_and_update_repairs_it) {
  scratch_dir scratch("grow");
  const std::string src = scratch / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  write_pattern_file(src + "/growing", GetParam().size, 7);
  write_pattern_file(src + "/still", 5000, 8);

  treecopy::copy_options options;
  options.jobs = GetParam().jobs;
  // On a busy machine the appender may not get a core during a short copy: try a few times. Every
  // attempt must be consistent; at least one must see the change.
  bool seen = false;
  for (int attempt = 0; attempt < 20 && !seen; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    const std::string dst = scratch / ("dst" + std::to_string(attempt));
    const auto size_before = static_cast<std::size_t>(lstat_path(src + "/growing").st_size);
    appender a(src + "/growing");
    ASSERT_TRUE(a.ok());
    a.start();
    // Start copying only once the file is growing.
    while (static_cast<std::size_t>(lstat_path(src + "/growing").st_size) == size_before)
      std::this_thread::yield();
    treecopy::copy_report rep;
    ASSERT_NO_THROW(rep = treecopy::copy_tree(src, dst, options));
    a.stop();

    ASSERT_LE(rep.errors.size(), 1u);
    EXPECT_EQ(rep.error_count, rep.errors.size());
    if (!rep.errors.empty()) {
      seen = true;
      const treecopy::entry_error& e = rep.errors.front();
      EXPECT_EQ(e.path, src + "/growing");
      EXPECT_EQ(e.op, treecopy::operation::read);
      EXPECT_EQ(e.code, treecopy::errc::source_changed) << e.message();
      EXPECT_EQ(e.message(), "read '" + src + "/growing': file changed while it was copied");
    }
    // Changed or not, what was copied is the file as it was when its copy started: the pattern
    // and the bytes appended before that moment, nothing torn.
    const auto copied = read_file(dst + "/growing");
    const auto now = read_file(src + "/growing");
    ASSERT_TRUE(copied && now);
    ASSERT_GT(copied->size(), size_before);
    // Unreported, the appender was idle for the whole copy: the copy is then the whole file.
    if (seen) {
      ASSERT_LT(copied->size(), now->size());
    } else {
      ASSERT_LE(copied->size(), now->size());
    }
    EXPECT_TRUE(std::memcmp(copied->data(), now->data(), copied->size()) == 0)
        << "the copy is not a prefix of the grown source";

    if (seen) {
      // The copy kept the times read before the copy, so --update sees the difference and
      // repairs it.
      treecopy::copy_options again = options;
      again.update = true;
      ASSERT_NO_THROW(rep = treecopy::copy_tree(src, dst, again));
      EXPECT_EQ(rep.error_count, 0u);
      // Access times aside: reading 'still' for the first copy moved its source atime (relatime),
      // after the copy took it, and --update rightly leaves an unchanged file alone.
      compare_options o;
      o.atime = false;
      EXPECT_TRUE(same_trees(src, dst, o));
    }
  }
  EXPECT_TRUE(seen) << "20 copies of a file growing all the time never reported a change";
}

INSTANTIATE_TEST_SUITE_P(sizes, growing_file_test,
                         testing::Values(growing_case{16u << 20, 1}, growing_case{160u << 20, 4}),
                         [](const auto& info) {
                           return std::to_string(info.param.size >> 20) + "MiB_j" +
                                  std::to_string(info.param.jobs);
                         });

// A file of 8 KiB to 1 MiB that grows while a small-file batch copies it: the batch stats it,
// copies its data after the batch's creates and the other files' data, and stats it again, so the
// growth is reported as for a large file (the ordinary path copies such a file within microseconds
// of its stat). Every other file is copied exactly. An attempt may miss the growth (the appender
// was not scheduled in between): at least one of 20 must see it.
TEST(growing_file_cli_test, in_a_small_file_batch_is_reported) {
  if (!io_uring_works()) GTEST_SKIP() << "io_uring is not available here: no batches";
  scratch_dir scratch("grow-batch");
  const std::string src = scratch / "src";
  // a/ has more files than a copy without workers takes: its listing starts them, so that the
  // files of a/z/, listed after it, go in batches (a/'s own run may not).
  const std::string a = src + "/a";
  const std::string z = a + "/z";
  for (const std::string& d : {src, a, z}) ASSERT_EQ(::mkdir(d.c_str(), 0755), 0);
  constexpr std::size_t size = 100 * 1024;
  constexpr unsigned files = 72;
  for (unsigned i = 0; i < files; ++i) {
    write_pattern_file(a + "/f" + std::to_string(i), size, i + 1);
    write_pattern_file(z + "/f" + std::to_string(i), size, i + 101);
  }
  const std::string growing = z + "/grow";
  bool seen = false;
  for (int attempt = 0; attempt < 20 && !seen; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    if (attempt > 0) {
      ASSERT_EQ(::unlink(growing.c_str()), 0);
    }
    write_pattern_file(growing, size, 8);
    const std::string dst = scratch / ("dst" + std::to_string(attempt));
    appender grow(growing);
    ASSERT_TRUE(grow.ok());
    grow.start();
    while (lstat_path(growing).st_size == static_cast<off_t>(size)) std::this_thread::yield();
    const auto r = run_treecopy_limited({"-q", "-j", "2", src, dst}, 120);
    grow.stop();
    ASSERT_TRUE(exited_with(r, 0) || exited_with(r, 1)) << r.describe();
    const auto errors = parse_error_lines(r.err);
    for (const auto& e : errors) {
      EXPECT_EQ(e.path, growing);
      EXPECT_EQ(e.reason, "file changed while it was copied") << r.describe();
    }
    seen = exited_with(r, 1) && errors.size() == 1;
    compare_options o;
    o.left_label = "source";
    o.right_label = "copy";
    o.ignore.insert("a/z/grow");
    o.atime = false;  // reading the files for the copy moved their atimes (relatime)
    EXPECT_TRUE(same_trees(src, dst, o));
  }
  EXPECT_TRUE(seen) << "the growth of a batched file was never reported";
}

// The CLI names the file and the reason, and exits 1.
TEST(growing_file_cli_test, reports_the_change_and_exits_1) {
  scratch_dir scratch("grow-cli");
  const std::string src = scratch / "src";
  const std::string dst = scratch / "dst";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  write_pattern_file(src + "/growing", 64u << 20, 9);
  appender a(src + "/growing");
  ASSERT_TRUE(a.ok());
  a.start();
  while (lstat_path(src + "/growing").st_size == 64 << 20) std::this_thread::yield();
  const auto r = run_treecopy_limited({"-q", "-j", "2", src, dst}, 120);
  a.stop();
  EXPECT_TRUE(exited_with(r, 1));
  const auto errors = parse_error_lines(r.err);
  ASSERT_EQ(errors.size(), 1u) << r.describe();
  EXPECT_EQ(errors[0].path, src + "/growing");
  EXPECT_EQ(errors[0].reason, "file changed while it was copied") << r.describe();
}

}  // namespace
}  // namespace treecopy_test::faults
