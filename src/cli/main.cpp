// The treecopy command: parses the command line with CLI11, chooses a progress view, runs
// copy_tree() with a stop token wired to SIGINT/SIGTERM, and maps the outcome to a summary and an
// exit code. One client of the library, with no special access.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
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
#include <string_view>
#include <vector>

#include "bar.hpp"
#include "progress.hpp"
#include "signals.hpp"
#include "summary.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_cli {
namespace {

const char* const help_footer = R"(Examples:
  treecopy src/ dst/              copy the tree src to dst (dst must not exist)
  treecopy -j 16 /mnt/nfs/src dst more workers for slow or remote storage
  treecopy --merge src dst        copy into an existing dst, replacing files
  treecopy --update --delete --exclude .git/ --exclude '*.o' src dst
                                  make dst a mirror of src again, copying only what changed
  treecopy --dry-run -v src dst   list what would be copied, change nothing
  treecopy --progress=json --progress-file events.ndjson --json src dst > summary.json

Progress (--progress): bar (a live line; the default on a terminal), lines (a plain line every
--progress-interval seconds, default 5: the default when stderr is not a terminal), json (NDJSON
events on stderr or --progress-file, one per second by default), none. Ctrl-C or SIGTERM stops
cleanly (files being written are removed) and prints the summary; a second one quits at once.

Exit codes:
  0    every entry was copied
  1    some entries failed (each is reported on stderr); the rest was copied; or output was lost
       (a failed write of -v lines, progress events or the summary)
  2    bad usage or bad input (missing source, destination inside source, ...): nothing was touched
  130  stopped by SIGINT (Ctrl-C);  143  stopped by SIGTERM)";

enum class progress_mode { bar, lines, json, none };

// The command line, as parsed.
struct cli_args {
  std::string src, dst, reflink = "auto", progress = "auto", progress_file;
  double progress_interval = 0;  // 0: the mode's default
  bool quiet = false, verbose = false, json = false;
  unsigned jobs = 0;
  bool dereference = false, follow_src = false;
  std::vector<std::string> excludes, includes, exclude_files;
  treecopy::copy_options options;
};

// CLI11's messages repeat the arguments as given: control characters in them become escapes
// (\n, \x1b), so that an argument cannot split the message or forge a line of its own.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Reads --exclude-from FILE: one pattern a line; blank lines and lines starting with '#' skipped.
// A file that cannot be read to its end (a directory, an I/O error) is bad input, not "no rules":
// copying what the rules were meant to leave out cannot be undone.
bool read_pattern_file(const std::string& path, std::vector<treecopy::filter_rule>& rules) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "re");
  if (!f) {
    std::fprintf(stderr, "treecopy: --exclude-from %s: %s\n", treecopy::quote(path).c_str(),
                 std::strerror(errno));
    return false;
  }
  char* line = nullptr;
  std::size_t cap = 0;
  ssize_t n;
  errno = 0;
  while ((n = ::getline(&line, &cap, f)) >= 0) {
    std::string p(line, static_cast<std::size_t>(n));
    while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
    if (p.empty() || p[0] == '#') continue;
    rules.push_back({false, std::move(p)});
  }
  const int err = std::ferror(f) ? (errno ? errno : EIO) : 0;
  std::free(line);
  if (f != stdin) std::fclose(f);
  if (err) {
    std::fprintf(stderr, "treecopy: --exclude-from %s: cannot read: %s\n",
                 treecopy::quote(path).c_str(), std::strerror(err));
    return false;
  }
  return true;
}

// Filter rules in command-line order: --include and --exclude interleave, and the first rule that
// matches decides, so their relative order matters.
bool collect_filters(const CLI::App& app, cli_args& a) {
  std::size_t ex = 0, in = 0, from = 0;
  for (const CLI::Option* o : app.parse_order()) {
    const std::string name = o->get_name();
    if (name == "--exclude" && ex < a.excludes.size()) {
      a.options.filters.push_back({false, a.excludes[ex++]});
    } else if (name == "--include" && in < a.includes.size()) {
      a.options.filters.push_back({true, a.includes[in++]});
    } else if (name == "--exclude-from" && from < a.exclude_files.size()) {
      if (!read_pattern_file(a.exclude_files[from++], a.options.filters)) return false;
    }
  }
  return true;
}

void add_sync_options(CLI::App& app, cli_args& a) {
  app.add_flag("--update", a.options.update,
               "DST may exist: do not copy again the data of entries whose copy has the same type, "
               "size and mtime (their metadata is still made equal); copy the rest again (implies "
               "--merge)");
  app.add_flag("--checksum", a.options.checksum,
               "With --update: compare file contents instead of size and mtime");
  app.add_option_function<unsigned>(
         "--modify-window",
         [&a](unsigned seconds) { a.options.modify_window = std::chrono::seconds(seconds); },
         "With --update: mtimes at most this many seconds apart count as equal")
      ->type_name("SECONDS");
  app.add_flag("--delete", a.options.delete_extraneous,
               "With --update or --merge: remove entries of DST that SRC does not have");
  app.add_option("--exclude", a.excludes, "Do not copy entries matching this glob (repeatable)")
      ->type_name("PATTERN")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  app.add_option("--include", a.includes,
                 "Copy entries matching this glob even if a later --exclude matches (repeatable)")
      ->type_name("PATTERN")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  app.add_option("--exclude-from", a.exclude_files, "Read exclude patterns from FILE, one a line")
      ->type_name("FILE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  app.add_flag("-L,--dereference", a.dereference, "Copy what symlinks point to, not the links");
  app.add_flag("-H", a.follow_src, "Follow SRC if it is a symlink, no other links");
  app.add_flag("-x,--one-file-system", a.options.one_file_system,
               "Do not descend into directories on other file systems");
}

// Parses argv; returns an exit code when the program should end here (help, version, bad usage).
std::optional<int> parse(int argc, char** argv, cli_args& a) {
  CLI::App app{"treecopy: copy a directory tree in parallel, as faithfully as cp -a", "treecopy"};
  app.footer(help_footer);
  app.set_version_flag("--version", std::string("treecopy ") + treecopy::version());
  app.add_option("SRC", a.src, "Source: a directory, file, symlink or special file")->required();
  app.add_option("DST", a.dst, "Destination; its parent must exist")->required();
  app.add_option("-j,--jobs", a.jobs,
                 "Concurrent workers (default: 4 x cores, 8 to 64; this machine: " +
                     std::to_string(treecopy::default_jobs()) + ")")
      ->check(CLI::Range(1u, 1024u));
  app.add_flag("--merge", a.options.merge, "DST may exist: copy into it, replacing files");
  app.add_option("--reflink", a.reflink, "Share data blocks (FICLONE): auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  app.add_flag("--fail-fast", a.options.fail_fast, "Stop at the first entry that fails");
  app.add_flag(
      "--dry-run", a.options.dry_run,
      "Walk SRC and report what would be copied and the problems foreseen; change nothing");
  app.add_flag("-q,--quiet", a.quiet,
               "Print errors only (and no progress unless --progress is given)");
  app.add_flag("-v,--verbose", a.verbose,
               "Print each entry created (with --dry-run: that would be)");
  app.add_option("--progress", a.progress, "Progress view: auto, bar, lines, json or none")
      ->check(CLI::IsMember({"auto", "bar", "lines", "json", "none"}))
      ->capture_default_str();
  app.add_option("--progress-interval", a.progress_interval,
                 "Seconds between progress lines or events (default: lines 5, json 1; bar 0.1)")
      ->check(CLI::Range(0.1, 86400.0));
  app.add_option("--progress-file", a.progress_file,
                 "Write the JSON progress events to this file instead of stderr (implies "
                 "--progress=json)");
  app.add_flag("--json", a.json, "Print the summary as one JSON object on stdout");
  add_sync_options(app, a);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "treecopy: %s (see 'treecopy --help')\n", one_line(e.what()).c_str());
    return exit_usage;
  }
  bool progress_given = app.count("--progress") > 0;
  if (!a.progress_file.empty()) {
    if (progress_given && a.progress != "json") {
      std::fprintf(stderr, "treecopy: --progress-file needs --progress=json\n");
      return exit_usage;
    }
    a.progress = "json";
  } else if (!progress_given && a.quiet) {
    a.progress = "none";
  }
  if (a.quiet) a.verbose = false;
  if (!collect_filters(app, a)) return exit_usage;
  a.options.dereference = a.dereference  ? treecopy::symlink_mode::always
                          : a.follow_src ? treecopy::symlink_mode::command_line
                                         : treecopy::symlink_mode::never;
  a.options.jobs = a.jobs;
  a.options.reflink = a.reflink == "always"  ? treecopy::reflink_mode::always
                      : a.reflink == "never" ? treecopy::reflink_mode::never
                                             : treecopy::reflink_mode::automatic;
  return std::nullopt;
}

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
std::optional<std::string> progress_file_conflict(const cli_args& a) {
  const std::vector<file_identity> src_ids = identities_of(a.src), dst_ids = identities_of(a.dst);
  auto in = [](const std::vector<file_identity>& ids, const file_identity& id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  for (const file_identity& id : identities_of(a.progress_file)) {
    if (in(src_ids, id)) return "is the source";
    if (in(dst_ids, id)) return "is the destination";
  }
  std::string parent, name, dst_parent, dst_name;
  split_parent(a.progress_file, parent, name);
  split_parent(a.dst, dst_parent, dst_name);
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
    if (std::optional<std::string> why = progress_file_conflict(a)) {
      std::fprintf(stderr, "treecopy: '%s': --progress-file %s\n", a.progress_file.c_str(),
                   why->c_str());
      return exit_usage;
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
  s.info.dry_run = a.options.dry_run;
  s.info.jobs = a.jobs ? a.jobs : treecopy::default_jobs();
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

// Flushes and closes stdout, as GNU tools do at exit: an error the kernel reports only now (NFS,
// a full disk) loses output like any other.
void close_stdout() {
  errno = 0;
  std::cout.flush();
  if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout.good())
    note_write_error(STDOUT_FILENO, errno ? errno : EIO);
  if (::close(STDOUT_FILENO) != 0 && errno != EBADF && errno != EINTR)
    note_write_error(STDOUT_FILENO, errno);
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

// Runs the copy with signals wired to a stop request; prints the end of the run; returns the exit
// code.
int run(cli_args& a) {
  run_setup s;
  if (std::optional<int> code = prepare(a, s)) return *code;
  raise_fd_limit();
  cli_observer observer(make_view(s), s.policy);
  std::stop_source stop;
  signal_stopper signals(stop, [&observer](int sig) { observer.stop_requested(sig); });
  signal_stopper::set_live_line(s.mode == progress_mode::bar);

  observer.start(s.info);
  run_outcome outcome;
  try {
    outcome.report = treecopy::copy_tree(a.src, a.dst, a.options, &observer, stop.get_token());
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

}  // namespace
}  // namespace treecopy_cli

int main(int argc, char** argv) {
  try {
    treecopy_cli::cli_args args;
    if (std::optional<int> code = treecopy_cli::parse(argc, argv, args)) {
      // --help and --version: their text is the output, and losing it is an error.
      treecopy_cli::close_stdout();
      if (int err = treecopy_cli::write_error(STDOUT_FILENO)) {
        std::fprintf(stderr, "treecopy: write error on standard output: %s\n", std::strerror(err));
        return *code == 0 ? treecopy_cli::exit_entry_errors : *code;
      }
      return *code;
    }
    return treecopy_cli::run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "treecopy: %s\n", e.what());
    return treecopy_cli::exit_usage;
  } catch (...) {
    std::fprintf(stderr, "treecopy: unexpected error\n");
    return treecopy_cli::exit_usage;
  }
}
