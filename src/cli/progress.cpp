// The progress meter, the lines and json views, and the CLI's observer: see progress.hpp.
#include "progress.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "format.hpp"

namespace treecopy_cli {

progress_estimate progress_meter::update(const treecopy::progress_snapshot& s) {
  double t = seconds_of(s.elapsed);
  samples_.emplace_back(t, s.bytes_done);
  // Throughput over the last few seconds, so that the rate follows the current file rather than
  // the whole history; the oldest sample kept is the first one inside the window.
  while (samples_.size() > 2 && t - samples_[1].first >= window_seconds) samples_.pop_front();
  progress_estimate e;
  auto [t0, b0] = samples_.front();
  if (t - t0 >= 0.5)
    e.rate = static_cast<double>(s.bytes_done - std::min(b0, s.bytes_done)) / (t - t0);
  else if (t > 0)
    e.rate = static_cast<double>(s.bytes_done) / t;
  if (s.scan_complete) e.eta = eta_seconds(s, e.rate);
  return e;
}

// Files are measured when they are copied, so bytes_found is only a lower bound even after the
// walk: the estimate is the larger of the time left for the known bytes (at the recent rate) and
// the time left for the remaining entries (at the average entry rate so far).
std::optional<double> progress_meter::eta_seconds(const treecopy::progress_snapshot& s,
                                                  double rate) {
  double t = seconds_of(s.elapsed);
  // The first second says little: large files report their first blocks only when written.
  if (t < min_history_seconds) return std::nullopt;
  double bytes_left =
      s.bytes_found > s.bytes_done ? static_cast<double>(s.bytes_found - s.bytes_done) : 0;
  double entries_left =
      s.entries_found > s.entries_done ? static_cast<double>(s.entries_found - s.entries_done) : 0;
  double by_bytes = 0, by_entries = 0;
  if (bytes_left > 0) {
    if (!(rate > 0)) return std::nullopt;
    by_bytes = bytes_left / rate;
  }
  if (entries_left > 0) {
    if (s.entries_done == 0 || t <= 0) return std::nullopt;
    by_entries = entries_left * t / static_cast<double>(s.entries_done);
  }
  return std::max(by_bytes, by_entries);
}

std::string entries_text(const treecopy::progress_snapshot& s) {
  // Shown as found >= done even if the counters disagree by the top directory at the very end.
  return std::to_string(s.entries_done) + "/" +
         std::to_string(std::max(s.entries_found, s.entries_done)) + " entries";
}

std::string bytes_text(const treecopy::progress_snapshot& s) {
  return format_bytes(static_cast<double>(s.bytes_done)) + "/" +
         format_bytes(static_cast<double>(s.bytes_found));
}

std::string eta_text(const treecopy::progress_snapshot& s, const progress_estimate& e) {
  if (e.stopping) return "stopping";
  if (!s.scan_complete) return "scanning";
  return e.eta ? "ETA " + format_clock(*e.eta) : "ETA -";
}

void lines_view::progress(const treecopy::progress_snapshot& s, const progress_estimate& e) {
  // One line per interval on a fixed schedule: the library's extra call with the final state
  // (just after a tick) prints nothing, so a short copy logs only its summary.
  double t = seconds_of(s.elapsed);
  if (t < static_cast<double>(printed_ + 1) * interval_ * 0.95) return;
  printed_ = static_cast<std::uint64_t>(t / interval_ + 0.05);
  std::string line = "treecopy: " + format_clock(seconds_of(s.elapsed)) + "  " + entries_text(s) +
                     "  " + bytes_text(s) + "  " + format_rate(e.rate) + "  " + eta_text(s, e);
  if (s.errors) line += "  " + std::to_string(s.errors) + (s.errors == 1 ? " error" : " errors");
  if (s.skipped) line += "  " + std::to_string(s.skipped) + " skipped";
  write_all(fd_, line + "\n");
}

namespace {

std::string utc_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  ::gmtime_r(&ts.tv_sec, &utc);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  char ms[16];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(ts.tv_nsec / 1000000) % 1000);
  return std::string(buf) + ms;
}

}  // namespace

void json_view::start(const run_info& info) {
  json_object j;
  j.str("event", "start").str("version", treecopy::version()).str("time", utc_now());
  j.num("pid", static_cast<std::uint64_t>(::getpid()));
  j.path("source", info.source).path("destination", info.destination);
  if (!info.sources.empty()) j.raw("sources", json_string_array(info.sources));
  j.boolean("dry_run", info.dry_run).num("jobs", static_cast<std::uint64_t>(info.jobs));
  j.real("progress_interval", info.progress_interval);
  emit(std::move(j));
}

void json_view::progress(const treecopy::progress_snapshot& s, const progress_estimate& e) {
  json_object j;
  j.str("event", "progress").real("elapsed", seconds_of(s.elapsed));
  j.num("entries_found", s.entries_found).num("entries_done", s.entries_done);
  j.num("bytes_found", s.bytes_found).num("bytes_done", s.bytes_done);
  j.num("errors", s.errors).num("skipped", s.skipped).boolean("scan_complete", s.scan_complete);
  j.real("bytes_per_second", e.rate);
  if (e.eta)
    j.real("eta", *e.eta);
  else
    j.null("eta");
  j.boolean("stopping", e.stopping);
  emit(std::move(j));
}

void json_view::error(const treecopy::entry_error& err) {
  json_object j;
  j.str("event", "error");
  emit(std::move(add_error_fields(j, err)));
}

void json_view::entry(treecopy::entry_kind kind, std::string_view path) {
  json_object j;
  j.str("event", "entry").str("kind", treecopy::to_string(kind)).path("path", path);
  emit(std::move(j));
}

void json_view::removed(std::string_view path) {
  json_object j;
  j.str("event", "remove").path("path", path);
  emit(std::move(j));
}

void json_view::stop_requested(int signal) {
  json_object j;
  j.str("event", "stop_requested").str("signal", signal_name(signal));
  emit(std::move(j));
}

void json_view::finish(const run_info& info, const run_outcome& outcome) {
  json_object j;
  j.str("event", "finish");
  emit(std::move(add_summary_fields(j, info, outcome)));
}

void json_view::emit(json_object&& j) { write_all(fd_, std::move(j).done() + "\n"); }

std::string entry_text(std::string_view path) {
  std::string quoted = treecopy::quote(path);
  return quoted.size() == path.size() + 2 ? std::string(path) : quoted;
}

bool cli_observer::on_progress(const treecopy::progress_snapshot& s) {
  std::lock_guard lock(mu_);
  flush_entries();
  progress_estimate e = meter_.update(s);
  e.stopping = stopping_;
  view_->progress(s, e);
  return true;
}

void cli_observer::on_error(const treecopy::entry_error& e) {
  std::lock_guard lock(mu_);
  try {
    view_->error(e);
  } catch (const std::bad_alloc&) {
    // The JSON event could not be built; the line below may still be told.
  }
  if (!policy_.errors_to_stderr) return;
  try {
    flush_entries();
    view_->hide();
    write_all(STDERR_FILENO, "treecopy: cannot " + e.message() + "\n");
  } catch (const std::bad_alloc&) {
    write_error_without_memory(e);
  }
}

// Out of memory: the line is made in a buffer of its own, so that no failed entry goes unsaid
// (under -q it is all the user is told). The path is cut at the buffer's end, unquoted.
void cli_observer::write_error_without_memory(const treecopy::entry_error& e) noexcept {
  const bool plain =
      e.code.category() == std::generic_category() || e.code.category() == std::system_category();
  const char* reason = plain ? ::strerrordesc_np(e.code.value()) : nullptr;
  char code[32];
  if (!reason) {
    std::snprintf(code, sizeof code, "error %d", e.code.value());
    reason = code;
  }
  char line[1024];
  const int n =
      e.path.empty()
          ? std::snprintf(line, sizeof line,
                          "treecopy: cannot %s an entry (its path is lost: out of memory): %s\n",
                          treecopy::to_string(e.op), reason)
          : std::snprintf(line, sizeof line, "treecopy: cannot %s %s: %s\n",
                          treecopy::to_string(e.op), e.path.c_str(), reason);
  if (n <= 0) return;
  std::size_t len = std::min(static_cast<std::size_t>(n), sizeof line - 1);
  line[len - 1] = '\n';
  (void)!::write(STDERR_FILENO, line, len);
}

void cli_observer::on_entry(treecopy::entry_kind kind, std::string_view path) {
  std::lock_guard lock(mu_);
  if (policy_.entries_to_view) view_->entry(kind, path);
  queue_entry_line("", path);
}

void cli_observer::on_remove(std::string_view path) {
  std::lock_guard lock(mu_);
  if (policy_.entries_to_view) view_->removed(path);
  queue_entry_line("deleting ", path);
}

// Called with mu_ held.
void cli_observer::queue_entry_line(std::string_view prefix, std::string_view path) {
  if (policy_.entries_fd < 0) return;
  ((entries_ += prefix) += entry_text(path)) += '\n';
  if (policy_.entries_on_terminal) view_->hide();
  if (policy_.entries_on_terminal || entries_.size() >= flush_threshold) flush_entries();
}

void cli_observer::start(const run_info& info) {
  std::lock_guard lock(mu_);
  view_->start(info);
}

void cli_observer::stop_requested(int signal) {
  std::lock_guard lock(mu_);
  stopping_ = true;
  view_->stop_requested(signal);
  if (!policy_.errors_to_stderr) return;
  view_->hide();
  write_all(STDERR_FILENO, std::string("treecopy: ") + signal_name(signal) +
                               " received: stopping (files being written are removed); "
                               "send it again to quit at once\n");
}

void cli_observer::flush() {
  std::lock_guard lock(mu_);
  flush_entries();
}

void cli_observer::finish(const run_info& info, const run_outcome& outcome) {
  std::lock_guard lock(mu_);
  flush_entries();
  view_->hide();
  view_->finish(info, outcome);
}

void cli_observer::flush_entries() {
  if (entries_.empty()) return;
  write_all(policy_.entries_fd, entries_);
  entries_.clear();
}

}  // namespace treecopy_cli
