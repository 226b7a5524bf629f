// Implementation of the copier runners.
#include "copiers.hpp"

#include <stdexcept>

#include "scratch.hpp"

namespace treecopy_test {

process_result run_cp(const std::string& src, const std::string& dst,
                      const process_options& options) {
  return run_process({"cp", "-a", "--no-target-directory", "--", src, dst}, options);
}

bool cp_ok_except_long_paths(const process_result& cp) {
  if (cp.exit_code == 0) return true;
  if (cp.exit_code != 1) return false;
  for (const std::string& line : split_lines(cp.err)) {
    if (line.find("File name too long") == std::string::npos) return false;
  }
  return true;
}

process_result run_treecopy(const std::vector<std::string>& args, const process_options& options) {
  const std::string cli = cli_path();
  if (cli.empty())
    throw std::runtime_error("the treecopy CLI was not built (TREECOPY_BUILD_CLI=OFF)");
  std::vector<std::string> argv{cli};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, options);
}

}  // namespace treecopy_test
