// Special sources: files in /proc and /sys (sizes of 0 or 4096 that lie; some refuse to be read),
// FIFOs (must be recreated, never opened: the copy must not block), sockets, and device nodes
// copied by a user who may not create them.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "entry_check.hpp"
#include "fault_support.hpp"
#include "scratch.hpp"
#include "tree_assert.hpp"
#include "tree_maker.hpp"
#include "tree_walk.hpp"

namespace treecopy_test::faults {
namespace {

TEST(pseudo_files, proc_files_as_single_sources) {
  scratch_dir s("proc");
  for (const char* src :
       {"/proc/version", "/proc/self/status", "/proc/meminfo", "/proc/self/mountinfo"}) {
    SCOPED_TRACE(src);
    if (!exists(src)) continue;
    const std::string dst = s / (std::string("copy") + std::to_string(std::string(src).size()) +
                                 std::string(src).substr(std::string(src).rfind('/') + 1));
    const auto r = run_treecopy_limited({"-q", src, dst}, 60);
    ASSERT_FALSE(hung(r)) << r.describe();
    EXPECT_TRUE(exited_with(r, 0));
    const auto copy = read_file(dst);
    ASSERT_TRUE(copy.has_value());
    EXPECT_FALSE(copy->empty()) << "a /proc file (st_size 0) was copied empty";
    if (std::string(src) == "/proc/version") {
      EXPECT_EQ(copy, read_file(src));
    }
  }
}

// A directory of /proc whose files are stable: content equal, not empty.
TEST(pseudo_files, proc_directory) {
  const std::string src = "/proc/sys/fs/inotify";
  if (!exists(src)) GTEST_SKIP() << src << " does not exist here";
  scratch_dir s("procdir");
  const std::string dst = s / "inotify";
  const auto r = run_treecopy_limited({"-q", src, dst}, 60);
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(exited_with(r, 0));
  for (const std::string& rel : regular_files(src)) {
    const auto want = read_file(src + "/" + rel);
    if (!want) continue;
    EXPECT_FALSE(want->empty());
    EXPECT_EQ(read_file(dst + "/" + rel), want) << rel;
  }
}

// A small /sys subtree: files report st_size 4096; some refuse read() (EINVAL, EOPNOTSUPP), which
// must be reported, not copied as empty or as 4096 bytes of garbage.
TEST(pseudo_files, sys_subtree) {
  const std::string src = "/sys/devices/virtual/net/lo";
  if (!exists(src)) GTEST_SKIP() << src << " does not exist here (no sysfs or no loopback device)";
  scratch_dir s("sys");
  const std::string dst = s / "lo";
  const auto r = run_treecopy_limited({"-q", "-j", "4", src, dst}, 120);
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.describe();
  const auto errors = parse_error_lines(r.err);
  for (const auto& e : errors) EXPECT_EQ(e.path.rfind(src + "/", 0), 0u) << e.op << " " << e.path;
  std::size_t checked = 0;
  for (const std::string& rel : regular_files(src)) {
    const auto want = read_file(src + "/" + rel);
    const std::string copy_path = dst + "/" + rel;
    if (!want) {
      EXPECT_FALSE(exists(copy_path) && !read_file(copy_path)->empty())
          << rel << " cannot be read, yet its copy has data";
      continue;
    }
    if (want->empty()) continue;
    const auto got = read_file(copy_path);
    bool reported = false;
    for (const auto& e : errors) reported = reported || e.path == src + "/" + rel;
    if (!got) {
      EXPECT_TRUE(reported) << rel << " is readable but neither copied nor reported";
      continue;
    }
    EXPECT_FALSE(got->empty()) << rel << ": source has '" << printable(*want) << "', copy is empty";
    if (got->size() == 4096u && want->size() != 4096u) {
      ADD_FAILURE() << rel << ": copied as " << got->size() << " bytes (its st_size), source has "
                    << want->size() << " bytes: '" << printable(*want, 60) << "'";
      continue;
    }
    ++checked;
    // Stable attributes of the loopback device must be equal.
    if (rel == "address" || rel == "mtu" || rel == "ifindex" || rel == "type") {
      EXPECT_TRUE(got == want) << rel << ": '" << printable(*got, 60) << "' != '"
                               << printable(*want, 60) << "'";
    }
  }
  EXPECT_GT(checked, 5u);
}

TEST(special_sources, fifo_socket_and_a_tree_of_them_never_block) {
  scratch_dir s("fifo");
  const std::string src = s / "src";
  {
    tree_maker m(src, 51);
    m.file("before", "x", 0644);
    m.special("pipe", S_IFIFO, 0640);
    m.dir("d", 0755);
    m.special("d/pipe2", S_IFIFO, 0600);
    m.file("d/after", "y", 0644);
    m.finish();
  }
  // A bound socket (mknod cannot make a live one).
  const std::string sock_path = src + "/d/live.sock";
  unique_fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(sock.valid());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock_path.size(), sizeof addr.sun_path);
  std::copy(sock_path.begin(), sock_path.end(), addr.sun_path);
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(sock.get(), 1), 0);

  for (const char* jobs : {"1", "4"}) {
    const std::string dst = s / (std::string("dst") + jobs);
    const auto r = run_treecopy_limited({"-q", "-j", jobs, src, dst}, 30);
    ASSERT_FALSE(hung(r)) << "the copy blocked on a FIFO or socket\n" << r.describe();
    EXPECT_TRUE(exited_with(r, 0));
    compare_options o;
    o.ignore = {"d"};  // the socket's directory was changed after finish(); compared below
    EXPECT_TRUE(same_trees(src, dst, o));
    struct stat st {};
    ASSERT_EQ(::lstat((dst + "/d/pipe2").c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    ASSERT_EQ(::lstat((dst + "/d/live.sock").c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
  }
  // A FIFO as SRC itself.
  const auto r = run_treecopy_limited({"-q", src + "/pipe", s / "lone_pipe"}, 30);
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(exited_with(r, 0));
  struct stat st {};
  ASSERT_EQ(::lstat((s / "lone_pipe").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(special_sources, devices_as_non_root_are_reported_and_the_rest_copied) {
  if (auto why = unprivileged_unavailable()) GTEST_SKIP() << *why;
  scratch_dir s("devices");
  s.give_to(unprivileged_id);
  const std::string src = s / "src";
  {
    tree_maker m(src, 52);
    const owner nobody{unprivileged_id, unprivileged_id};
    m.file("a", "x", 0644, nobody);
    m.special("null_like", S_IFCHR, 0666, makedev(1, 3));
    m.special("loop_like", S_IFBLK, 0660, makedev(7, 0));
    m.file("z", "y", 0644, nobody);
    m.finish();
  }
  const std::string dst = s / "dst";
  const auto r = run_treecopy_limited({"-q", src, dst}, 60, as_uid(unprivileged_id));
  ASSERT_FALSE(hung(r)) << r.describe();
  EXPECT_TRUE(exited_with(r, 1));
  const auto errors = parse_error_lines(r.err);
  for (const char* dev : {"null_like", "loop_like"}) {
    bool named = false;
    for (const auto& e : errors)
      named = named || e.path == dst + "/" + dev || e.path == src + "/" + dev;
    EXPECT_TRUE(named) << dev << " not reported\n" << r.describe();
  }
  EXPECT_EQ(read_file(dst + "/a"), std::optional<std::string>("x"));
  EXPECT_EQ(read_file(dst + "/z"), std::optional<std::string>("y"));
  EXPECT_FALSE(exists(dst + "/null_like"));
}

}  // namespace
}  // namespace treecopy_test::faults
