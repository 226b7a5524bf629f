// The live status line: see bar.hpp.
#include "bar.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "format.hpp"

namespace treecopy_cli {

std::size_t terminal_width(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    long n = std::strtol(columns, nullptr, 10);
    if (n > 0 && n < 10000) return static_cast<std::size_t>(n);
  }
  return 80;
}

std::string bar_line(const treecopy::progress_snapshot& s, const progress_estimate& e,
                     std::size_t width) {
  struct part {
    int rank;  // lower ranks are dropped last
    std::string text;
  };
  std::vector<part> parts = {
      {0, entries_text(s)},     {1, bytes_text(s)},
      {4, format_rate(e.rate)}, {3, format_clock(seconds_of(s.elapsed))},
      {2, eta_text(s, e)},
  };
  if (s.errors)
    parts.push_back({2, std::to_string(s.errors) + (s.errors == 1 ? " error" : " errors")});
  // Writing into the last column makes some terminals wrap: stay one short.
  std::size_t room = width > 1 ? width - 1 : 1;
  auto joined = [&] {
    std::string line;
    for (const part& p : parts) {
      if (!line.empty()) line += "  ";
      line += p.text;
    }
    return line;
  };
  std::string line = joined();
  while (line.size() > room && parts.size() > 1) {
    auto worst = std::max_element(parts.begin(), parts.end(),
                                  [](const part& a, const part& b) { return a.rank < b.rank; });
    parts.erase(worst);
    line = joined();
  }
  if (line.size() > room) line.resize(room);
  return line;
}

void bar_view::progress(const treecopy::progress_snapshot& s, const progress_estimate& e) {
  auto now = std::chrono::steady_clock::now();
  if (visible_ && now - last_draw_ < min_gap) return;
  last_draw_ = now;
  // \r, the line, then "erase to end of line" so a shorter line leaves no tail of the last one.
  // Appended in place: GCC 12 warns (-Wrestrict, a false positive) on "\r" + std::string.
  std::string out = "\r";
  out += bar_line(s, e, terminal_width(fd_));
  out += "\x1b[K";
  write_all(fd_, out);
  visible_ = true;
}

void bar_view::hide() {
  if (!visible_) return;
  write_all(fd_, "\r\x1b[K");
  visible_ = false;
}

}  // namespace treecopy_cli
