// The treecopy command: parses the command line and runs the copy (src/cli/options.hpp, run.hpp).
// One client of the library, with no special access.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>

#include "format.hpp"
#include "options.hpp"
#include "run.hpp"
#include "summary.hpp"

int main(int argc, char** argv) {
  try {
    treecopy_cli::cli_args args;
    if (std::optional<int> code = treecopy_cli::parse(argc, argv, args)) {
      // --help and --version: their text is the output, and losing it is an error.
      treecopy_cli::close_stdout();
      if (int err = treecopy_cli::write_error(STDOUT_FILENO)) {
        std::fprintf(stderr, "treecopy: write error on standard output: %s\n", std::strerror(err));
        return *code == 0 ? treecopy_cli::exit_entry_errors : *code;
      }
      return *code;
    }
    return treecopy_cli::run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "treecopy: %s\n", e.what());
    return treecopy_cli::exit_usage;
  } catch (...) {
    std::fprintf(stderr, "treecopy: unexpected error\n");
    return treecopy_cli::exit_usage;
  }
}
