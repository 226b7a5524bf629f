// GoogleTest assertions over the support code: tree equality with the comparator's full report
// as the failure message, and checks of the CLI's one-line error messages.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "process.hpp"
#include "tree_compare.hpp"

namespace treecopy_test {

/// Success when compare_trees() finds nothing; else a failure listing every difference.
inline testing::AssertionResult same_trees(const std::string& left, const std::string& right,
                                           const compare_options& options = {}) {
  const auto diffs = compare_trees(left, right, options);
  if (diffs.empty()) return testing::AssertionSuccess();
  return testing::AssertionFailure() << describe(diffs, options);
}

/// Success when the command exited with `code`; the failure shows its command line and output.
inline testing::AssertionResult exited_with(const process_result& r, int code) {
  if (r.exit_code == code && r.signal == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "expected exit code " << code << "\n" << r.describe();
}

/// Success when stderr is exactly one line starting with "treecopy: " that contains `names`
/// (a path or an option) and some reason beyond it.
inline testing::AssertionResult one_error_line_naming(const process_result& r,
                                                      const std::string& names) {
  const auto lines = split_lines(r.err);
  if (lines.size() != 1) {
    return testing::AssertionFailure()
           << "expected one line on stderr, got " << lines.size() << "\n"
           << r.describe();
  }
  const std::string& line = lines[0];
  if (line.rfind("treecopy: ", 0) != 0) {
    return testing::AssertionFailure() << "the line does not start with 'treecopy: '\n"
                                       << r.describe();
  }
  const auto at = line.find(names);
  if (at == std::string::npos) {
    return testing::AssertionFailure() << "the line does not name '" << names << "'\n"
                                       << r.describe();
  }
  // A reason: a few words besides the prefix and the name.
  if (line.size() < std::string("treecopy: ").size() + names.size() + 8) {
    return testing::AssertionFailure() << "the line gives no reason\n" << r.describe();
  }
  return testing::AssertionSuccess();
}

}  // namespace treecopy_test
