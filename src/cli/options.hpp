// The command line: CLI11 options parsed into cli_args (copy_options plus what only the CLI
// needs: the progress view, where output goes).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "treecopy/treecopy.hpp"

namespace treecopy_cli {

/// The command line, as parsed.
struct cli_args {
  std::string src, dst, reflink = "auto", progress = "auto", progress_file;
  double progress_interval = 0;  // 0: the mode's default
  bool quiet = false, verbose = false, json = false;
  unsigned jobs = 0;
  bool dereference = false, follow_src = false;
  std::vector<std::string> excludes, includes, exclude_files;
  treecopy::copy_options options;
};

/// text with its control characters as escapes (\n, \x1b), so that an argument repeated in a
/// message cannot split it or forge a line of its own.
std::string one_line(std::string_view text);

/// Parses argv into a; returns an exit code when the program should end here (help, version, bad
/// usage: the message is printed). Reads the files of --exclude-from; never copies anything.
std::optional<int> parse(int argc, char** argv, cli_args& a);

}  // namespace treecopy_cli
