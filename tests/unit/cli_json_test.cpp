// Unit tests of the CLI's JSON writer (src/cli/json.cpp): string escaping of control characters,
// line separators and bytes that are not UTF-8, base64 of exact names, numbers, and the object
// builder's layout.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "json.hpp"

namespace treecopy_test {
namespace {

using treecopy_cli::append_json_string;
using treecopy_cli::base64;
using treecopy_cli::json_object;

// The finished text of an object built in one expression (its builders return an lvalue).
std::string done(json_object& j) { return std::move(j).done(); }

std::string js(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(CliJsonTest, PlainAndQuotedCharacters) {
  EXPECT_EQ(js(""), R"("")");
  EXPECT_EQ(js("a/b c.txt"), R"("a/b c.txt")");
  EXPECT_EQ(js("say \"hi\"\\"), R"("say \"hi\"\\")");
  EXPECT_EQ(js("/"), R"("/")");  // not escaped: it need not be
}

TEST(CliJsonTest, ControlCharactersAreEscaped) {
  EXPECT_EQ(js("a\nb\tc\rd"), R"("a\nb\tc\rd")");
  EXPECT_EQ(js(std::string("\0\x01\x1b\x1f\x7f", 5)), R"("\u0000\u0001\u001b\u001f\u007f")");
  EXPECT_EQ(js("\xC2\x85"), R"("\u0085")");  // NEL (C1)
  EXPECT_EQ(js("\xC2\x9F"), R"("\u009f")");
  EXPECT_EQ(js("\xC2\xA0"), "\"\xC2\xA0\"");  // NBSP is not a control: kept
}

TEST(CliJsonTest, LineSeparatorsAreEscaped) {
  EXPECT_EQ(js("a\xE2\x80\xA8"
               "b\xE2\x80\xA9"),
            R"("a\u2028b\u2029")");
  EXPECT_EQ(js("\xE2\x80\xA7"), "\"\xE2\x80\xA7\"");  // U+2027: kept
}

TEST(CliJsonTest, WellFormedUtf8IsKept) {
  EXPECT_EQ(js("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

TEST(CliJsonTest, InvalidUtf8BecomesLatin1Escapes) {
  EXPECT_EQ(js("caf\xE9"), R"("caf\u00e9")");
  EXPECT_EQ(js("\xFF\xFE"), R"("\u00ff\u00fe")");
  EXPECT_EQ(js("\xC0\x80"), R"("\u00c0\u0080")");            // overlong NUL
  EXPECT_EQ(js("\xED\xA0\x80"), R"("\u00ed\u00a0\u0080")");  // surrogate
  EXPECT_EQ(js("a\xE2\x82"), R"("a\u00e2\u0082")");          // cut short
  EXPECT_EQ(js("\x80z"), R"("\u0080z")");                    // stray continuation byte
}

TEST(CliJsonTest, Base64) {
  // RFC 4648, section 10.
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64("\xFF\xFE\x00"), "//4=");  // the literal stops at the NUL
  EXPECT_EQ(base64(std::string("\xFF\xFE\x00", 3)), "//4A");
}

TEST(CliJsonTest, PathAddsExactBytesOnlyWhenNotUtf8) {
  EXPECT_EQ(done(json_object().path("path", "caf\xC3\xA9")), "{\"path\":\"caf\xC3\xA9\"}");
  EXPECT_EQ(done(json_object().path("path", "caf\xE9")),
            R"({"path":"caf\u00e9","path_base64":"Y2Fm6Q=="})");
}

TEST(CliJsonTest, Numbers) {
  EXPECT_EQ(done(json_object().num("n", std::uint64_t{0})), R"({"n":0})");
  EXPECT_EQ(done(json_object().num("n", std::numeric_limits<std::uint64_t>::max())),
            R"({"n":18446744073709551615})");
  EXPECT_EQ(done(json_object().num("n", -13)), R"({"n":-13})");
  EXPECT_EQ(done(json_object().real("x", 1.23456)), R"({"x":1.235})");
  EXPECT_EQ(done(json_object().real("x", 0.0)), R"({"x":0.000})");
  EXPECT_EQ(done(json_object().real("x", 1e12)), R"({"x":1000000000000.000})");
  EXPECT_EQ(done(json_object().real("x", NAN)), R"({"x":null})");
  EXPECT_EQ(done(json_object().real("x", INFINITY)), R"({"x":null})");
  EXPECT_EQ(done(json_object().real("x", -INFINITY)), R"({"x":null})");
}

TEST(CliJsonTest, ObjectLayout) {
  EXPECT_EQ(json_object().done(), "{}");
  json_object inner;
  inner.num("a", 1);
  json_object j;
  j.str("event", "x")
      .boolean("t", true)
      .boolean("f", false)
      .null("none")
      .raw("inner", std::move(inner).done())
      .raw("list", "[]")
      .str("key\n", "v");
  const std::string text = std::move(j).done();
  EXPECT_EQ(
      text,
      R"({"event":"x","t":true,"f":false,"none":null,"inner":{"a":1},"list":[],"key\n":"v"})");
}

}  // namespace
}  // namespace treecopy_test
