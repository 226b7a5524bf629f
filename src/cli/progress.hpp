// Progress views of the CLI and the observer that feeds them. The library calls the observer (one
// sampler thread for progress, serialized worker calls for errors and entries, possibly at the same
// time); the observer holds the one lock that orders every write to the terminal and the views.
// Views: "lines" (a plain line per interval, for CI logs) and "json" (NDJSON events) live here,
// the live "bar" in bar.hpp.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

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
  progress_estimate update(const treecopy::progress_snapshot& s);

 private:
  static constexpr double window_seconds = 5;
  static constexpr double min_history_seconds = 2;

  static std::optional<double> eta_seconds(const treecopy::progress_snapshot& s, double rate);

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

/// "1234/5678 entries", "1.2 GiB/3.4 GiB", "ETA 0:07" ... shared by the bar and the lines.
std::string entries_text(const treecopy::progress_snapshot& s);
std::string bytes_text(const treecopy::progress_snapshot& s);
std::string eta_text(const treecopy::progress_snapshot& s, const progress_estimate& e);

/// --progress=lines: one plain line per interval on fd (stderr); no carriage return, no escape
/// sequence.
class lines_view final : public progress_view {
 public:
  explicit lines_view(double interval, int fd = STDERR_FILENO) : interval_(interval), fd_(fd) {}

  void progress(const treecopy::progress_snapshot& s, const progress_estimate& e) override;

 private:
  double interval_;
  int fd_;
  std::uint64_t printed_ = 0;  // intervals covered by the lines printed so far
};

/// --progress=json: NDJSON events (start, progress, error, entry, stop_requested, finish) on a
/// descriptor. The fields are documented in docs/output.md.
class json_view final : public progress_view {
 public:
  explicit json_view(int fd) : fd_(fd) {}

  void start(const run_info& info) override;
  void progress(const treecopy::progress_snapshot& s, const progress_estimate& e) override;
  void error(const treecopy::entry_error& err) override;
  void entry(treecopy::entry_kind kind, std::string_view path) override;
  void removed(std::string_view path) override;
  void stop_requested(int signal) override;
  void finish(const run_info& info, const run_outcome& outcome) override;

 private:
  void emit(json_object&& j);

  int fd_;
};

/// A path on a -v line: as is, unless it holds a character that quote() escapes or a single quote;
/// then quoted as in error messages. Each line thus names one entry whatever its name, on a
/// terminal or in a pipe alike: a path printed as is never holds a quote, a quoted one starts with
/// one.
std::string entry_text(std::string_view path);

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

  bool on_progress(const treecopy::progress_snapshot& s) override;
  void on_workers_started() override {
    if (on_workers_) on_workers_();
  }
  void on_error(const treecopy::entry_error& e) override;
  bool wants_entries() const override { return policy_.verbose; }
  void on_entry(treecopy::entry_kind kind, std::string_view path) override;
  /// --delete removed (with --dry-run: would remove) a destination entry: "deleting PATH".
  void on_remove(std::string_view path) override;

  void start(const run_info& info);
  /// What to do when the copy starts its workers (start the signal watcher).
  void when_workers_start(std::function<void()> f) { on_workers_ = std::move(f); }
  /// Called by the signal watcher when a signal asked the copy to stop.
  void stop_requested(int signal);
  /// Writes the entry lines still queued, so that a failure to write them is known.
  void flush();
  /// Takes the view off the terminal, then reports the end (json "finish").
  void finish(const run_info& info, const run_outcome& outcome);

 private:
  void queue_entry_line(std::string_view prefix, std::string_view path);
  void write_error_without_memory(const treecopy::entry_error& e) noexcept;
  void flush_entries();

  static constexpr std::size_t flush_threshold = std::size_t{64}
                                                 << 10;  ///< bytes of queued entry lines
  std::mutex mu_;
  std::unique_ptr<progress_view> view_;
  message_policy policy_;
  progress_meter meter_;
  std::string entries_;
  bool stopping_ = false;
  std::function<void()> on_workers_;
};

}  // namespace treecopy_cli
