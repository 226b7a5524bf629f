// What --version says: see build_info.hpp.
#include "build_info.hpp"

#include <CLI/Version.hpp>

#include "treecopy/treecopy.hpp"
// Generated at each build (cmake/build_commit.cmake); a build that does not make it (the fuzzers)
// says "unknown".
#if __has_include("treecopy_build_commit.hpp")
#include "treecopy_build_commit.hpp"
#else
#define TREECOPY_BUILD_COMMIT "unknown"
#endif

#ifndef TREECOPY_BUILT_WITH_TBB
#define TREECOPY_BUILT_WITH_TBB "unknown"
#endif
#ifndef TREECOPY_BUILT_WITH_COMPILER
#define TREECOPY_BUILT_WITH_COMPILER "unknown"
#endif

namespace treecopy_cli {

const char* build_commit() { return TREECOPY_BUILD_COMMIT; }

std::string version_text() {
  // The library's version is the one loaded at run time: a CLI run against another libtreecopy
  // than it was built with says so on the first line.
  std::string text = std::string("treecopy ") + treecopy::version() + "\n";
  text += std::string("commit: ") + build_commit() + "\n";
  text += "built with: oneTBB " TREECOPY_BUILT_WITH_TBB ", CLI11 " CLI11_VERSION
          ", " TREECOPY_BUILT_WITH_COMPILER;
  return text;
}

}  // namespace treecopy_cli
