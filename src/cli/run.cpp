// One run of the treecopy command: see run.hpp.
#include "run.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "bar.hpp"
#include "format.hpp"
#include "progress.hpp"
#include "signals.hpp"
#include "summary.hpp"

namespace treecopy_cli {
namespace {

enum class progress_mode { bar, lines, json, none };

progress_mode mode_of(const std::string& name) {
  if (name == "bar") return progress_mode::bar;
  if (name == "lines") return progress_mode::lines;
  if (name == "json") return progress_mode::json;
  if (name == "none") return progress_mode::none;
  return ::isatty(STDERR_FILENO) ? progress_mode::bar : progress_mode::lines;
}

// Seconds between on_progress() calls for a mode.
double interval_for(progress_mode mode, double asked) {
  switch (mode) {
    case progress_mode::bar:
      return std::max(0.1, asked);  // at most 10 redraws a second
    case progress_mode::lines:
      return asked > 0 ? asked : 5.0;
    case progress_mode::json:
      return asked > 0 ? asked : 1.0;
    case progress_mode::none:
      break;
  }
  return 1.0;  // only flushes buffered -v lines
}

// Descriptors are the copier's working set: use the whole hard limit, not the default soft one.
void raise_fd_limit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Everything decided before the copy starts: the view, where messages go, the run's description.
struct run_setup {
  progress_mode mode = progress_mode::none;
  int json_fd = STDERR_FILENO;
  bool json_on_stderr = false;
  message_policy policy;
  run_info info;
};

// A file's identity (device, inode): compared instead of paths, which links, '..' and bind
// mounts make ambiguous.
struct file_identity {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const file_identity&) const = default;
};

std::optional<file_identity> identity_of(const std::string& path, bool follow) {
  struct stat st {};
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0) return std::nullopt;
  return file_identity{st.st_dev, st.st_ino};
}

// The identities of a path: the entry itself and, for a symlink, what it names.
std::vector<file_identity> identities_of(const std::string& path) {
  std::vector<file_identity> ids;
  for (bool follow : {false, true})
    if (auto id = identity_of(path, follow)) ids.push_back(*id);
  return ids;
}

// Splits "a/b/c/" into ("a/b", "c"); a bare name has parent ".".
void split_parent(std::string p, std::string& parent, std::string& name) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  parent = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
  name = slash == std::string::npos ? p : p.substr(slash + 1);
}

// Why the progress file cannot be where it was asked, or nullopt: it must be neither SRC nor DST
// nor inside either (it would truncate a source file, be copied, make DST "exist" or be removed
// by --delete). Checked before anything is opened, on identities: the file itself, then each
// directory from its parent up to '/' (through "..", so links and bind mounts cannot hide SRC).
std::optional<std::string> progress_file_conflict(const cli_args& a, const std::string& src,
                                                  const std::string& dst) {
  const std::vector<file_identity> src_ids = identities_of(src), dst_ids = identities_of(dst);
  auto in = [](const std::vector<file_identity>& ids, const file_identity& id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  for (const file_identity& id : identities_of(a.progress_file)) {
    if (in(src_ids, id)) return "is the source";
    if (in(dst_ids, id)) return "is the destination";
  }
  std::string parent, name, dst_parent, dst_name;
  split_parent(a.progress_file, parent, name);
  split_parent(dst, dst_parent, dst_name);
  // DST not there yet: the progress file would be created where DST is to be.
  if (dst_ids.empty() && name == dst_name && identity_of(parent, true) &&
      identity_of(parent, true) == identity_of(dst_parent, true))
    return "is the destination";
  int fd = ::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  std::optional<file_identity> last;
  for (int depth = 0; fd >= 0 && depth < 4096; ++depth) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) break;
    const file_identity id{st.st_dev, st.st_ino};
    if (last == id) break;  // '/' is its own parent
    if (in(src_ids, id)) {
      ::close(fd);
      return "is inside the source";
    }
    if (in(dst_ids, id)) {
      ::close(fd);
      return "is inside the destination";
    }
    last = id;
    int up = ::openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    ::close(fd);
    fd = up;
  }
  if (fd >= 0) ::close(fd);
  return std::nullopt;
}

// Opens the progress file if any and fills in a run_setup; returns an exit code on failure.
std::optional<int> prepare(cli_args& a, run_setup& s) {
  s.mode = mode_of(a.progress);
  if (!a.progress_file.empty()) {
    for (const treecopy::copy_pair& p : a.pairs) {
      if (std::optional<std::string> why = progress_file_conflict(a, p.src, p.dst)) {
        std::fprintf(stderr, "treecopy: '%s': --progress-file %s\n", a.progress_file.c_str(),
                     why->c_str());
        return exit_usage;
      }
    }
    s.json_fd = ::open(a.progress_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (s.json_fd < 0) {
      std::fprintf(stderr, "treecopy: %s: cannot open progress file: %s\n",
                   treecopy::quote(a.progress_file).c_str(), std::strerror(errno));
      return exit_usage;
    }
  }
  s.json_on_stderr = s.mode == progress_mode::json && s.json_fd == STDERR_FILENO;
  double interval = interval_for(s.mode, a.progress_interval);
  a.options.progress_interval = std::chrono::milliseconds(std::lround(interval * 1000));

  s.policy.verbose = a.verbose;
  s.policy.errors_to_stderr = !s.json_on_stderr;
  s.policy.entries_to_view = a.verbose && s.mode == progress_mode::json;
  // With --json, stdout holds the summary object only: entry lines move to stderr, unless the
  // JSON events are there (they carry the entries themselves).
  if (a.verbose)
    s.policy.entries_fd = !a.json ? STDOUT_FILENO : s.json_on_stderr ? -1 : STDERR_FILENO;
  s.policy.entries_on_terminal = s.policy.entries_fd >= 0 && ::isatty(s.policy.entries_fd);

  s.info.source = a.src;
  s.info.destination = a.dst;
  if (a.pairs.size() > 1)
    for (const treecopy::copy_pair& p : a.pairs) s.info.sources.push_back(p.src.string());
  s.info.dry_run = a.options.dry_run;
  // Only the JSON start event tells it: asking costs system calls that a build tool's
  // thousands of small copies would pay for nothing.
  s.info.jobs = s.mode == progress_mode::json ? treecopy::jobs_for(a.pairs, a.options) : a.jobs;
  s.info.progress_interval = interval;
  return std::nullopt;
}

std::unique_ptr<progress_view> make_view(const run_setup& s) {
  switch (s.mode) {
    case progress_mode::bar:
      return std::make_unique<bar_view>(STDERR_FILENO);
    case progress_mode::lines:
      return std::make_unique<lines_view>(s.info.progress_interval);
    case progress_mode::json:
      return std::make_unique<json_view>(s.json_fd);
    case progress_mode::none:
      break;
  }
  return std::make_unique<progress_view>();
}

// Whether some output of the run was lost so far: stdout (entry lines, the --json summary),
// stderr, or the progress file.
bool output_lost(const run_setup& s) {
  return write_error(STDOUT_FILENO) || write_error(STDERR_FILENO) ||
         (s.json_fd != STDERR_FILENO && write_error(s.json_fd));
}

// Says which outputs were lost, on stderr (as text, or as an "output_error" event when the JSON
// events are there). That stderr itself failed cannot be told: the exit code says it.
void report_lost_output(const cli_args& a, const run_setup& s) {
  auto tell = [&](const char* output, const std::string& what, int err) {
    if (!s.json_on_stderr) {
      write_all(STDERR_FILENO, "treecopy: " + what + ": " + std::strerror(err) + "\n");
      return;
    }
    json_object j;
    j.str("event", "output_error").str("output", output).num("errno", err);
    j.str("errno_name", errno_name(err)).str("message", std::strerror(err));
    write_all(STDERR_FILENO, std::move(j).done() + "\n");
  };
  if (int err = write_error(STDOUT_FILENO)) tell("stdout", "write error on standard output", err);
  if (s.json_fd != STDERR_FILENO)
    if (int err = write_error(s.json_fd))
      tell("progress_file", "--progress-file " + treecopy::quote(a.progress_file) + ": write error",
           err);
}

}  // namespace

void close_stdout() {
  errno = 0;
  std::cout.flush();
  if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout.good())
    note_write_error(STDOUT_FILENO, errno ? errno : EIO);
  if (::close(STDOUT_FILENO) != 0 && errno != EBADF && errno != EINTR)
    note_write_error(STDOUT_FILENO, errno);
}

int run(cli_args& a) { return run(a, copy_function()); }

// Signals are wired to a stop request for the time of the copy.
int run(cli_args& a, const copy_function& copy) {
  if (copy && a.pairs.size() != 1) {
    // A copy function copies one SRC to one DST (treecopy-mpi); cp's forms with several sources
    // are treecopy's own.
    std::fprintf(stderr,
                 "treecopy: this command copies one SRC to one DST (several sources: "
                 "run it once for each)\n");
    return exit_usage;
  }
  run_setup s;
  if (std::optional<int> code = prepare(a, s)) return *code;
  raise_fd_limit();
  cli_observer observer(make_view(s), s.policy);
  std::stop_source stop;
  // The local engine tells when its workers start: a small copy ends before then, without the
  // watcher's thread. treecopy-mpi's ranks talk from the start: they watch at once.
  const bool watch_now = static_cast<bool>(copy);
  signal_stopper signals(
      stop, [&observer](int sig) { observer.stop_requested(sig); }, watch_now);
  if (!watch_now) observer.when_workers_start([&signals] { signals.start_watching(); });
  signal_stopper::set_live_line(s.mode == progress_mode::bar);

  observer.start(s.info);
  run_outcome outcome;
  try {
    if (copy) {
      const treecopy::copy_pair& p = a.pairs.front();
      outcome.report = copy(p.src.string(), p.dst.string(), a.options, &observer, stop.get_token());
    } else {
      outcome.report = treecopy::copy_trees(a.pairs, a.options, &observer, stop.get_token());
    }
  } catch (const treecopy::setup_error& e) {
    outcome.failure = e.what();
  } catch (const std::exception& e) {
    outcome.failure = e.what();
    outcome.failure_exit = exit_entry_errors;
  }
  signals.stop_watching();
  outcome.signal = signal_stopper::received();
  observer.flush();
  outcome.output_lost = output_lost(s);
  outcome.exit_code = exit_code_for(outcome);

  observer.finish(s.info, outcome);
  signal_stopper::set_live_line(false);
  if (!outcome.failure.empty() && !s.json_on_stderr)
    write_all(STDERR_FILENO, "treecopy: " + outcome.failure + "\n");
  else if (!a.quiet && !a.json && !s.json_on_stderr)
    write_all(STDERR_FILENO, summary_text(s.info, outcome, 10));
  if (a.json) write_all(STDOUT_FILENO, summary_json(s.info, outcome));
  if (s.json_fd != STDERR_FILENO && ::close(s.json_fd) != 0 && errno != EINTR)
    note_write_error(s.json_fd, errno);
  close_stdout();
  report_lost_output(a, s);
  if (output_lost(s) && outcome.exit_code == exit_ok) outcome.exit_code = exit_entry_errors;
  return outcome.exit_code;
}

}  // namespace treecopy_cli
