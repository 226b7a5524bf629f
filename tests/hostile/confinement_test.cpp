// The test programs themselves must not be able to damage the machine: every one runs through
// tests/confine.sh, which makes the system's directories and the home directory read-only to it.
// This checks that the confinement is in force where it can be (root with a mount namespace).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "scratch.hpp"

namespace treecopy_test::hostile {
namespace {

// What tests/confine.sh says: "1" confined, "0" it could not (TREECOPY_UNCONFINED_WHY says why),
// unset: the program was not started through it at all.
std::string confined() {
  const char* c = std::getenv("TREECOPY_CONFINED");
  return c ? c : "";
}

// Tries to create (and at once remove) a new entry in dir; returns 0 or the errno of the attempt.
int try_create_in(const std::string& dir) {
  const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d < 0) return errno;
  const std::string name = ".treecopy-confinement-probe-" + std::to_string(::getpid());
  const int fd =
      ::openat(d, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  const int err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    ::close(fd);
    ::unlinkat(d, name.c_str(), 0);
  }
  ::close(d);
  return err;
}

TEST(confinement_test, system_directories_are_read_only_to_tests) {
  if (!running_as_root()) GTEST_SKIP() << "not root: the suite cannot write /etc anyway";
  ASSERT_NE(confined(), "") << "the test program was not started through tests/confine.sh";
  if (confined() == "0") GTEST_SKIP() << "unconfined: " << std::getenv("TREECOPY_UNCONFINED_WHY");
  for (const char* dir : {"/etc", "/usr", "/usr/bin"}) {
    EXPECT_EQ(try_create_in(dir), EROFS) << dir << " is writable to a test";
  }
  if (const char* home = std::getenv("HOME"); home && *home && std::string(home) != "/") {
    const int err = try_create_in(home);
    EXPECT_TRUE(err == EROFS || err == ENOENT) << home << ": " << std::strerror(err);
  }
}

TEST(confinement_test, scratch_stays_writable) {
  scratch_dir scratch("confine");
  EXPECT_EQ(try_create_in(scratch.path()), 0);
}

}  // namespace
}  // namespace treecopy_test::hostile
