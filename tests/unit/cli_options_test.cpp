// The command line without options (`treecopy SRC... DST`, parsed without building CLI11's table
// of options: options.cpp) gives what CLI11 gives for the same operands after "--": the same pairs,
// the same DIR, the same defaults, the same errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "options.hpp"
#include "scratch.hpp"

namespace treecopy_test {
namespace {

struct parsed {
  std::optional<int> exit;
  std::string err;
  treecopy_cli::cli_args args;
};

parsed parse_args(std::vector<std::string> words) {
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  parsed p;
  testing::internal::CaptureStderr();
  p.exit = treecopy_cli::parse(static_cast<int>(argv.size()), argv.data(), p.args);
  p.err = testing::internal::GetCapturedStderr();
  return p;
}

void expect_same_as_cli11(const std::vector<std::string>& operands) {
  std::vector<std::string> plain{"treecopy"}, dashed{"treecopy", "--"};
  plain.insert(plain.end(), operands.begin(), operands.end());
  dashed.insert(dashed.end(), operands.begin(), operands.end());
  const parsed fast = parse_args(plain);
  const parsed full = parse_args(dashed);
  SCOPED_TRACE(testing::PrintToString(operands));
  EXPECT_EQ(fast.exit, full.exit);
  EXPECT_EQ(fast.err, full.err);
  ASSERT_EQ(fast.args.pairs.size(), full.args.pairs.size());
  for (std::size_t i = 0; i < fast.args.pairs.size(); ++i) {
    EXPECT_EQ(fast.args.pairs[i].src, full.args.pairs[i].src);
    EXPECT_EQ(fast.args.pairs[i].dst, full.args.pairs[i].dst);
  }
  EXPECT_EQ(fast.args.src, full.args.src);
  EXPECT_EQ(fast.args.dst, full.args.dst);
  EXPECT_EQ(fast.args.into_dir, full.args.into_dir);
  EXPECT_EQ(fast.args.progress, full.args.progress);
  EXPECT_EQ(fast.args.reflink, full.args.reflink);
  EXPECT_EQ(fast.args.options.jobs, full.args.options.jobs);
  EXPECT_EQ(fast.args.options.reflink, full.args.options.reflink);
  EXPECT_EQ(fast.args.options.dereference, full.args.options.dereference);
  EXPECT_EQ(fast.args.options.merge, full.args.options.merge);
  EXPECT_EQ(fast.args.options.filters.size(), full.args.options.filters.size());
}

TEST(cli_options, operands_alone_parse_as_cli11_parses_them) {
  scratch_dir scratch("cli-options");
  ASSERT_EQ(::mkdir((scratch / "src").c_str(), 0750), 0);
  ASSERT_EQ(::mkdir((scratch / "dir").c_str(), 0750), 0);
  for (const char* f : {"f1", "f2"}) {
    const int fd = ::open((scratch / f).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  expect_same_as_cli11({scratch / "src", scratch / "new"});
  expect_same_as_cli11({scratch / "src", scratch / "dir/"});
  expect_same_as_cli11({scratch / "f1", scratch / "f2", scratch / "dir"});
  expect_same_as_cli11({scratch / "f1"});                                       // no DST
  expect_same_as_cli11({scratch / "f1", scratch / "f2", scratch / "missing"});  // no DIR
}

}  // namespace
}  // namespace treecopy_test
