// Unit tests of the library's vocabulary (src/vocabulary.cpp): the stable ids of operations, errc
// values and sides, parsing them and the reflink and symlink modes back from strings, and the
// UTF-8 check that quote() and the CLI's JSON writer share.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "treecopy/treecopy.hpp"

namespace treecopy_test {
namespace {

using treecopy::errc;
using treecopy::operation;

// The documented ids (docs/output.md), in enumeration order:
// changing one breaks every consumer of the JSON output.
const std::vector<std::string> operation_ids = {
    "open_source", "stat",      "read_dir",  "read_link", "read_xattr", "read",
    "create",      "remove",    "write",     "clone",     "link",       "set_owner",
    "set_mode",    "set_times", "set_xattr", "close",     "cancelled"};

TEST(VocabularyTest, OperationIdsAreTheEnumeratorNames) {
  for (std::size_t i = 0; i < operation_ids.size(); ++i) {
    const auto op = static_cast<operation>(i);
    EXPECT_EQ(treecopy::to_id(op), operation_ids[i]);
    EXPECT_EQ(treecopy::parse_operation(operation_ids[i]), op) << operation_ids[i];
  }
  EXPECT_STREQ(treecopy::to_id(static_cast<operation>(operation_ids.size())), "other");
}

TEST(VocabularyTest, OperationIdsAreNotTheMessageVerbs) {
  EXPECT_STREQ(treecopy::to_string(operation::set_times), "set times of");
  EXPECT_STREQ(treecopy::to_id(operation::set_times), "set_times");
  EXPECT_EQ(treecopy::parse_operation("set times of"), std::nullopt);
  EXPECT_EQ(treecopy::parse_operation("open"), std::nullopt);  // the verb of open_source
  EXPECT_EQ(treecopy::parse_operation(""), std::nullopt);
  EXPECT_EQ(treecopy::parse_operation("other"), std::nullopt);
  EXPECT_EQ(treecopy::parse_operation("STAT"), std::nullopt);
}

TEST(VocabularyTest, ErrcIds) {
  const std::vector<std::pair<errc, std::string>> ids = {
      {errc::source_changed, "source_changed"}, {errc::directory_cycle, "directory_cycle"},
      {errc::into_itself, "into_itself"},       {errc::holds_source, "holds_source"},
      {errc::holds_excluded, "holds_excluded"}, {errc::mount_point, "mount_point"}};
  for (const auto& [e, id] : ids) {
    EXPECT_EQ(treecopy::to_id(e), id);
    EXPECT_EQ(treecopy::parse_errc(id), e);
  }
  EXPECT_STREQ(treecopy::to_id(static_cast<errc>(0)), "");
  EXPECT_STREQ(treecopy::to_id(static_cast<errc>(99)), "");
  EXPECT_EQ(treecopy::parse_errc(""), std::nullopt);
  EXPECT_EQ(treecopy::parse_errc("EACCES"), std::nullopt);
}

TEST(VocabularyTest, SideIds) {
  EXPECT_STREQ(treecopy::to_id(treecopy::entry_side::source), "source");
  EXPECT_STREQ(treecopy::to_id(treecopy::entry_side::destination), "destination");
}

TEST(VocabularyTest, ReflinkModes) {
  using treecopy::reflink_mode;
  EXPECT_EQ(treecopy::parse_reflink_mode("auto"), reflink_mode::automatic);
  EXPECT_EQ(treecopy::parse_reflink_mode("always"), reflink_mode::always);
  EXPECT_EQ(treecopy::parse_reflink_mode("never"), reflink_mode::never);
  for (const char* bad : {"", "automatic", "Auto", "always ", "yes"})
    EXPECT_EQ(treecopy::parse_reflink_mode(bad), std::nullopt) << bad;
  for (reflink_mode m : {reflink_mode::automatic, reflink_mode::always, reflink_mode::never})
    EXPECT_EQ(treecopy::parse_reflink_mode(treecopy::to_id(m)), m);
}

TEST(VocabularyTest, SymlinkModes) {
  using treecopy::symlink_mode;
  EXPECT_EQ(treecopy::parse_symlink_mode("never"), symlink_mode::never);
  EXPECT_EQ(treecopy::parse_symlink_mode("command_line"), symlink_mode::command_line);
  EXPECT_EQ(treecopy::parse_symlink_mode("always"), symlink_mode::always);
  for (const char* bad : {"", "true", "command-line", "-L"})
    EXPECT_EQ(treecopy::parse_symlink_mode(bad), std::nullopt) << bad;
}

TEST(VocabularyTest, Utf8SequenceLengths) {
  using treecopy::utf8_sequence_length;
  EXPECT_EQ(utf8_sequence_length("a", 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xC3\xA9", 0), 2u);          // é
  EXPECT_EQ(utf8_sequence_length("\xE2\x82\xAC", 0), 3u);      // €
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x98\x80", 0), 4u);  // U+1F600
  EXPECT_EQ(utf8_sequence_length("\x80", 0), 0u);              // stray continuation byte
  EXPECT_EQ(utf8_sequence_length("\xC0\x80", 0), 0u);          // overlong NUL
  EXPECT_EQ(utf8_sequence_length("\xE0\x80\x80", 0), 0u);      // overlong
  EXPECT_EQ(utf8_sequence_length("\xED\xA0\x80", 0), 0u);      // UTF-16 surrogate
  EXPECT_EQ(utf8_sequence_length("\xF0\x80\x80\x80", 0), 0u);  // overlong
  EXPECT_EQ(utf8_sequence_length("\xF4\x90\x80\x80", 0), 0u);  // beyond U+10FFFF
  EXPECT_EQ(utf8_sequence_length("\xE2\x82", 0), 0u);          // cut short
  EXPECT_EQ(utf8_sequence_length("\xFF", 0), 0u);
  EXPECT_EQ(utf8_sequence_length("x\xC3\xA9", 1), 2u);
}

TEST(VocabularyTest, ValidUtf8) {
  EXPECT_TRUE(treecopy::is_valid_utf8(""));
  EXPECT_TRUE(treecopy::is_valid_utf8("plain/path"));
  EXPECT_TRUE(treecopy::is_valid_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(treecopy::is_valid_utf8("caf\xE9"));  // Latin-1
  EXPECT_FALSE(treecopy::is_valid_utf8("a\xC3"));
  EXPECT_FALSE(treecopy::is_valid_utf8(std::string("\xED\xBF\xBF", 3)));
}

// quote() now uses the shared check: its escapes of bytes that are not UTF-8 are unchanged.
TEST(VocabularyTest, QuoteStillEscapesInvalidUtf8) {
  EXPECT_EQ(treecopy::quote("caf\xC3\xA9"), "'caf\xC3\xA9'");
  EXPECT_EQ(treecopy::quote("caf\xE9"), "'caf'$'\\351'");
  EXPECT_EQ(treecopy::quote("\xED\xA0\x80"), "''$'\\355\\240\\200'");
}

}  // namespace
}  // namespace treecopy_test
