// Running a command (the CLI, cp, setpriv) from a test and capturing its exit status and output.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace treecopy_test {

/// How run_process() starts the child.
struct process_options {
  /// When set, the child's soft and hard RLIMIT_NOFILE (set between fork and exec).
  std::optional<unsigned long> nofile_limit;
  /// When set, the command runs as this uid and gid with no supplementary groups, through setpriv.
  std::optional<unsigned> run_as;
  /// Text written to the child's stdin (stdin is /dev/null when empty).
  std::string stdin_text;
};

/// Options that run the command as uid and gid `id` (see process_options::run_as).
inline process_options as_user(unsigned id) {
  process_options o;
  o.run_as = id;
  return o;
}

/// Options that limit the command's open descriptors to `limit`.
inline process_options with_nofile_limit(unsigned long limit) {
  process_options o;
  o.nofile_limit = limit;
  return o;
}

/// What a finished child did.
struct process_result {
  int exit_code = -1;  ///< the exit status, or -1 when killed by a signal
  int signal = 0;      ///< the signal that killed it, or 0
  std::string out;     ///< everything written to stdout
  std::string err;     ///< everything written to stderr

  /// The command line and all of the above, for a failure message.
  std::string describe() const;
  std::string command;  ///< the command line, as run
};

/// Whether the program `name` is installed (an executable in /usr/bin, /bin, /usr/sbin or /sbin).
bool tool_present(const char* name);

/// How many threads this process has now (the entries of /proc/self/task, but the kernel's
/// io_uring workers); 0 when unreadable.
std::size_t thread_count();

/// Runs argv (argv[0] looked up in PATH), waits for it and returns what it did. Throws
/// std::system_error when the child cannot be started at all.
process_result run_process(const std::vector<std::string>& argv,
                           const process_options& options = {});

/// The lines of a text, without their newline; a missing final newline still ends a line.
std::vector<std::string> split_lines(const std::string& text);

}  // namespace treecopy_test
