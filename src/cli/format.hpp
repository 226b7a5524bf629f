// Human-readable numbers for the CLI (sizes, rates, durations) and whole-line writes to a
// descriptor that remember their failures.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace treecopy_cli {

/// "0 B", "512 B", "1.5 KiB", "3.2 GiB": binary units, one decimal above bytes.
std::string format_bytes(double bytes);

/// "12.3 MiB/s"; "-" when the rate is unknown.
std::string format_rate(double bytes_per_second);

/// "0:07", "12:34", "1:02:03": whole seconds, rounded down.
std::string format_clock(double seconds);

/// Seconds as a double.
inline double seconds_of(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

/// The errno of the first failed write (or close) of fd in this run, or 0.
int write_error(int fd);

/// Remembers that writing to (or closing) fd failed with err; the first error of a descriptor wins.
void note_write_error(int fd, int err);

/// Forgets every failure noted so far (for tests that reuse a descriptor number).
void clear_write_errors();

/// Writes all of text to fd in as few write() calls as the kernel allows, so that a line is not
/// interleaved with other writers. A failure (a full disk, an I/O error) does not stop the copy,
/// but it is remembered (write_error()) so that the run ends with exit code 1, as GNU tools do
/// when their output is lost, and nothing more is written to that descriptor: its reader sees
/// where the output stopped rather than a stream with holes. Returns false when text was not
/// (completely) written.
bool write_all(int fd, std::string_view text);

}  // namespace treecopy_cli
