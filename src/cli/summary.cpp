// The exit code table and the summaries: see summary.hpp.
#include "summary.hpp"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cstdio>

#include "format.hpp"

namespace treecopy_cli {

int exit_code_for(const run_outcome& o) {
  if (o.signal) return 128 + o.signal;
  if (!o.failure.empty()) return o.failure_exit;
  if (o.report.error_count || o.report.cancelled || o.output_lost) return exit_entry_errors;
  return exit_ok;
}

const char* status_of(const run_outcome& o) {
  if (!o.failure.empty()) return o.failure_exit == exit_usage ? "setup_error" : "failed";
  if (o.report.cancelled) return "cancelled";
  return o.report.error_count ? "errors" : "ok";
}

std::string count_of(std::uint64_t n, treecopy::entry_kind kind) {
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

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal";
  }
}

const char* errno_name(int value) {
  const char* name = ::strerrorname_np(value);
  return name ? name : "";
}

json_object& add_error_fields(json_object& j, const treecopy::entry_error& e) {
  const bool is_errno = e.code.category() == std::generic_category();
  j.path("path", e.path)
      .str("operation", treecopy::to_id(e.op))
      .str("side", treecopy::to_id(e.side))
      .num("errno", is_errno ? e.code.value() : 0)
      .str("errno_name", is_errno ? errno_name(e.code.value()) : "");
  if (e.code.category() == treecopy::error_category()) {
    const char* id = treecopy::to_id(static_cast<treecopy::errc>(e.code.value()));
    if (*id) j.str("treecopy_error", id);
  }
  return j.str("message", e.code.message());
}

json_object& add_summary_fields(json_object& j, const run_info& info, const run_outcome& o) {
  const treecopy::copy_report& r = o.report;
  j.str("status", status_of(o)).num("exit_code", o.exit_code);
  j.path("source", info.source)
      .path("destination", info.destination)
      .boolean("dry_run", info.dry_run);
  if (!info.sources.empty()) j.raw("sources", json_string_array(info.sources));
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

std::string summary_json(const run_info& info, const run_outcome& o) {
  json_object j;
  return std::move(add_summary_fields(j, info, o)).done() + "\n";
}

std::string summary_text(const run_info& info, const run_outcome& o, std::size_t errors_shown) {
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
