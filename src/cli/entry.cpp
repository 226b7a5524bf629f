// The treecopy command as a function: see entry.hpp.
#include "entry.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>

#include "format.hpp"
#include "options.hpp"
#include "run.hpp"
#include "summary.hpp"

namespace treecopy_cli {

int cli_main(int argc, char** argv) { return cli_main(argc, argv, nullptr); }

int cli_main(int argc, char** argv, const copy_function& copy) {
  try {
    cli_args args;
    if (std::optional<int> code = parse(argc, argv, args)) {
      // --help and --version: their text is the output, and losing it is an error.
      close_stdout();
      if (int err = write_error(STDOUT_FILENO)) {
        std::fprintf(stderr, "treecopy: write error on standard output: %s\n", std::strerror(err));
        return *code == 0 ? exit_entry_errors : *code;
      }
      return *code;
    }
    return copy ? run(args, copy) : run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "treecopy: %s\n", e.what());
    return exit_usage;
  } catch (...) {
    std::fprintf(stderr, "treecopy: unexpected error\n");
    return exit_usage;
  }
}

}  // namespace treecopy_cli
