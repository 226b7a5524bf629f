// Hostile shapes and names: 255-byte names, paths over 10,000 bytes, names that are not UTF-8 or
// hold newlines, 100,000 entries in one directory, and a tree both wide and 2,000 levels deep
// copied with only 64 descriptors allowed. Each must copy exactly (checked with the comparator).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_builder.hpp"
#include "tree_maker.hpp"

namespace treecopy_test::faults {
namespace {

void expect_exact_copy(const std::string& src, const std::string& dst, const process_result& r) {
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(exited_with(r, 0));
  compare_options o;
  o.left_label = "source";
  o.right_label = "copy";
  EXPECT_TRUE(same_trees(src, dst, o));
}

TEST(names, long_odd_and_invalid_names) {
  scratch_dir s("names");
  const std::string src = s / "src";
  {
    tree_maker m(src, 31);
    const std::string n255(255, 'n');
    const std::string d255 = std::string(254, 'd') + "\xe9";  // 255 bytes, not UTF-8 at the end
    m.file(n255, "255-byte name", 0644);
    m.dir(d255, 0750);
    m.file(d255 + "/" + n255, "inside a 255-byte directory", 0600);
    m.symlink(d255 + "/link", n255 + "/../" + n255);
    for (const std::string& name :
         {std::string("line\nbreak"), std::string("\n"), std::string("\n\n\n"),
          std::string("tab\there"), std::string("caf\xe9"), std::string("\xff\xfe\xfd"),
          std::string("\xc3\x28"), std::string("-rf"), std::string("--merge"),
          std::string(" lead and trail "), std::string("back\\slash"), std::string("quote'\"`$(x)"),
          std::string("*?[a]"), std::string("\x01\x02\x1b[31m"),
          std::string("\xf0\x9f\x92\xa9 emoji")}) {
      m.file(name, "named " + name, 0644);
      m.dir("dir_" + name, 0755);
      m.file("dir_" + name + "/inner", "x", 0644);
    }
    m.finish();
  }
  for (const char* jobs : {"1", "8"}) {
    SCOPED_TRACE(std::string("jobs ") + jobs);
    const std::string dst = s / (std::string("dst") + jobs);
    expect_exact_copy(src, dst, run_treecopy_limited({"-q", "-j", jobs, src, dst}, 120));
  }
}

TEST(names, path_longer_than_10000_bytes) {
  scratch_dir s("longpath");
  const std::string src = s / "src";
  std::size_t length = 0;
  {
    tree_maker m(src, 32);
    unique_fd dir(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    for (int level = 0; level < 52; ++level) {
      const std::string name = std::to_string(level) + "_" + std::string(200, 'p');
      m.dir(name, level % 7 == 0 ? 0555 : 0755, {}, dir.get());
      m.file("f", "level " + std::to_string(level), 0644, {}, {}, dir.get());
      dir = open_dir_at(dir.get(), name);
      length += name.size() + 1;
    }
    m.file(std::string(255, 'z'), "at the bottom", 0644, {}, {}, dir.get());
    m.symlink("up", "..", {}, dir.get());
    m.finish();
  }
  ASSERT_GT(length, 10000u);
  for (const char* jobs : {"1", "4"}) {
    SCOPED_TRACE(std::string("jobs ") + jobs);
    const std::string dst = s / (std::string("dst") + jobs);
    expect_exact_copy(src, dst, run_treecopy_limited({"-q", "-j", jobs, src, dst}, 180));
  }
}

TEST(names, hundred_thousand_entries_in_one_directory) {
  scratch_dir s("flat");
  const std::string src = s / "src";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  {
    unique_fd dir(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir.valid());
    // The atime lies ahead of now: relatime would otherwise update it when the copier reads.
    const timespec times[2] = {{::time(nullptr) + 100000000, 1}, {1600000000, 2}};
    for (int i = 0; i < 100000; ++i) {
      const std::string name = "entry_" + std::to_string(i);
      if (i % 1000 == 0) {
        ASSERT_EQ(::mkdirat(dir.get(), name.c_str(), 0755), 0);
      } else if (i % 100 == 0) {
        ASSERT_EQ(::symlinkat("entry_1", dir.get(), name.c_str()), 0);
      } else {
        unique_fd f(
            ::openat(dir.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        ASSERT_TRUE(f.valid()) << name;
        if (i % 10 == 0) {
          ASSERT_EQ(::write(f.get(), name.data(), name.size()), static_cast<ssize_t>(name.size()));
        }
      }
      ASSERT_EQ(::utimensat(dir.get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
    }
    ASSERT_EQ(::futimens(dir.get(), times), 0);
  }
  const std::string dst = s / "dst";
  expect_exact_copy(src, dst, run_treecopy_limited({"-q", "-j", "4", src, dst}, 400));
}

// ulimit -n 64 on a tree that is wide (2,000 sibling directories, random subtrees) and deep (a
// 2,000-level chain): the copier must budget descriptors, not fail with EMFILE or hang.
class descriptor_starvation_test : public testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    src_dir_ = new scratch_dir("nofile");
    const std::string src = *src_dir_ / "src";
    {
      tree_maker m(src, 33);
      for (int i = 0; i < 2000; ++i) {
        const std::string d = "wide_" + std::to_string(i);
        m.dir(d, 0755);
        m.file(d + "/f", "wide " + std::to_string(i), 0644);
      }
      unique_fd dir(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      for (int level = 0; level < 2000; ++level) {
        const std::string name = "deep" + std::to_string(level);
        m.dir(name, 0755, {}, dir.get());
        if (level % 50 == 0) m.file("f", "level " + std::to_string(level), 0644, {}, {}, dir.get());
        dir = open_dir_at(dir.get(), name);
      }
      m.file("bottom", "bottom", 0644, {}, {}, dir.get());
      m.finish();
    }
    random_tree_options ro;
    ro.seed = 34;
    ro.directories = 300;
    ro.files = 3000;
    ro.max_depth = 10;
    ro.max_file_size = 64 * 1024;
    build_random_tree(src + "/random", ro);
  }
  static void TearDownTestSuite() {
    delete src_dir_;
    src_dir_ = nullptr;
  }
  static scratch_dir* src_dir_;
};
scratch_dir* descriptor_starvation_test::src_dir_ = nullptr;

TEST_P(descriptor_starvation_test, completes_with_64_descriptors) {
  const std::string src = *src_dir_ / "src";
  const std::string dst = *src_dir_ / ("dst" + std::to_string(GetParam()));
  const auto r =
      run_treecopy_limited({"-q", "-j", std::to_string(GetParam()), src, dst}, 400, nofile(64));
  expect_exact_copy(src, dst, r);
  EXPECT_EQ(r.err.find("Too many open files"), std::string::npos) << r.describe();
}

INSTANTIATE_TEST_SUITE_P(jobs, descriptor_starvation_test, testing::Values(1, 8),
                         [](const auto& info) { return "j" + std::to_string(info.param); });

}  // namespace
}  // namespace treecopy_test::faults
