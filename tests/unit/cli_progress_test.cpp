// Unit tests of the CLI's progress views (src/cli/progress.cpp, bar.cpp): the meter's rate and
// ETA, the bar laid out at fixed widths, the lines and json views and the observer rendered into
// a pipe, with fixed snapshots.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include "bar.hpp"
#include "cli_output.hpp"
#include "format.hpp"
#include "progress.hpp"

namespace treecopy_test {
namespace {

using treecopy_cli::progress_estimate;
constexpr std::uint64_t mib = 1024 * 1024, gib = 1024 * mib;

treecopy::progress_snapshot busy_snapshot(double elapsed) {
  treecopy::progress_snapshot s;
  s.entries_done = 1234;
  s.entries_found = 5678;
  s.bytes_done = 3 * gib / 2;
  s.bytes_found = 3 * gib;
  s.errors = 2;
  s.skipped = 7;
  s.scan_complete = true;
  s.elapsed =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(elapsed));
  return s;
}

progress_estimate busy_estimate() {
  progress_estimate e;
  e.rate = 20.0 * mib;
  e.eta = 76.8;
  return e;
}

TEST(CliProgressTest, Texts) {
  treecopy::progress_snapshot s = busy_snapshot(75);
  EXPECT_EQ(treecopy_cli::entries_text(s), "1234/5678 entries");
  EXPECT_EQ(treecopy_cli::bytes_text(s), "1.5 GiB/3.0 GiB");
  progress_estimate e = busy_estimate();
  EXPECT_EQ(treecopy_cli::eta_text(s, e), "ETA 1:16");
  e.eta.reset();
  EXPECT_EQ(treecopy_cli::eta_text(s, e), "ETA -");
  s.scan_complete = false;
  EXPECT_EQ(treecopy_cli::eta_text(s, e), "scanning");
  e.stopping = true;
  EXPECT_EQ(treecopy_cli::eta_text(s, e), "stopping");
  // Found is never shown below done.
  s.entries_found = 3;
  EXPECT_EQ(treecopy_cli::entries_text(s), "1234/1234 entries");
}

TEST(CliProgressTest, Formats) {
  EXPECT_EQ(treecopy_cli::format_bytes(0), "0 B");
  EXPECT_EQ(treecopy_cli::format_bytes(1023), "1023 B");
  EXPECT_EQ(treecopy_cli::format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(treecopy_cli::format_rate(NAN), "-");
  EXPECT_EQ(treecopy_cli::format_rate(-1), "-");
  EXPECT_EQ(treecopy_cli::format_rate(3.0 * mib), "3.0 MiB/s");
  EXPECT_EQ(treecopy_cli::format_clock(7.9), "0:07");
  EXPECT_EQ(treecopy_cli::format_clock(754), "12:34");
  EXPECT_EQ(treecopy_cli::format_clock(3723), "1:02:03");
  EXPECT_EQ(treecopy_cli::format_clock(NAN), "0:00");
}

// The parts are dropped least important first (rate, clock, ETA and errors, bytes) as the
// terminal narrows, and the line always stays one column short of the width.
TEST(CliProgressTest, BarAtFixedWidths) {
  const treecopy::progress_snapshot s = busy_snapshot(75);
  const progress_estimate e = busy_estimate();
  auto at = [&](std::size_t width) { return treecopy_cli::bar_line(s, e, width); };
  EXPECT_EQ(at(200), "1234/5678 entries  1.5 GiB/3.0 GiB  20.0 MiB/s  1:15  ETA 1:16  2 errors");
  EXPECT_EQ(at(73), "1234/5678 entries  1.5 GiB/3.0 GiB  20.0 MiB/s  1:15  ETA 1:16  2 errors");
  EXPECT_EQ(at(72), "1234/5678 entries  1.5 GiB/3.0 GiB  1:15  ETA 1:16  2 errors");
  EXPECT_EQ(at(60), "1234/5678 entries  1.5 GiB/3.0 GiB  ETA 1:16  2 errors");
  EXPECT_EQ(at(50), "1234/5678 entries  1.5 GiB/3.0 GiB  2 errors");
  EXPECT_EQ(at(40), "1234/5678 entries  1.5 GiB/3.0 GiB");
  EXPECT_EQ(at(20), "1234/5678 entries");
  EXPECT_EQ(at(10), "1234/5678");
  EXPECT_EQ(at(1), "1");
  EXPECT_EQ(at(0), "1");
}

TEST(CliProgressTest, BarViewDrawsAndHides) {
  ::setenv("COLUMNS", "40", 1);  // a pipe has no window size
  captured_output out;
  treecopy_cli::bar_view bar(out.fd());
  bar.hide();  // nothing to take away yet
  EXPECT_EQ(out.take(), "");
  bar.progress(busy_snapshot(75), busy_estimate());
  EXPECT_EQ(out.take(), "\r1234/5678 entries  1.5 GiB/3.0 GiB\x1b[K");
  bar.progress(busy_snapshot(75), busy_estimate());  // within 90 ms of the last draw
  EXPECT_EQ(out.take(), "");
  bar.hide();
  bar.hide();
  EXPECT_EQ(out.take(), "\r\x1b[K");
  bar.progress(busy_snapshot(76), busy_estimate());  // hidden: drawn again at once
  EXPECT_EQ(out.take(), "\r1234/5678 entries  1.5 GiB/3.0 GiB\x1b[K");
  ::unsetenv("COLUMNS");
}

TEST(CliProgressTest, LinesViewOneLinePerInterval) {
  captured_output out;
  treecopy_cli::lines_view lines(5.0, out.fd());
  lines.progress(busy_snapshot(1), busy_estimate());
  EXPECT_EQ(out.take(), "");
  lines.progress(busy_snapshot(4.75), busy_estimate());  // a tick a little early still counts
  EXPECT_EQ(out.take(),
            "treecopy: 0:04  1234/5678 entries  1.5 GiB/3.0 GiB  20.0 MiB/s  ETA 1:16  2 errors  "
            "7 skipped\n");
  lines.progress(busy_snapshot(5.01), busy_estimate());  // the final call just after a tick
  EXPECT_EQ(out.take(), "");
  treecopy::progress_snapshot clean = busy_snapshot(10);
  clean.errors = 0;
  clean.skipped = 0;
  lines.progress(clean, progress_estimate{});
  EXPECT_EQ(out.take(), "treecopy: 0:10  1234/5678 entries  1.5 GiB/3.0 GiB  -  ETA -\n");
}

TEST(CliProgressTest, JsonViewEvents) {
  captured_output out;
  treecopy_cli::json_view view(out.fd());
  view.progress(busy_snapshot(75), busy_estimate());
  EXPECT_EQ(out.take(),
            R"({"event":"progress","elapsed":75.000,"entries_found":5678,"entries_done":1234,)"
            R"("bytes_found":3221225472,"bytes_done":1610612736,"errors":2,"skipped":7,)"
            R"("scan_complete":true,"bytes_per_second":20971520.000,"eta":76.800,"stopping":false})"
            "\n");
  view.progress(treecopy::progress_snapshot{}, progress_estimate{});
  EXPECT_EQ(out.take(),
            R"({"event":"progress","elapsed":0.000,"entries_found":0,"entries_done":0,)"
            R"("bytes_found":0,"bytes_done":0,"errors":0,"skipped":0,"scan_complete":false,)"
            R"("bytes_per_second":null,"eta":null,"stopping":false})"
            "\n");
  view.error({"/src/a\nb", treecopy::operation::open_source,
              std::make_error_code(std::errc::permission_denied), treecopy::entry_side::source});
  EXPECT_EQ(out.take(),
            R"({"event":"error","path":"/src/a\nb","operation":"open_source","side":"source",)"
            R"("errno":13,"errno_name":"EACCES","message":"Permission denied"})"
            "\n");
  view.entry(treecopy::entry_kind::char_device, "/dst/null");
  view.removed("/dst/old");
  view.stop_requested(SIGINT);
  EXPECT_EQ(out.take(),
            "{\"event\":\"entry\",\"kind\":\"char_device\",\"path\":\"/dst/null\"}\n"
            "{\"event\":\"remove\",\"path\":\"/dst/old\"}\n"
            "{\"event\":\"stop_requested\",\"signal\":\"SIGINT\"}\n");
}

TEST(CliProgressTest, MeterRateFollowsTheLastSeconds) {
  treecopy_cli::progress_meter meter;
  auto at = [](double t, std::uint64_t bytes) {
    treecopy::progress_snapshot s;
    s.elapsed =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(t));
    s.bytes_done = bytes;
    s.bytes_found = 300 * mib;
    s.entries_found = 10;
    s.entries_done = 5;
    s.scan_complete = true;
    return s;
  };
  EXPECT_TRUE(std::isnan(meter.update(at(0, 0)).rate));
  progress_estimate e = meter.update(at(1, 10 * mib));
  EXPECT_DOUBLE_EQ(e.rate, 10.0 * mib);
  EXPECT_FALSE(e.eta);  // too early to tell
  e = meter.update(at(3, 30 * mib));
  EXPECT_DOUBLE_EQ(e.rate, 10.0 * mib);
  ASSERT_TRUE(e.eta);
  // Bytes left: 270 MiB at 10 MiB/s; entries left: 5 at 5 in 3 s. The larger wins.
  EXPECT_DOUBLE_EQ(*e.eta, 27.0);
  // Samples older than 5 s drop out: the rate is over [3 s, 9 s], not since the start.
  e = meter.update(at(9, 150 * mib));
  EXPECT_DOUBLE_EQ(e.rate, 20.0 * mib);
}

TEST(CliProgressTest, ObserverBuffersEntryLinesForAPipe) {
  captured_output entries, events;
  treecopy_cli::message_policy policy;
  policy.verbose = true;
  policy.errors_to_stderr = false;
  policy.entries_to_view = true;
  policy.entries_fd = entries.fd();
  treecopy_cli::cli_observer observer(std::make_unique<treecopy_cli::json_view>(events.fd()),
                                      policy);
  EXPECT_TRUE(observer.wants_entries());
  observer.on_entry(treecopy::entry_kind::file, "/dst/a b");
  observer.on_remove("/dst/x\ny");
  EXPECT_EQ(entries.take(), "");  // buffered until a tick or flush()
  observer.flush();
  EXPECT_EQ(entries.take(), "/dst/a b\ndeleting '/dst/x'$'\\n''y'\n");
  EXPECT_EQ(events.take(),
            "{\"event\":\"entry\",\"kind\":\"file\",\"path\":\"/dst/a b\"}\n"
            "{\"event\":\"remove\",\"path\":\"/dst/x\\ny\"}\n");
  observer.on_entry(treecopy::entry_kind::directory, "/dst/it's");
  observer.on_progress(busy_snapshot(1));
  EXPECT_EQ(entries.take(), "'/dst/it'\\''s'\n");
}

TEST(CliProgressTest, FailedWritesAreRememberedPerDescriptor) {
  ::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  EXPECT_FALSE(treecopy_cli::write_all(fds[1], "lost\n"));
  EXPECT_EQ(treecopy_cli::write_error(fds[1]), EPIPE);
  treecopy_cli::note_write_error(fds[1], ENOSPC);  // the first error stays
  EXPECT_EQ(treecopy_cli::write_error(fds[1]), EPIPE);
  EXPECT_FALSE(treecopy_cli::write_all(fds[1], "more\n"));
  ::close(fds[1]);
  treecopy_cli::clear_write_errors();
  EXPECT_EQ(treecopy_cli::write_error(fds[1]), 0);
}

}  // namespace
}  // namespace treecopy_test
