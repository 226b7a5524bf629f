// libFuzzer target for the command line's parser: the CLI's own parse() (CLI11 options, --jobs
// and --progress-interval ranges, --reflink/--progress choices, --include/--exclude order and
// --exclude-from files), then the filter compilation the engine does with what it produced.
//
// Input: arguments separated by '\0' (at most 64), given after "treecopy". parse() only parses:
// it never copies anything. It may read files named by --exclude-from, and prints help or errors;
// scripts/fuzz.sh runs this target with stdin at /dev/null and -close_fd_mask=3.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "plan/filter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args{"treecopy"};
  std::string cur;
  for (std::size_t i = 0; i < size && args.size() < 65; ++i) {
    if (data[i] == '\0') {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(data[i]);
    }
  }
  if (args.size() < 65) args.push_back(cur);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  treecopy_cli::cli_args parsed;
  const std::optional<int> code =
      treecopy_cli::parse(static_cast<int>(args.size()), argv.data(), parsed);
  if (!code) {
    try {
      const treecopy::plan::filter f(parsed.options.filters);
      (void)f.excluded("a/b", "b", false);
    } catch (const treecopy::plan::filter_error&) {
    }
  }
  return 0;
}
