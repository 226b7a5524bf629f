// Running treecopy-mpi in tests: mpiexec with n ranks, what TREECOPY_MPI_STATS tells of the job,
// and the parts of two runs' output that must be equal.
#pragma once

#include <unistd.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "process.hpp"
#include "tree_assert.hpp"

namespace treecopy_test {

// mpiexec with n ranks of treecopy-mpi and args, under `timeout` (a hang fails, not blocks).
inline process_result run_mpi(int n, const std::vector<std::string>& args, int seconds = 300,
                              const process_options& options = {}) {
  std::vector<std::string> argv = {"timeout",
                                   "-k",
                                   "10",
                                   std::to_string(seconds),
                                   TREECOPY_MPIEXEC,
                                   "--oversubscribe",
                                   "-np",
                                   std::to_string(n)};
  if (::geteuid() == 0 && !options.run_as) argv.emplace_back("--allow-run-as-root");
  argv.emplace_back(TREECOPY_MPI);
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, options);
}

// How many units the job handed from one rank to another (TREECOPY_MPI_STATS on stderr).
inline long units_handed_off(const process_result& r) {
  std::smatch m;
  static const std::regex re("units handed off ([0-9]+)");
  return std::regex_search(r.err, m, re) ? std::stol(m[1]) : -1;
}

// How many batches of a shared (huge) directory went to other ranks (TREECOPY_MPI_STATS).
inline long batches_handed_off(const process_result& r) {
  std::smatch m;
  static const std::regex re("batches of shared directories handed off ([0-9]+)");
  return std::regex_search(r.err, m, re) ? std::stol(m[1]) : -1;
}

// How many ranks copied batches of a shared (huge) directory's files (TREECOPY_MPI_STATS).
inline long ranks_that_copied_batches(const process_result& r) {
  std::smatch m;
  static const std::regex re("ranks that copied batches ([0-9]+)");
  return std::regex_search(r.err, m, re) ? std::stol(m[1]) : -1;
}

inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

inline compare_options against(const char* left) {
  compare_options o;
  o.left_label = left;
  o.right_label = "treecopy-mpi";
  // Trees made here have atimes in the past: reading them (cp, the copy) moves them.
  o.atime = false;
  return o;
}

// The counts of a --json summary, without what depends on the run (paths, times, speed).
inline std::string json_counts(const std::string& json) {
  const auto entries = json.find("\"entries\"");
  const auto speed = json.find(",\"bytes_per_second\"");
  const auto skipped = json.find("\"skipped\"");
  if (entries == std::string::npos || speed == std::string::npos || skipped == std::string::npos)
    return "no summary: " + json;
  return json.substr(entries, speed - entries) + json.substr(skipped);
}

}  // namespace treecopy_test
