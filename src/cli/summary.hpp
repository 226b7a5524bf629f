// The end of a run: the outcome (report, exit code, signal), the exit code table, and the summary
// printed as text on stderr or as one JSON object (--json on stdout, and the NDJSON "finish"
// event). Header-only: the CLI is built as a single translation unit.
#pragma once

#include <signal.h>
#include <string.h>

#include <cstdint>
#include <string>

#include "format.hpp"
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
  unsigned jobs = 0;             ///< workers actually used
  double progress_interval = 0;  ///< seconds between progress events (json, lines)
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
inline int exit_code_for(const run_outcome& o) {
  if (o.signal) return 128 + o.signal;
  if (!o.failure.empty()) return o.failure_exit;
  if (o.report.error_count || o.report.cancelled || o.output_lost) return exit_entry_errors;
  return exit_ok;
}

/// "ok", "errors", "cancelled", "setup_error" (nothing was done) or "failed" (an unexpected error).
inline const char* status_of(const run_outcome& o) {
  if (!o.failure.empty()) return o.failure_exit == exit_usage ? "setup_error" : "failed";
  if (o.report.cancelled) return "cancelled";
  return o.report.error_count ? "errors" : "ok";
}

/// "1 file", "3 directories", ... for the text summary.
inline std::string count_of(std::uint64_t n, treecopy::entry_kind kind) {
  static constexpr const char* names[treecopy::entry_kind_count][2] = {
      {"file", "files"},
      {"directory", "directories"},
      {"symlink", "symlinks"},
      {"hard link", "hard links"},
      {"FIFO", "FIFOs"},
      {"socket", "sockets"},
      {"character device", "character devices"},
      {"block device", "block devices"}};
  return std::to_string(n) + " " + names[static_cast<std::size_t>(kind)][n == 1 ? 0 : 1];
}

inline const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal";
  }
}

/// "EACCES", or "" when the C library has no name for the value.
inline const char* errno_name(int value) {
  const char* name = ::strerrorname_np(value);
  return name ? name : "";
}

/// A stable identifier for an operation in JSON output ("open_source", "set_times", ...): the
/// library's to_string() gives verbs for messages ("set times of"), which may change wording.
inline const char* operation_id(treecopy::operation op) {
  using treecopy::operation;
  switch (op) {
    case operation::open_source:
      return "open_source";
    case operation::stat:
      return "stat";
    case operation::read_dir:
      return "read_dir";
    case operation::read_link:
      return "read_link";
    case operation::read_xattr:
      return "read_xattr";
    case operation::read:
      return "read";
    case operation::create:
      return "create";
    case operation::remove:
      return "remove";
    case operation::write:
      return "write";
    case operation::clone:
      return "clone";
    case operation::link:
      return "link";
    case operation::set_owner:
      return "set_owner";
    case operation::set_mode:
      return "set_mode";
    case operation::set_times:
      return "set_times";
    case operation::set_xattr:
      return "set_xattr";
    case operation::close:
      return "close";
    case operation::cancelled:
      return "cancelled";
  }
  return "other";
}

/// One entry error as a JSON object (shared by the "error" event and the summary's error list).
inline json_object& add_error_fields(json_object& j, const treecopy::entry_error& e) {
  const bool is_errno = e.code.category() == std::generic_category();
  j.path("path", e.path)
      .str("operation", operation_id(e.op))
      .num("errno", is_errno ? e.code.value() : 0)
      .str("errno_name", is_errno ? errno_name(e.code.value()) : "");
  if (e.code == treecopy::errc::source_changed) j.str("treecopy_error", "source_changed");
  if (e.code == treecopy::errc::directory_cycle) j.str("treecopy_error", "directory_cycle");
  if (e.code == treecopy::errc::into_itself) j.str("treecopy_error", "into_itself");
  if (e.code == treecopy::errc::holds_source) j.str("treecopy_error", "holds_source");
  if (e.code == treecopy::errc::holds_excluded) j.str("treecopy_error", "holds_excluded");
  if (e.code == treecopy::errc::mount_point) j.str("treecopy_error", "mount_point");
  return j.str("message", e.code.message());
}

/// The summary as the members of a JSON object (the caller adds "event" for the NDJSON stream).
inline json_object& add_summary_fields(json_object& j, const run_info& info, const run_outcome& o) {
  const treecopy::copy_report& r = o.report;
  j.str("status", status_of(o)).num("exit_code", o.exit_code);
  j.path("source", info.source)
      .path("destination", info.destination)
      .boolean("dry_run", info.dry_run);
  if (!o.failure.empty()) j.str("message", o.failure);
  j.boolean("cancelled", r.cancelled);
  if (o.signal)
    j.str("signal", signal_name(o.signal));
  else
    j.null("signal");
  double secs = seconds_of(r.elapsed);
  json_object kinds;
  for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k)
    kinds.num(treecopy::to_string(static_cast<treecopy::entry_kind>(k)), r.copied.by_kind[k]);
  kinds.num("total", r.copied.total());
  j.real("elapsed", secs).raw("entries", std::move(kinds).done()).num("bytes", r.bytes_copied);
  j.real("bytes_per_second", secs > 0 ? static_cast<double>(r.bytes_copied) / secs : 0.0);
  j.num("skipped", r.skipped).num("removed", r.removed).num("error_count", r.error_count);
  std::string list = "[";
  for (const treecopy::entry_error& e : r.errors) {
    if (list.size() > 1) list += ',';
    json_object item;
    list += std::move(add_error_fields(item, e)).done();
  }
  list += ']';
  j.raw("errors", list);
  j.num("errors_not_listed", r.error_count - static_cast<std::uint64_t>(r.errors.size()));
  return j;
}

/// The --json summary: one object, one line.
inline std::string summary_json(const run_info& info, const run_outcome& o) {
  json_object j;
  return std::move(add_summary_fields(j, info, o)).done() + "\n";
}

/// The human summary, for stderr: counts by kind, bytes, time, throughput, skipped, the first
/// errors and their total, and how a stop happened.
inline std::string summary_text(const run_info& info, const run_outcome& o,
                                std::size_t errors_shown) {
  const treecopy::copy_report& r = o.report;
  std::string kinds;
  for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k) {
    if (r.copied.by_kind[k] == 0) continue;
    if (!kinds.empty()) kinds += ", ";
    kinds += count_of(r.copied.by_kind[k], static_cast<treecopy::entry_kind>(k));
  }
  double secs = seconds_of(r.elapsed);
  char time_buf[64];
  std::snprintf(time_buf, sizeof time_buf, "%.2f s", secs);
  std::string out = info.dry_run ? "treecopy: dry run: would copy " : "treecopy: copied ";
  out += std::to_string(r.copied.total()) + " entries (" + (kinds.empty() ? "none" : kinds) + "), ";
  out += format_bytes(static_cast<double>(r.bytes_copied)) + " in " + time_buf;
  if (!info.dry_run && secs > 0)
    out += " (" + format_rate(static_cast<double>(r.bytes_copied) / secs) + ")";
  if (r.skipped) out += "; " + std::to_string(r.skipped) + " skipped";
  if (r.removed) out += "; " + std::to_string(r.removed) + " removed";
  out += "; " + std::to_string(r.error_count) + (r.error_count == 1 ? " error\n" : " errors\n");
  if (r.error_count) {
    std::size_t shown = std::min(errors_shown, r.errors.size());
    out += "treecopy: " + (shown < r.error_count ? "first " + std::to_string(shown) + " of "
                                                 : std::string("all "));
    out += std::to_string(r.error_count) + (r.error_count == 1 ? " error:\n" : " errors:\n");
    for (std::size_t i = 0; i < shown; ++i) out += "  cannot " + r.errors[i].message() + "\n";
  }
  if (o.signal && r.cancelled)
    out += std::string("treecopy: stopped by ") + signal_name(o.signal) +
           ": no new entry was started and files being written were removed\n";
  else if (o.signal)
    out += std::string("treecopy: ") + signal_name(o.signal) + " received as the copy ended\n";
  else if (r.cancelled)
    out += "treecopy: stopped before the end\n";
  return out;
}

}  // namespace treecopy_cli
