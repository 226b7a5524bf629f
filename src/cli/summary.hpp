// The end of a run: the outcome (report, exit code, signal), the exit code table, and the summary
// printed as text on stderr or as one JSON object (--json on stdout, and the NDJSON "finish"
// event).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "json.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_cli {

constexpr int exit_ok = 0;
constexpr int exit_entry_errors = 1;
constexpr int exit_usage = 2;

/// What the run was asked to do; shared by the views and the summary.
struct run_info {
  std::string source;
  std::string destination;
  bool dry_run = false;
  unsigned jobs = 0;             ///< workers planned (filled in for the JSON start event only)
  double progress_interval = 0;  ///< seconds between progress events (json, lines)
  /// Every SRC when there are several (source is the first, destination DIR); else empty.
  std::vector<std::string> sources;
};

/// How the run ended.
struct run_outcome {
  treecopy::copy_report report;
  int signal = 0;                 ///< SIGINT or SIGTERM when one stopped the run, else 0
  std::string failure;            ///< why the copy could not start (or broke off), else empty
  int failure_exit = exit_usage;  ///< the exit code for that failure
  bool output_lost = false;       ///< a write of entry lines, events or messages failed
  int exit_code = exit_ok;
};

/// The exit code table: a signal wins (128 + signal number), then a failure of the whole copy (2
/// for bad usage or input), then entry errors, a stop for another reason or lost output (1).
int exit_code_for(const run_outcome& o);

/// "ok", "errors", "cancelled", "setup_error" (nothing was done) or "failed" (an unexpected error).
const char* status_of(const run_outcome& o);

/// "1 file", "3 directories", ... for the text summary.
std::string count_of(std::uint64_t n, treecopy::entry_kind kind);

/// "SIGINT", "SIGTERM", or "signal" for another one.
const char* signal_name(int sig);

/// "EACCES", or "" when the C library has no name for the value.
const char* errno_name(int value);

/// One entry error as a JSON object (shared by the "error" event and the summary's error list).
json_object& add_error_fields(json_object& j, const treecopy::entry_error& e);

/// The summary as the members of a JSON object (the caller adds "event" for the NDJSON stream).
json_object& add_summary_fields(json_object& j, const run_info& info, const run_outcome& o);

/// The --json summary: one object, one line.
std::string summary_json(const run_info& info, const run_outcome& o);

/// The human summary, for stderr: counts by kind, bytes, time, throughput, skipped, the first
/// errors_shown errors and their total, and how a stop happened.
std::string summary_text(const run_info& info, const run_outcome& o, std::size_t errors_shown);

}  // namespace treecopy_cli
