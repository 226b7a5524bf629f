// The man page and the shell completions (bash, zsh, fish), made from the CLI11 App that parses
// the command line (options.hpp make_app()) and from the tables --help shows: one source, so that
// none of them can drift from --help. The treecopy_docgen program writes them at build time.
#pragma once

#include <string>
#include <vector>

namespace treecopy_cli {

/// One option or operand of the command line, as the App declares it.
struct option_doc {
  std::vector<std::string> names;   ///< "-j", "--jobs" (short names first); "SRC" for an operand
  std::string value_name;           ///< "UINT", "PATTERN", "FILE"...; empty for a flag
  std::vector<std::string> values;  ///< the fixed set of values (--reflink), else empty
  std::string default_value;        ///< as --help shows it, or empty
  std::string help;                 ///< the --help text
  bool operand = false;             ///< SRC, DST
  bool repeatable = false;          ///< every occurrence counts (--exclude)
  bool takes_file = false;          ///< the value names a file (--exclude-from, --progress-file)
};

/// Every option of the command line (--help and --version included), in --help's order.
std::vector<option_doc> option_docs();

/// The man page treecopy.1, in roff: every option, the progress views, the exit codes, examples.
std::string man_page();

/// Completion scripts: options, the values of the options with a fixed set, paths.
std::string bash_completion();
std::string zsh_completion();
std::string fish_completion();

}  // namespace treecopy_cli
