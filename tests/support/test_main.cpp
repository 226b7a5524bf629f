// main() of the test executables: GoogleTest, with the process set up the way the tests expect.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fd.hpp"

int main(int argc, char** argv) {
  // A known umask, so that entries made by the builders and the copiers do not depend on the
  // caller's; and room for descriptors, as copies of deep trees run in this process too.
  ::umask(022);
  treecopy_test::raise_nofile_limit();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
