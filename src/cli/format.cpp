// Human-readable numbers and remembered write failures: see format.hpp.
#include "format.hpp"

#include <errno.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <vector>

namespace treecopy_cli {
namespace {

// The first failed write of each descriptor the CLI writes to (stdout, stderr, the progress file).
// Process-wide on purpose: the exit code sums up every writer of a descriptor.
struct write_failure {
  int fd;
  int err;
};
std::mutex write_failures_mu;
std::vector<write_failure> write_failures;

}  // namespace

std::string format_bytes(double bytes) {
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

std::string format_rate(double bytes_per_second) {
  if (!std::isfinite(bytes_per_second) || bytes_per_second < 0) return "-";
  return format_bytes(bytes_per_second) + "/s";
}

std::string format_clock(double seconds) {
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

int write_error(int fd) {
  std::lock_guard lock(write_failures_mu);
  for (const write_failure& f : write_failures)
    if (f.fd == fd) return f.err;
  return 0;
}

void note_write_error(int fd, int err) {
  std::lock_guard lock(write_failures_mu);
  for (const write_failure& f : write_failures)
    if (f.fd == fd) return;
  write_failures.push_back({fd, err});
}

void clear_write_errors() {
  std::lock_guard lock(write_failures_mu);
  write_failures.clear();
}

bool write_all(int fd, std::string_view text) {
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
