// The treecopy command: parses the command line with CLI11 into copy_options, runs copy_tree(), and
// maps the report to messages and an exit code. One client of the library, with no special access.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "treecopy/treecopy.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_entry_errors = 1;
constexpr int exit_usage = 2;

const char* const help_footer = R"(Examples:
  treecopy src/ dst/              copy the tree src to dst (dst must not exist)
  treecopy -j 16 /mnt/nfs/src dst more workers for slow or remote storage
  treecopy --merge src dst        copy into an existing dst, replacing files

Exit codes:
  0  every entry was copied
  1  some entries failed (each is reported on stderr); the rest was copied
  2  bad usage or bad input (missing source, destination inside source, ...): nothing was touched)";

// Prints errors as they happen and, with -v, each entry created.
class cli_observer final : public treecopy::copy_observer {
 public:
  explicit cli_observer(bool verbose) : verbose_(verbose) {}
  void on_error(const treecopy::entry_error& e) override {
    std::fprintf(stderr, "treecopy: cannot %s\n", e.message().c_str());
  }
  bool wants_entries() const override { return verbose_; }
  void on_entry(treecopy::entry_kind, std::string_view path) override {
    std::fwrite(path.data(), 1, path.size(), stdout);
    std::fputc('\n', stdout);
  }

 private:
  bool verbose_;
};

void print_summary(const treecopy::copy_report& r) {
  using treecopy::entry_kind;
  double secs = std::chrono::duration<double>(r.elapsed).count();
  std::string kinds;
  for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k) {
    if (r.copied.by_kind[k] == 0) continue;
    if (!kinds.empty()) kinds += ", ";
    kinds += std::to_string(r.copied.by_kind[k]) + " " + to_string(static_cast<entry_kind>(k));
  }
  std::fprintf(stderr, "treecopy: copied %llu entries (%s), %.1f MiB in %.2f s", 
               static_cast<unsigned long long>(r.copied.total()), kinds.empty() ? "none" : kinds.c_str(),
               static_cast<double>(r.bytes_copied) / (1 << 20), secs);
  if (r.error_count) std::fprintf(stderr, "; %llu failed", static_cast<unsigned long long>(r.error_count));
  std::fputc('\n', stderr);
}

// Descriptors are the copier's working set: use the whole hard limit, not the default soft one.
void raise_fd_limit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"treecopy: copy a directory tree in parallel, as faithfully as cp -a", "treecopy"};
  app.footer(help_footer);
  app.set_version_flag("--version", std::string("treecopy ") + treecopy::version());

  std::string src, dst, reflink = "auto";
  treecopy::copy_options opt;
  bool quiet = false, verbose = false;
  unsigned jobs = 0;
  app.add_option("SRC", src, "Source: a directory, file, symlink or special file")->required();
  app.add_option("DST", dst, "Destination; its parent must exist")->required();
  app.add_option("-j,--jobs", jobs,
                 "Concurrent workers (default: 2 x cores, at least 4; this machine: " +
                     std::to_string(treecopy::default_jobs()) + ")")
      ->check(CLI::Range(1u, 1024u));
  app.add_flag("--merge", opt.merge, "DST may exist: copy into it, replacing files");
  app.add_option("--reflink", reflink, "Share data blocks (FICLONE): auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  app.add_flag("--fail-fast", opt.fail_fast, "Stop at the first entry that fails");
  app.add_flag("-q,--quiet", quiet, "Print errors only");
  app.add_flag("-v,--verbose", verbose, "Print each entry created");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "treecopy: %s\nRun 'treecopy --help' for usage.\n", e.what());
    return exit_usage;
  }
  opt.jobs = jobs;
  opt.reflink = reflink == "always" ? treecopy::reflink_mode::always
                : reflink == "never" ? treecopy::reflink_mode::never
                                     : treecopy::reflink_mode::automatic;
  raise_fd_limit();

  cli_observer observer(verbose && !quiet);
  try {
    treecopy::copy_report report = treecopy::copy_tree(src, dst, opt, &observer);
    std::fflush(stdout);
    if (!quiet) print_summary(report);
    return report.error_count ? exit_entry_errors : exit_ok;
  } catch (const treecopy::setup_error& e) {
    std::fprintf(stderr, "treecopy: %s\n", e.what());
    return exit_usage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "treecopy: %s\n", e.what());
    return exit_entry_errors;
  }
}
