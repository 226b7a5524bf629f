// Shared pieces of the fault tests: private tmpfs mounts, running the CLI under a time limit,
// reading its per-entry error lines, and the "complete or absent" check of a destination that a
// failed copy left behind.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "process.hpp"

/// Skips a test that shows a known engine bug, so that the suite stays green for everyone until the
/// fix lands; TREECOPY_RUN_KNOWN_BUGS=1 runs it anyway (it must then fail until the bug is fixed).
#define SKIP_KNOWN_BUG(why)                           \
  do {                                                \
    if (!::treecopy_test::faults::run_known_bugs()) { \
      GTEST_SKIP() << "known bug: " << (why);         \
    }                                                 \
  } while (0)

namespace treecopy_test::faults {

/// Why a run under tight process limits or under ptrace cannot be judged in this build, or nullopt.
/// In a sanitizer build (scripts/sanitize.sh) the binary under test carries a runtime that needs
/// resources of its own: UBSan probes memory through a pipe (out of descriptors, it reports a
/// false "invalid vptr"), LeakSanitizer needs a thread at exit and refuses to run under ptrace,
/// and ASan and TSan reserve terabytes of address space. Such tests run in the normal build.
std::optional<std::string> sanitizer_runtime();

/// Whether TREECOPY_RUN_KNOWN_BUGS is set to a non-empty value other than "0".
bool run_known_bugs();

/// A tmpfs mounted on a fresh directory; unmounted (lazily, so a busy mount cannot wedge a test)
/// and its mount point removed on destruction.
class tmpfs_mount {
 public:
  /// Creates `dir` and mounts a tmpfs there with the given options ("size=4m,mode=755").
  /// Throws std::system_error when mounting fails; check mount_unavailable() first.
  tmpfs_mount(std::string dir, const std::string& options);
  ~tmpfs_mount();
  tmpfs_mount(const tmpfs_mount&) = delete;
  tmpfs_mount& operator=(const tmpfs_mount&) = delete;

  const std::string& path() const noexcept { return dir_; }
  /// Remounts read-only (or read-write again). Throws on failure.
  void remount(bool read_only, const std::string& options);

 private:
  std::string dir_;
};

/// Why a tmpfs cannot be mounted here (not root, no CAP_SYS_ADMIN), or nullopt when it can.
std::optional<std::string> mount_unavailable();

/// Runs the treecopy CLI with args under `timeout -k 10 <seconds>`. A run that hits the limit
/// comes back with exit code 124 (or killed by SIGKILL): hung() tells.
process_result run_treecopy_limited(const std::vector<std::string>& args, int seconds,
                                    const process_options& options = {});

/// The CLI without a progress view (--progress=none first), at most 60 seconds.
process_result run_quiet(std::vector<std::string> args, const process_options& options = {});

/// The part of --json's summary that tells what was done: the entries by kind, and the bytes (all
/// of out when it has no summary).
std::string json_counts(const std::string& out);

/// The part of the human summary (stderr) that tells what was done: "N entries (...), bytes".
std::string summary_counts(const std::string& err);

/// Whether a run made by run_treecopy_limited() hit its time limit.
bool hung(const process_result& r);

/// Options that run a command as uid and gid `id` through setpriv.
process_options as_uid(unsigned id);

/// Options that give a command at most `limit` open descriptors.
process_options nofile(unsigned long limit);

/// Decodes a name quoted as treecopy::quote() (and GNU tools) quote it, starting at text[pos]:
/// '...' parts, \' and $'...' parts with C escapes, back to back. Advances pos past it; nullopt
/// when no quoted name starts there or it is cut short.
std::optional<std::string> unquote_name(std::string_view text, std::size_t& pos);

/// One per-entry error line of the CLI: "treecopy: cannot <op> <quoted path>: <reason>"; path is
/// decoded (unquote_name()), the exact bytes of the entry's path.
struct error_line {
  std::string op;
  std::string path;
  std::string reason;
};

/// Parses the lines of stderr that report entries. Lines that look like an error but cannot be
/// parsed (no quoted path, no reason) go to `malformed`.
std::vector<error_line> parse_error_lines(const std::string& err,
                                          std::vector<std::string>* malformed = nullptr);

/// Checks every regular file under dst against the file at the same relative path under src:
/// it must have the same size, content and mtime (a complete copy) — anything else (partial data,
/// a file without its final mtime) is listed as a problem. Entries missing from dst are fine.
/// Returns the problems, one line each; also counts the complete files in *complete.
std::vector<std::string> incomplete_files(const std::string& src, const std::string& dst,
                                          std::size_t* complete = nullptr);

/// Relative paths of the regular files under root, sorted.
std::vector<std::string> regular_files(const std::string& root);

/// Reads a whole file by path (any size, read until EOF, so /proc and /sys work). Returns nullopt
/// when it cannot be opened or read.
std::optional<std::string> read_file(const std::string& path);

/// `size` bytes of a pattern derived from seed (the content write_pattern_file() writes).
std::string pattern_bytes(std::size_t size, unsigned seed);

/// A bind mount of `from` on the existing directory `on`, detached (lazily) on destruction. Declare
/// it after the scratch_dir it lives in, so that it is gone before the scratch directory is
/// removed.
class bind_mount {
 public:
  bind_mount(const std::string& from, const std::string& on);
  ~bind_mount();
  bind_mount(const bind_mount&) = delete;
  bind_mount& operator=(const bind_mount&) = delete;
  bool ok() const noexcept { return ok_; }

 private:
  std::string on_;
  bool ok_ = false;
};

/// Writes `size` bytes of a pattern derived from seed to a new file (mode 0644).
void write_pattern_file(const std::string& path, std::size_t size, unsigned seed);

}  // namespace treecopy_test::faults
