// A source that changes while it is copied: a mutator thread grows, shrinks, deletes and replaces
// files (by files, directories, symlinks, FIFOs) and removes and recreates whole directories. The
// copy must not crash or hang, must exit 0 or 1, must name a path in every error, and must still
// copy the part of the tree nobody touched exactly.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
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

void fill_churn_dir(const std::string& dir, unsigned seed) {
  ::mkdir(dir.c_str(), 0755);
  ::mkdir((dir + "/sub").c_str(), 0755);
  for (int f = 0; f < churn_files; ++f) {
    const std::string p = dir + (f % 4 == 0 ? "/sub/f" : "/f") + std::to_string(f);
    ::unlink(p.c_str());
    write_pattern_file(p, static_cast<std::size_t>((seed * 7919u + static_cast<unsigned>(f) * 104729u) % (384u * 1024u)),
                       seed + static_cast<unsigned>(f));
  }
}

// SRC: churn directories the mutator works on, and a stable tree it never touches.
void build_source(const std::string& src) {
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < churn_dirs; ++d) fill_churn_dir(churn_dir(src, d), static_cast<unsigned>(d) + 1);
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
  mutator(std::string src, unsigned seed) : src_(std::move(src)), rng_(seed) {}
  ~mutator() { stop(); }

  void start() { thread_ = std::thread([this] { run(); }); }
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

  void step() {
    const int d = static_cast<int>(rng_() % churn_dirs);
    const int f = static_cast<int>(rng_() % churn_files);
    const std::string dir = churn_dir(src_, d);
    const std::string p = dir + (f % 4 == 0 ? "/sub/f" : "/f") + std::to_string(f);
    switch (rng_() % 10) {
      case 0: {  // grow
        unique_fd fd(::open(p.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
        const std::string more(64 * 1024, 'g');
        if (fd.valid()) (void)!::write(fd.get(), more.data(), more.size());
        break;
      }
      case 1:  // shrink
        (void)!::truncate(p.c_str(), static_cast<off_t>(rng_() % 1024));
        break;
      case 2:  // delete
        ::unlink(p.c_str());
        break;
      case 3: {  // replace atomically by a new file
        const std::string tmp = dir + "/.tmp" + std::to_string(f);
        ::unlink(tmp.c_str());
        try {
          write_pattern_file(tmp, rng_() % 200000, static_cast<unsigned>(rng_()));
        } catch (const std::exception&) {
          break;
        }
        ::rename(tmp.c_str(), p.c_str());
        break;
      }
      case 4:  // replace by a directory
        ::unlink(p.c_str());
        ::mkdir(p.c_str(), 0755);
        break;
      case 5:  // replace by a symlink (to something outside SRC: must be copied as a link only)
        ::unlink(p.c_str());
        ::rmdir(p.c_str());
        (void)!::symlink("/etc/passwd", p.c_str());
        break;
      case 6:  // replace by a FIFO: a copier that opens it for reading would hang
        ::unlink(p.c_str());
        ::rmdir(p.c_str());
        ::mkfifo(p.c_str(), 0644);
        break;
      case 7:  // remove a directory while it may be walked
        if (rng_() % 8 == 0) {
          try {
            remove_tree(dir + "/sub");
          } catch (const std::exception&) {
          }
        }
        break;
      case 8:  // remove and rebuild a whole churn directory
        if (rng_() % 20 == 0) {
          try {
            remove_tree(dir);
            fill_churn_dir(dir, static_cast<unsigned>(rng_()));
          } catch (const std::exception&) {
          }
        }
        break;
      default: {  // recreate a deleted file
        ::mkdir((dir + "/sub").c_str(), 0755);
        try {
          write_pattern_file(p, rng_() % 100000, static_cast<unsigned>(rng_()));
        } catch (const std::exception&) {
        }
        break;
      }
    }
  }

  std::string src_;
  std::mt19937 rng_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> steps_{0};
  std::thread thread_;
};

class mutation_test : public testing::Test {
 protected:
  void SetUp() override { build_source(src_); }

  void expect_stable_part_copied(const std::string& dst) {
    compare_options o;
    o.left_label = "source";
    o.right_label = "copy";
    EXPECT_TRUE(same_trees(src_ + "/stable", dst + "/stable", o));
  }

  scratch_dir scratch_{"mutate"};
  std::string src_ = scratch_ / "src";
};

TEST_F(mutation_test, cli_survives_a_changing_source) {
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string dst = scratch_ / ("dst" + std::to_string(round));
    const std::string jobs = round % 2 == 0 ? "8" : "2";
    mutator m(src_, static_cast<unsigned>(round) + 100);
    m.start();
    const auto r = run_treecopy_limited({"-q", "-j", jobs, src_, dst}, 120);
    m.stop();
    ASSERT_FALSE(hung(r)) << "the copy hung while its source changed\n" << r.describe();
    ASSERT_EQ(r.signal, 0) << r.describe();
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.describe();
    std::vector<std::string> malformed;
    const auto errors = parse_error_lines(r.err, &malformed);
    EXPECT_TRUE(malformed.empty()) << "an error that names no path: " << malformed.front();
    EXPECT_EQ(errors.size(), split_lines(r.err).size()) << "with -q stderr holds only entry errors\n"
                                                        << r.describe();
    for (const auto& e : errors) {
      EXPECT_TRUE(e.path.rfind(src_ + "/", 0) == 0 || e.path.rfind(dst, 0) == 0) << e.path;
    }
    EXPECT_EQ(r.exit_code == 1, !errors.empty()) << r.describe();
    expect_stable_part_copied(dst);
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
    mutator m(src_, jobs);
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
  }
}

}  // namespace
}  // namespace treecopy_test::faults
