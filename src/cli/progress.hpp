// Progress views of the CLI and the observer that feeds them. The library calls the observer (one
// sampler thread for progress, serialized worker calls for errors and entries, possibly at the same
// time); the observer holds the one lock that orders every write to the terminal and the views.
// Views: "lines" (a plain line per interval, for CI logs) and "json" (NDJSON events) live here,
// the live "bar" in bar.hpp. Header-only: the CLI is built as a single translation unit.
#pragma once

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "format.hpp"
#include "json.hpp"
#include "summary.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_cli {

/// What the views show beyond the raw snapshot.
struct progress_estimate {
  double rate = NAN;          ///< recent bytes per second (NaN: not known yet)
  std::optional<double> eta;  ///< seconds left; only once the walk is complete
  bool stopping = false;      ///< a stop was requested (a signal): the copy is winding down
};

/// Turns successive snapshots into a recent throughput and an ETA.
class progress_meter {
 public:
  progress_estimate update(const treecopy::progress_snapshot& s) {
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

 private:
  static constexpr double window_seconds = 5;
  static constexpr double min_history_seconds = 2;

  // Files are measured when they are copied, so bytes_found is only a lower bound even after the
  // walk: the estimate is the larger of the time left for the known bytes (at the recent rate) and
  // the time left for the remaining entries (at the average entry rate so far).
  static std::optional<double> eta_seconds(const treecopy::progress_snapshot& s, double rate) {
    double t = seconds_of(s.elapsed);
    // The first second says little: large files report their first blocks only when written.
    if (t < min_history_seconds) return std::nullopt;
    double bytes_left =
        s.bytes_found > s.bytes_done ? static_cast<double>(s.bytes_found - s.bytes_done) : 0;
    double entries_left = s.entries_found > s.entries_done
                              ? static_cast<double>(s.entries_found - s.entries_done)
                              : 0;
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

  std::deque<std::pair<double, std::uint64_t>> samples_;
};

/// One way of showing a run. Every call is made under the observer's lock.
class progress_view {
 public:
  virtual ~progress_view() = default;
  virtual void start(const run_info& /*info*/) {}
  virtual void progress(const treecopy::progress_snapshot& /*s*/, const progress_estimate& /*e*/) {}
  virtual void error(const treecopy::entry_error& /*e*/) {}
  virtual void entry(treecopy::entry_kind /*kind*/, std::string_view /*path*/) {}
  virtual void removed(std::string_view /*path*/) {}
  virtual void stop_requested(int /*signal*/) {}
  virtual void finish(const run_info& /*info*/, const run_outcome& /*outcome*/) {}
  /// Someone else is about to write to the terminal: take the live line away until the next draw.
  virtual void hide() {}
};

/// "1234/5678 entries", "1.2 GiB/3.4 GiB", ... shared by the bar and the lines.
inline std::string entries_text(const treecopy::progress_snapshot& s) {
  // Shown as found >= done even if the counters disagree by the top directory at the very end.
  return std::to_string(s.entries_done) + "/" +
         std::to_string(std::max(s.entries_found, s.entries_done)) + " entries";
}
inline std::string bytes_text(const treecopy::progress_snapshot& s) {
  return format_bytes(static_cast<double>(s.bytes_done)) + "/" +
         format_bytes(static_cast<double>(s.bytes_found));
}
inline std::string eta_text(const treecopy::progress_snapshot& s, const progress_estimate& e) {
  if (e.stopping) return "stopping";
  if (!s.scan_complete) return "scanning";
  return e.eta ? "ETA " + format_clock(*e.eta) : "ETA -";
}

/// --progress=lines: one plain line per interval on stderr; no carriage return, no escape sequence.
class lines_view final : public progress_view {
 public:
  explicit lines_view(double interval) : interval_(interval) {}

  void progress(const treecopy::progress_snapshot& s, const progress_estimate& e) override {
    // One line per interval on a fixed schedule: the library's extra call with the final state
    // (just after a tick) prints nothing, so a short copy logs only its summary.
    double t = seconds_of(s.elapsed);
    if (t < static_cast<double>(printed_ + 1) * interval_ * 0.95) return;
    printed_ = static_cast<std::uint64_t>(t / interval_ + 0.05);
    std::string line = "treecopy: " + format_clock(seconds_of(s.elapsed)) + "  " + entries_text(s) +
                       "  " + bytes_text(s) + "  " + format_rate(e.rate) + "  " + eta_text(s, e);
    if (s.errors) line += "  " + std::to_string(s.errors) + (s.errors == 1 ? " error" : " errors");
    if (s.skipped) line += "  " + std::to_string(s.skipped) + " skipped";
    write_all(STDERR_FILENO, line + "\n");
  }

 private:
  double interval_;
  std::uint64_t printed_ = 0;  // intervals covered by the lines printed so far
};

/// --progress=json: NDJSON events (start, progress, error, entry, stop_requested, finish) on a
/// descriptor. The fields are documented in README, "Progress and machine-readable output".
class json_view final : public progress_view {
 public:
  explicit json_view(int fd) : fd_(fd) {}

  void start(const run_info& info) override {
    json_object j;
    j.str("event", "start").str("version", treecopy::version()).str("time", utc_now());
    j.num("pid", static_cast<std::uint64_t>(::getpid()));
    j.path("source", info.source).path("destination", info.destination);
    j.boolean("dry_run", info.dry_run).num("jobs", static_cast<std::uint64_t>(info.jobs));
    j.real("progress_interval", info.progress_interval);
    emit(std::move(j));
  }
  void progress(const treecopy::progress_snapshot& s, const progress_estimate& e) override {
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
  void error(const treecopy::entry_error& err) override {
    json_object j;
    j.str("event", "error");
    emit(std::move(add_error_fields(j, err)));
  }
  void entry(treecopy::entry_kind kind, std::string_view path) override {
    json_object j;
    j.str("event", "entry").str("kind", treecopy::to_string(kind)).path("path", path);
    emit(std::move(j));
  }
  void removed(std::string_view path) override {
    json_object j;
    j.str("event", "remove").path("path", path);
    emit(std::move(j));
  }
  void stop_requested(int signal) override {
    json_object j;
    j.str("event", "stop_requested").str("signal", signal_name(signal));
    emit(std::move(j));
  }
  void finish(const run_info& info, const run_outcome& outcome) override {
    json_object j;
    j.str("event", "finish");
    emit(std::move(add_summary_fields(j, info, outcome)));
  }

 private:
  void emit(json_object&& j) { write_all(fd_, std::move(j).done() + "\n"); }

  static std::string utc_now() {
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

  int fd_;
};

/// A path on a -v line: as is, unless it holds a character that quote() escapes or a single quote;
/// then quoted as in error messages. Each line thus names one entry whatever its name, on a
/// terminal or in a pipe alike: a path printed as is never holds a quote, a quoted one starts with
/// one.
inline std::string entry_text(std::string_view path) {
  std::string quoted = treecopy::quote(path);
  return quoted.size() == path.size() + 2 ? std::string(path) : quoted;
}

/// Where the human messages go, decided once from the command line.
struct message_policy {
  bool verbose = false;              ///< on_entry() is wanted
  bool errors_to_stderr = true;      ///< print "treecopy: cannot ..." lines on stderr
  bool entries_to_view = false;      ///< the view shows entries itself (json "entry" events)
  int entries_fd = -1;               ///< where plain entry lines go (-1: nowhere)
  bool entries_on_terminal = false;  ///< entries_fd is a terminal: write each line at once
};

/// The CLI's copy_observer: keeps the meter, orders all output under one lock, and forwards to the
/// chosen view. Entry lines for a pipe or file are buffered and written at each progress tick.
class cli_observer final : public treecopy::copy_observer {
 public:
  cli_observer(std::unique_ptr<progress_view> view, message_policy policy)
      : view_(std::move(view)), policy_(policy) {}

  bool on_progress(const treecopy::progress_snapshot& s) override {
    std::lock_guard lock(mu_);
    flush_entries();
    progress_estimate e = meter_.update(s);
    e.stopping = stopping_;
    view_->progress(s, e);
    return true;
  }
  void on_error(const treecopy::entry_error& e) override {
    std::lock_guard lock(mu_);
    view_->error(e);
    if (!policy_.errors_to_stderr) return;
    flush_entries();
    view_->hide();
    write_all(STDERR_FILENO, "treecopy: cannot " + e.message() + "\n");
  }
  bool wants_entries() const override { return policy_.verbose; }
  void on_entry(treecopy::entry_kind kind, std::string_view path) override {
    std::lock_guard lock(mu_);
    if (policy_.entries_to_view) view_->entry(kind, path);
    if (policy_.entries_fd < 0) return;
    (entries_ += entry_text(path)) += '\n';
    if (policy_.entries_on_terminal) view_->hide();
    if (policy_.entries_on_terminal || entries_.size() >= flush_threshold) flush_entries();
  }

  /// --delete removed (with --dry-run: would remove) a destination entry: "deleting PATH".
  void on_remove(std::string_view path) override {
    std::lock_guard lock(mu_);
    if (policy_.entries_to_view) view_->removed(path);
    if (policy_.entries_fd < 0) return;
    ((entries_ += "deleting ") += entry_text(path)) += '\n';
    if (policy_.entries_on_terminal) view_->hide();
    if (policy_.entries_on_terminal || entries_.size() >= flush_threshold) flush_entries();
  }

  void start(const run_info& info) {
    std::lock_guard lock(mu_);
    view_->start(info);
  }
  /// Called by the signal watcher when a signal asked the copy to stop.
  void stop_requested(int signal) {
    std::lock_guard lock(mu_);
    stopping_ = true;
    view_->stop_requested(signal);
    if (!policy_.errors_to_stderr) return;
    view_->hide();
    write_all(STDERR_FILENO, std::string("treecopy: ") + signal_name(signal) +
                                 " received: stopping (files being written are removed); "
                                 "send it again to quit at once\n");
  }
  /// Writes the entry lines still queued, so that a failure to write them is known.
  void flush() {
    std::lock_guard lock(mu_);
    flush_entries();
  }
  /// Takes the view off the terminal, then reports the end (json "finish").
  void finish(const run_info& info, const run_outcome& outcome) {
    std::lock_guard lock(mu_);
    flush_entries();
    view_->hide();
    view_->finish(info, outcome);
  }

 private:
  void flush_entries() {
    if (entries_.empty()) return;
    write_all(policy_.entries_fd, entries_);
    entries_.clear();
  }

  static constexpr std::size_t flush_threshold = std::size_t{64} << 10;  ///< bytes of queued entry lines
  std::mutex mu_;
  std::unique_ptr<progress_view> view_;
  message_policy policy_;
  progress_meter meter_;
  std::string entries_;
  bool stopping_ = false;
};

}  // namespace treecopy_cli
