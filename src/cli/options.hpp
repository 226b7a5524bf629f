// The command line: CLI11 options parsed into cli_args (copy_options plus what only the CLI
// needs: the progress view, where output goes).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "treecopy/treecopy.hpp"

namespace CLI {
class App;
}

namespace treecopy_cli {

/// The command line, as parsed.
struct cli_args {
  /// SRC and DST of the copy; with several sources or -t, the first SRC and DIR (see pairs).
  std::string src, dst, reflink = "auto", progress = "auto", progress_file;
  double progress_interval = 0;  // 0: the mode's default
  bool quiet = false, verbose = false, json = false;
  unsigned jobs = 0;
  bool dereference = false, follow_src = false;
  std::vector<std::string> excludes, includes, exclude_files;
  std::vector<std::string> preserve, no_preserve;  // --preserve, --no-preserve LISTs
  treecopy::copy_options options;
  /// The operands and -t/-T as given (SRC, then DST: CLI11 may put the last one in either).
  std::vector<std::string> operands;
  std::string last_operand, target_dir;
  bool no_target_dir = false;
  std::string files_from;  ///< --files-from FILE ("-": stdin)
  bool from0 = false;      ///< -0: its paths end with NUL, not newline
  /// The (SRC, DST) pairs to copy, as cp's forms make them of the operands (forms.hpp).
  std::vector<treecopy::copy_pair> pairs;
  /// DIR in the forms `SRC... DIR` and `-t DIR SRC...`; empty when DST is the copy.
  std::string into_dir;
};

/// text with its control characters as escapes (\n, \x1b), so that an argument repeated in a
/// message cannot split it or forge a line of its own.
std::string one_line(std::string_view text);

/// A term and what it means: one line of the exit-code table or of the examples. Texts may hold
/// '\n' where --help breaks the line; other outputs (the man page) join them.
struct doc_item {
  std::string_view term, text;
};

/// An option whose value is one of a fixed set (--reflink, --progress): the set that parse()
/// accepts is the one the man page and the completions offer.
struct value_set {
  std::string_view option;
  std::vector<std::string_view> values;
};

/// The exit codes, as the CLI uses them (summary.hpp) and --help and the man page tell them.
std::span<const doc_item> exit_code_docs();

/// Example command lines and what they do.
std::span<const doc_item> example_docs();

/// The paragraph about the progress views and stopping, as --help shows it.
std::string_view progress_doc();

/// The options with a fixed set of values.
std::span<const value_set> value_sets();

/// The CLI11 App that parse() uses, with every option bound to a: --help, the man page and the
/// shell completions are all made from it (docgen.hpp), so they cannot drift apart. --jobs tells
/// machine_jobs as this machine's default; 0 leaves that out (the man page is not this machine's).
std::unique_ptr<CLI::App> make_app(cli_args& a, unsigned machine_jobs);

/// Parses argv into a; returns an exit code when the program should end here (help, version, bad
/// usage: the message is printed). Reads the files of --exclude-from; never copies anything.
std::optional<int> parse(int argc, char** argv, cli_args& a);

}  // namespace treecopy_cli
