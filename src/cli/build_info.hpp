// What --version says: the version, the commit it was built from and the libraries it was built
// with (fixed when the build runs: cmake/build_commit.cmake, the TREECOPY_BUILT_WITH_*
// definitions).
#pragma once

#include <string>

namespace treecopy_cli {

/// The commit the program was built from ("0123abcd4567", "-dirty" appended when the work tree
/// had changes), or "unknown" when it was not built from a git checkout.
const char* build_commit();

/// The --version text. Its first line is "treecopy X.Y.Z" (scripts read it); then the commit and
/// the libraries and compiler it was built with.
std::string version_text();

}  // namespace treecopy_cli
