// Running the two copiers the tests compare: GNU `cp -a` (the reference) and the treecopy CLI.
#pragma once

#include <string>
#include <vector>

#include "process.hpp"

namespace treecopy_test {

/// `cp -a --no-target-directory -- src dst`: dst becomes the copy of src, as with treecopy.
process_result run_cp(const std::string& src, const std::string& dst,
                      const process_options& options = {});

/// Whether a cp run succeeded apart from paths longer than PATH_MAX: GNU cp (9.1) works with full
/// path strings and fails on them with "File name too long", so the full tree's long-path part
/// cannot be compared against cp (only against the source). Any other failure returns false.
bool cp_ok_except_long_paths(const process_result& cp);

/// The treecopy CLI with the given arguments.
process_result run_treecopy(const std::vector<std::string>& args,
                            const process_options& options = {});

}  // namespace treecopy_test
