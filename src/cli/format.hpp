// Human-readable numbers for the CLI (sizes, rates, durations) and whole-line writes to a
// descriptor that remember their failures. Header-only: the CLI is built as a single translation unit.
#pragma once

#include <errno.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace treecopy_cli {

/// "0 B", "512 B", "1.5 KiB", "3.2 GiB": binary units, one decimal above bytes.
inline std::string format_bytes(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::size_t u = 0;
  while (bytes >= 1024 && u + 1 < std::size(units)) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

/// "12.3 MiB/s"; "-" when the rate is unknown.
inline std::string format_rate(double bytes_per_second) {
  if (!std::isfinite(bytes_per_second) || bytes_per_second < 0) return "-";
  return format_bytes(bytes_per_second) + "/s";
}

/// "0:07", "12:34", "1:02:03": whole seconds, rounded down.
inline std::string format_clock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  auto s = static_cast<std::uint64_t>(seconds);
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60),
                  static_cast<unsigned long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  return buf;
}

/// Seconds as a double.
inline double seconds_of(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

namespace detail {
// The first failed write of each descriptor the CLI writes to (stdout, stderr, the progress file).
struct write_failure {
  int fd;
  int err;
};
inline std::mutex write_failures_mu;
inline std::vector<write_failure> write_failures;
}  // namespace detail

/// The errno of the first failed write (or close) of fd in this run, or 0.
inline int write_error(int fd) {
  std::lock_guard lock(detail::write_failures_mu);
  for (const detail::write_failure& f : detail::write_failures)
    if (f.fd == fd) return f.err;
  return 0;
}

/// Remembers that writing to (or closing) fd failed with err; the first error of a descriptor wins.
inline void note_write_error(int fd, int err) {
  std::lock_guard lock(detail::write_failures_mu);
  for (const detail::write_failure& f : detail::write_failures)
    if (f.fd == fd) return;
  detail::write_failures.push_back({fd, err});
}

/// Writes all of text to fd in as few write() calls as the kernel allows, so that a line is not
/// interleaved with other writers. A failure (a full disk, an I/O error) does not stop the copy,
/// but it is remembered (write_error()) so that the run ends with exit code 1, as GNU tools do
/// when their output is lost, and nothing more is written to that descriptor: its reader sees
/// where the output stopped rather than a stream with holes. Returns false when text was not
/// (completely) written.
inline bool write_all(int fd, std::string_view text) {
  if (write_error(fd)) return false;
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      note_write_error(fd, n < 0 ? errno : EIO);
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace treecopy_cli
