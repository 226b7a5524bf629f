// copy_bench: Google Benchmark of treecopy::copy_tree() on corpora at 1, 2, 4, 8 and 16 workers,
// reporting files/s and bytes/s, and of the process CPU per file at one worker (per_file/). Only
// the copy is timed; the destination is removed with the timer paused.
//
// Corpora: every --corpus=DIR argument, else the directories listed in $TREECOPY_BENCH_CORPUS
// (separated by ':'), else two small ones generated with scripts/make-corpus.py under
// $TREECOPY_BENCH_TMP (default /dev/shm, or $TMPDIR or /tmp where /dev/shm is not writable) and
// removed at exit. Destinations go to
// --dst-root=DIR, else $TREECOPY_BENCH_DST, else the same temporary directory; keep them on tmpfs
// or a fresh file system (on an ext4 root without a journal, re-creating just-deleted trees
// measures the inode allocator, not the copier).
//
//   copy_bench                                   # ~20 s on generated corpora
//   copy_bench --corpus=/mnt/c/small --benchmark_filter='/jobs:(1|16)$'
//   copy_bench --benchmark_filter='^per_file/small'   # CPU per file at one worker
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "treecopy/treecopy.hpp"

#ifndef TREECOPY_MAKE_CORPUS
#define TREECOPY_MAKE_CORPUS "scripts/make-corpus.py"
#endif

namespace fs = std::filesystem;

namespace {

struct corpus {
  std::string name;
  fs::path dir;
};

fs::path g_dst_root;

// Removes a destination tree; a failure here would make every later iteration fail, so say so.
void remove_tree(const fs::path& p, benchmark::State& state) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) state.SkipWithError(("cannot remove " + p.string() + ": " + ec.message()).c_str());
}

// One timed copy of c to dst, the timing paused after it; nothing when the copy failed (the
// benchmark is told why and skipped).
std::optional<treecopy::copy_report> timed_copy(benchmark::State& state, const corpus& c,
                                                const fs::path& dst,
                                                const treecopy::copy_options& options) {
  treecopy::copy_report report;
  try {
    report = treecopy::copy_tree(c.dir, dst, options);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return std::nullopt;
  }
  state.PauseTiming();
  if (!report.ok()) {
    std::string why = std::to_string(report.error_count) + " entries failed";
    if (!report.errors.empty()) why += ", first: " + report.errors.front().message();
    state.SkipWithError(why.c_str());
    return std::nullopt;
  }
  return report;
}

void bm_copy_tree(benchmark::State& state, const corpus& c) {
  treecopy::copy_options options;
  options.jobs = static_cast<unsigned>(state.range(0));
  const fs::path dst = g_dst_root / ("dst-" + c.name + "-j" + std::to_string(options.jobs));
  remove_tree(dst, state);

  double files = 0;
  double bytes = 0;
  for (auto _ : state) {
    std::optional<treecopy::copy_report> report = timed_copy(state, c, dst, options);
    if (!report) break;
    files += static_cast<double>(report->copied.total());
    bytes += static_cast<double>(report->bytes_copied);
    remove_tree(dst, state);
    state.ResumeTiming();
  }
  remove_tree(dst, state);
  state.counters["files/s"] = benchmark::Counter(files, benchmark::Counter::kIsRate);
  state.counters["bytes/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsRate, benchmark::Counter::kIs1024);
}

// The CPU one worker spends per file, everything kept or only modes (cpz's preservation): the
// engine's own cost per small file in memory, beside the system calls it makes. Process CPU time,
// not wall time, so that other work on the machine does not count.
void bm_per_file(benchmark::State& state, const corpus& c, bool modes_only) {
  treecopy::copy_options options;
  options.jobs = 1;
  if (modes_only) {
    options.preserve_ownership = false;
    options.preserve_xattrs = false;
    options.preserve_timestamps = false;
    options.preserve_links = false;
  }
  const fs::path dst = g_dst_root / ("dst-" + c.name + (modes_only ? "-mode" : "-all"));
  remove_tree(dst, state);
  double files = 0;
  for (auto _ : state) {
    std::optional<treecopy::copy_report> report = timed_copy(state, c, dst, options);
    if (!report) break;
    files += static_cast<double>(report->copied[treecopy::entry_kind::file]);
    remove_tree(dst, state);
    state.ResumeTiming();
  }
  remove_tree(dst, state);
  // Seconds of process CPU per file copied (a rate of the CPU time, inverted).
  state.counters["cpu/file"] =
      benchmark::Counter(files, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Generates one corpus with the project's seeded generator; false (with a message) on failure.
bool make_corpus(const char* kind, const fs::path& dir, const char* scale) {
  std::string cmd = std::string("python3 '") + TREECOPY_MAKE_CORPUS + "' " + kind + " '" +
                    dir.string() + "' --scale " + scale + " >&2";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "copy_bench: failed: %s\n", cmd.c_str());
    return false;
  }
  return true;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto pos = s.find(sep);
    if (pos != 0) out.emplace_back(s.substr(0, pos));
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

// Where generated corpora (and, by default, destinations) go: $TREECOPY_BENCH_TMP as given; else
// /dev/shm, which is not writable for every user on every machine, else $TMPDIR, else /tmp.
fs::path temporary_base() {
  if (const char* env = std::getenv("TREECOPY_BENCH_TMP")) return env;
  if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  const char* tmpdir = std::getenv("TMPDIR");
  return tmpdir && *tmpdir ? tmpdir : "/tmp";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> corpus_dirs;
  std::string dst_root;
  // Take our own flags out before Google Benchmark sees the rest.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("--corpus=")) {
      corpus_dirs.emplace_back(a.substr(9));
    } else if (a.starts_with("--dst-root=")) {
      dst_root = a.substr(11);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  if (corpus_dirs.empty()) {
    if (const char* env = std::getenv("TREECOPY_BENCH_CORPUS")) corpus_dirs = split(env, ':');
  }
  const fs::path tmp = temporary_base() / ("treecopy-bench-" + std::to_string(getpid()));
  std::error_code ec;
  fs::create_directory(tmp, ec);  // one level: a mistyped base is an error, not made
  if (ec) {
    std::fprintf(stderr, "copy_bench: cannot create %s: %s\n", tmp.c_str(), ec.message().c_str());
    return 1;
  }

  std::vector<corpus> corpora;
  if (corpus_dirs.empty()) {
    // Default: 5,000 files of 0-4 KiB in 50 directories, and four 20 MiB files plus a sparse one.
    if (!make_corpus("small", tmp / "small", "0.05") ||
        !make_corpus("large", tmp / "large", "0.02")) {
      fs::remove_all(tmp, ec);
      return 1;
    }
    corpora = {{"small", tmp / "small"}, {"large", tmp / "large"}};
  } else {
    for (const auto& d : corpus_dirs) {
      if (!fs::is_directory(d)) {
        std::fprintf(stderr, "copy_bench: not a directory: %s\n", d.c_str());
        return 2;
      }
      corpora.push_back({fs::path(d).lexically_normal().filename().string(), d});
      if (corpora.back().name.empty())
        corpora.back().name = fs::path(d).parent_path().filename().string();
    }
  }
  if (dst_root.empty()) {
    const char* env = std::getenv("TREECOPY_BENCH_DST");
    g_dst_root = env ? fs::path(env) : tmp;
  } else {
    g_dst_root = dst_root;
  }

  for (const auto& c : corpora) {
    benchmark::RegisterBenchmark(("copy_tree/" + c.name).c_str(), bm_copy_tree, c)
        ->ArgName("jobs")
        ->Arg(1)
        ->Arg(2)
        ->Arg(4)
        ->Arg(8)
        ->Arg(16)
        ->UseRealTime()
        ->MeasureProcessCPUTime()
        ->Unit(benchmark::kMillisecond);
    for (const bool modes_only : {false, true}) {
      benchmark::RegisterBenchmark(
          ("per_file/" + c.name + (modes_only ? "/preserve:mode" : "/preserve:all")).c_str(),
          bm_per_file, c, modes_only)
          ->MeasureProcessCPUTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  fs::remove_all(tmp, ec);
  return 0;
}
