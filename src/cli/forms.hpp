// cp's command-line forms: which (SRC, DST) pairs the paths of the command line name.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "treecopy/treecopy.hpp"

namespace treecopy_cli {

/// What the paths of the command line say, before their pairs are worked out.
struct form_args {
  std::vector<std::string> paths;  ///< every operand, in order
  std::string target_dir;          ///< -t DIR, else empty
  bool no_target_dir = false;      ///< -T: DST is the copy, exactly two paths
  bool merging = false;            ///< --merge or --update: DST/ is still the copy
};

/// The pairs the paths name, as cp's forms: `SRC DST` (DST is the copy; also with -T),
/// `SRC... DIR` (more than one SRC, or one SRC and an existing directory written DIR/, without
/// --merge/--update) and `-t DIR SRC...`: each SRC is copied into DIR under its own name (its
/// last component: `a/b/` -> `b`). dir is set to DIR in the last two forms. Returns the pairs, or
/// prints why not (bad usage: DIR missing or not a directory, a SRC without a name of its own)
/// and returns nullopt.
std::optional<std::vector<treecopy::copy_pair>> pairs_of(const form_args& f, std::string& dir);

/// Reads FILE ("-": stdin) as records ended by sep (the last one may lack it), handing each to
/// each without its separator. option names FILE's option in messages: prints why and returns
/// false when FILE cannot be opened or read to its end.
bool read_records(const std::string& file, const char* option, char sep,
                  const std::function<void(std::string)>& each);

/// Reads the paths of --files-from FILE ("-": stdin): one a line (a trailing '\r' kept, blank
/// lines and lines starting with '#' or ';' skipped, as rsync does), or NUL-separated with nul
/// (-0: every non-empty path as is). Prints why and returns false when FILE cannot be read whole.
bool read_files_from(const std::string& file, bool nul, std::vector<std::string>& paths);

/// SRC's name in DIR: its last component, without trailing slashes; empty for "/", "." and "..".
std::string name_in_dir(const std::string& src);

}  // namespace treecopy_cli
