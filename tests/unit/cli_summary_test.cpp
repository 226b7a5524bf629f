// Unit tests of the end of a CLI run (src/cli/summary.cpp): the exit-code table, the status word,
// the human summary and the --json summary, on fixed reports.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "summary.hpp"

namespace treecopy_test {
namespace {

using treecopy::entry_kind;
using treecopy_cli::run_info;
using treecopy_cli::run_outcome;

run_outcome with_report(void (*fill)(treecopy::copy_report&)) {
  run_outcome o;
  fill(o.report);
  return o;
}

TEST(CliSummaryTest, ExitCodeTable) {
  using treecopy_cli::exit_code_for;
  run_outcome ok;
  EXPECT_EQ(exit_code_for(ok), 0);

  run_outcome errors = with_report([](treecopy::copy_report& r) { r.error_count = 3; });
  EXPECT_EQ(exit_code_for(errors), 1);

  run_outcome cancelled = with_report([](treecopy::copy_report& r) { r.cancelled = true; });
  EXPECT_EQ(exit_code_for(cancelled), 1);

  run_outcome lost;
  lost.output_lost = true;
  EXPECT_EQ(exit_code_for(lost), 1);

  run_outcome setup;
  setup.failure = "'src': cannot read source: No such file or directory";
  EXPECT_EQ(exit_code_for(setup), 2);

  run_outcome broke_off = setup;
  broke_off.failure_exit = treecopy_cli::exit_entry_errors;
  EXPECT_EQ(exit_code_for(broke_off), 1);

  // A signal wins over everything else.
  run_outcome interrupted = errors;
  interrupted.signal = SIGINT;
  interrupted.failure = "x";
  EXPECT_EQ(exit_code_for(interrupted), 130);
  run_outcome terminated;
  terminated.signal = SIGTERM;
  EXPECT_EQ(exit_code_for(terminated), 143);
}

TEST(CliSummaryTest, Status) {
  using treecopy_cli::status_of;
  EXPECT_STREQ(status_of(run_outcome{}), "ok");
  EXPECT_STREQ(status_of(with_report([](treecopy::copy_report& r) { r.error_count = 1; })),
               "errors");
  EXPECT_STREQ(status_of(with_report([](treecopy::copy_report& r) {
                 r.error_count = 1;
                 r.cancelled = true;
               })),
               "cancelled");
  run_outcome setup;
  setup.failure = "bad";
  EXPECT_STREQ(status_of(setup), "setup_error");
  setup.failure_exit = 1;
  EXPECT_STREQ(status_of(setup), "failed");
}

TEST(CliSummaryTest, Counts) {
  using treecopy_cli::count_of;
  EXPECT_EQ(count_of(1, entry_kind::file), "1 file");
  EXPECT_EQ(count_of(0, entry_kind::file), "0 files");
  EXPECT_EQ(count_of(2, entry_kind::directory), "2 directories");
  EXPECT_EQ(count_of(1, entry_kind::hardlink), "1 hard link");
  EXPECT_EQ(count_of(3, entry_kind::char_device), "3 character devices");
}

// A run that copied a little, skipped and removed some entries, and failed on twelve (eleven
// kept): the summary shows the first ten.
run_outcome busy_run() {
  run_outcome o;
  treecopy::copy_report& r = o.report;
  r.copied[entry_kind::file] = 3;
  r.copied[entry_kind::directory] = 1;
  r.copied[entry_kind::symlink] = 1;
  r.bytes_copied = 3 * 1024 * 1024;
  r.elapsed = std::chrono::seconds(2);
  r.skipped = 2;
  r.removed = 1;
  r.error_count = 12;
  for (int i = 0; i < 11; ++i)
    r.errors.push_back({"/src/f" + std::to_string(i), treecopy::operation::read,
                        std::make_error_code(std::errc::io_error), treecopy::entry_side::source});
  return o;
}

TEST(CliSummaryTest, TextSnapshot) {
  run_info info{"/src", "/dst", false, 8, 5, {}};
  std::string expected =
      "treecopy: copied 5 entries (3 files, 1 directory, 1 symlink), 3.0 MiB in 2.00 s "
      "(1.5 MiB/s); 2 skipped; 1 removed; 12 errors\n"
      "treecopy: first 10 of 12 errors:\n";
  for (int i = 0; i < 10; ++i)
    expected += "  cannot read '/src/f" + std::to_string(i) + "': Input/output error\n";
  EXPECT_EQ(treecopy_cli::summary_text(info, busy_run(), 10), expected);
}

TEST(CliSummaryTest, TextOfCleanDryRunAndStops) {
  run_info info{"s", "d", true, 8, 5, {}};
  run_outcome o;
  o.report.copied[entry_kind::file] = 1;
  o.report.bytes_copied = 512;
  o.report.elapsed = std::chrono::milliseconds(1500);
  EXPECT_EQ(treecopy_cli::summary_text(info, o, 10),
            "treecopy: dry run: would copy 1 entries (1 file), 512 B in 1.50 s; 0 errors\n");

  info.dry_run = false;
  run_outcome empty;
  EXPECT_EQ(treecopy_cli::summary_text(info, empty, 10),
            "treecopy: copied 0 entries (none), 0 B in 0.00 s; 0 errors\n");

  run_outcome stopped;
  stopped.report.cancelled = true;
  stopped.signal = SIGINT;
  EXPECT_EQ(treecopy_cli::summary_text(info, stopped, 10),
            "treecopy: copied 0 entries (none), 0 B in 0.00 s; 0 errors\n"
            "treecopy: stopped by SIGINT: no new entry was started and files being written were "
            "removed\n");
  stopped.signal = 0;
  EXPECT_EQ(treecopy_cli::summary_text(info, stopped, 10),
            "treecopy: copied 0 entries (none), 0 B in 0.00 s; 0 errors\n"
            "treecopy: stopped before the end\n");
  run_outcome late;
  late.signal = SIGTERM;
  EXPECT_EQ(treecopy_cli::summary_text(info, late, 10),
            "treecopy: copied 0 entries (none), 0 B in 0.00 s; 0 errors\n"
            "treecopy: SIGTERM received as the copy ended\n");

  run_outcome one_error;
  one_error.report.error_count = 1;
  one_error.report.errors.push_back({"/dst/x", treecopy::operation::set_times,
                                     std::make_error_code(std::errc::permission_denied),
                                     treecopy::entry_side::destination});
  EXPECT_EQ(treecopy_cli::summary_text(info, one_error, 10),
            "treecopy: copied 0 entries (none), 0 B in 0.00 s; 1 error\n"
            "treecopy: all 1 error:\n"
            "  cannot set times of '/dst/x': Permission denied\n");
}

TEST(CliSummaryTest, JsonSnapshot) {
  run_info info{"/src", "/dst\xFF", false, 8, 1, {}};
  run_outcome o;
  treecopy::copy_report& r = o.report;
  r.copied[entry_kind::file] = 2;
  r.copied[entry_kind::directory] = 1;
  r.bytes_copied = 1000;
  r.elapsed = std::chrono::milliseconds(500);
  r.error_count = 3;
  r.errors.push_back({"/dst\xFF/a", treecopy::operation::set_mode,
                      std::make_error_code(std::errc::operation_not_permitted),
                      treecopy::entry_side::destination});
  r.errors.push_back({"/src/b", treecopy::operation::read, treecopy::errc::source_changed,
                      treecopy::entry_side::source});
  o.exit_code = treecopy_cli::exit_code_for(o);
  EXPECT_EQ(
      treecopy_cli::summary_json(info, o),
      R"({"status":"errors","exit_code":1,"source":"/src","destination":"/dst\u00ff",)"
      R"("destination_base64":"L2RzdP8=","dry_run":false,"cancelled":false,"signal":null,)"
      R"("elapsed":0.500,"entries":{"file":2,"directory":1,"symlink":0,"hardlink":0,"fifo":0,)"
      R"("socket":0,"char_device":0,"block_device":0,"total":3},"bytes":1000,)"
      R"("bytes_per_second":2000.000,"skipped":0,"removed":0,"error_count":3,"errors":[)"
      R"({"path":"/dst\u00ff/a","path_base64":"L2RzdP8vYQ==","operation":"set_mode",)"
      R"("side":"destination","errno":1,"errno_name":"EPERM","message":"Operation not permitted"},)"
      R"({"path":"/src/b","operation":"read","side":"source","errno":0,"errno_name":"",)"
      R"("treecopy_error":"source_changed","message":"file changed while it was copied"}],)"
      R"("errors_not_listed":1})"
      "\n");
}

TEST(CliSummaryTest, JsonOfSetupErrorAndSignal) {
  run_info info{"s", "d", true, 4, 1, {}};
  run_outcome o;
  o.failure = "'s': cannot read source: No such file or directory";
  o.signal = SIGTERM;
  o.exit_code = treecopy_cli::exit_code_for(o);
  EXPECT_EQ(treecopy_cli::summary_json(info, o),
            R"({"status":"setup_error","exit_code":143,"source":"s","destination":"d",)"
            R"("dry_run":true,"message":"'s': cannot read source: No such file or directory",)"
            R"("cancelled":false,"signal":"SIGTERM","elapsed":0.000,"entries":{"file":0,)"
            R"("directory":0,"symlink":0,"hardlink":0,"fifo":0,"socket":0,"char_device":0,)"
            R"("block_device":0,"total":0},"bytes":0,"bytes_per_second":0.000,"skipped":0,)"
            R"("removed":0,"error_count":0,"errors":[],"errors_not_listed":0})"
            "\n");
}

}  // namespace
}  // namespace treecopy_test
