// Compile-time check that src/fs takes its open flags from <fcntl.h>, not from one architecture's
// numbers: this file is compiled with the numbers glibc has on arm64 and powerpc (see
// tests/CMakeLists.txt), where x86's O_DIRECTORY|O_NOFOLLOW mean O_DIRECT|O_LARGEFILE.
#include <fcntl.h>

#include "fs/sys.hpp"

static_assert(O_DIRECTORY == 040000 && O_NOFOLLOW == 0100000 && O_DIRECT == 0200000,
              "compiled with the arm64 numbers");
static_assert(treecopy::fs::dir_open_flags == (040000 | 0100000 | O_CLOEXEC),
              "dir_open_flags follows <fcntl.h>");
static_assert((treecopy::fs::dir_open_flags & O_DIRECT) == 0, "no O_DIRECT in dir_open_flags");
