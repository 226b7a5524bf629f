// --progress=bar: one live status line on a terminal, redrawn at most 10 times a second, fitted to
// the terminal's current width, taken away before any other message and at the end.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "progress.hpp"

namespace treecopy_cli {

/// The terminal's width in columns: asked on every draw (so a resized window is followed without
/// a SIGWINCH handler), else $COLUMNS, else 80.
std::size_t terminal_width(int fd);

/// Lays out the status line for a terminal of width columns: the parts that matter most are kept
/// when the width is short.
std::string bar_line(const treecopy::progress_snapshot& s, const progress_estimate& e,
                     std::size_t width);

class bar_view final : public progress_view {
 public:
  explicit bar_view(int fd) : fd_(fd) {}

  void progress(const treecopy::progress_snapshot& s, const progress_estimate& e) override;
  void hide() override;

 private:
  // The sampler's interval is 100 ms already; this also bounds redraws if it is ever shorter.
  static constexpr std::chrono::milliseconds min_gap{90};

  int fd_;
  bool visible_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace treecopy_cli
