// Unit tests of the include/exclude filters (src/plan/filter): glob_match() and the first-match
// rule list, against a table of patterns, paths and expected decisions: '*', '?', "[...]",
// "[!...]", '**', a leading '/', a trailing '/', name against path patterns, --include order,
// backslash escapes, and the patterns that are refused.
#include "plan/filter.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

using treecopy::filter_rule;
using treecopy::plan::filter;
using treecopy::plan::glob_match;

// "-PATTERN" is --exclude PATTERN, "+PATTERN" is --include PATTERN.
std::vector<filter_rule> rules_of(const std::vector<std::string>& specs) {
  std::vector<filter_rule> rules;
  for (const auto& s : specs) rules.push_back({s.at(0) == '+', s.substr(1)});
  return rules;
}

struct filter_case {
  std::vector<std::string> rules;
  std::string rel;  // path relative to SRC
  bool is_dir;
  bool excluded;
};

std::string name_of(const std::string& rel) {
  const auto slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

std::string show(const filter_case& c) {
  std::string text = "rules:";
  for (const auto& r : c.rules) text += " '" + r + "'";
  return text + "  path '" + c.rel + "'" + (c.is_dir ? " (dir)" : " (file)") + "  expected " +
         (c.excluded ? "excluded" : "kept");
}

const bool dir = true, file = false;
const bool out = true, in = false;

const std::vector<filter_case> cases = {
    // '*': any run of characters in a name, at any depth; also matches directories and dot names.
    {{"-*.o"}, "main.o", file, out},
    {{"-*.o"}, "src/deep/main.o", file, out},
    {{"-*.o"}, "main.c", file, in},
    {{"-*.o"}, "main.oo", file, in},
    {{"-*.o"}, "main.o.d", file, in},
    {{"-*.o"}, "x.o", dir, out},
    {{"-*.o"}, ".o", file, out},
    {{"-*.o"}, "a b.o", file, out},
    {{"-*"}, ".hidden", file, out},
    {{"-*"}, "deep/er/thing", dir, out},
    {{"-main"}, "src/main", dir, out},
    {{"-main"}, "src/main/x", file, in},  // the directory itself is what the rule removes
    {{"-ma*n"}, "maintain", file, out},
    {{"-ma*n"}, "mainly", file, in},
    // '?': exactly one character.
    {{"-?.c"}, "a.c", file, out},
    {{"-?.c"}, "ab.c", file, in},
    {{"-?.c"}, ".c", file, in},
    {{"-x/a?c"}, "x/abc", file, out},
    {{"-x/a?c"}, "x/a/c", file, in},  // '?' never matches '/'
    // Bracket expressions.
    {{"-[abc].txt"}, "b.txt", file, out},
    {{"-[abc].txt"}, "d.txt", file, in},
    {{"-[a-c]x"}, "bx", file, out},
    {{"-[a-c]x"}, "dx", file, in},
    {{"-[!a-c]x"}, "dx", file, out},
    {{"-[!a-c]x"}, "ax", file, in},
    {{"-[^a-c]x"}, "dx", file, out},
    {{"-[^a-c]x"}, "cx", file, in},
    {{"-file[0-9][0-9]"}, "file42", file, out},
    {{"-file[0-9][0-9]"}, "file4", file, in},
    {{"-file[0-9][0-9]"}, "file4x", file, in},
    {{"-[]]"}, "]", file, out},  // ']' first in the set is literal
    {{"-[!]]"}, "a", file, out},
    {{"-[!]]"}, "]", file, in},
    {{"-[abc"}, "[abc", file, out},  // unclosed: a literal '['
    {{"-[abc"}, "a", file, in},
    {{"-x[/]y"}, "x/y", file, in},  // a set never matches '/'
    // '**': any run, '/' included; "**/" may also match nothing.
    {{"-a/**/b"}, "a/b", dir, out},
    {{"-a/**/b"}, "a/x/b", dir, out},
    {{"-a/**/b"}, "a/x/y/b", file, out},
    {{"-a/**/b"}, "a/xb", file, in},
    {{"-a/**/b"}, "c/a/x/b", file, in},
    {{"-**/*.o"}, "x.o", file, out},
    {{"-**/*.o"}, "d/e/x.o", file, out},
    {{"-**/*.o"}, "d/e/x.c", file, in},
    {{"-build/**"}, "build/x", file, out},
    {{"-build/**"}, "build/x/y", dir, out},
    {{"-build/**"}, "build", dir, in},
    {{"-**"}, "any/where/at/all", file, out},
    {{"-a/*/c"}, "a/b/c", file, out},
    {{"-a/*/c"}, "a/b/d/c", file, in},  // a single '*' stays within one name
    {{"-docs/**/*.md"}, "docs/x/y/z.md", file, out},
    {{"-docs/**/*.md"}, "docs/z.md", file, out},
    // A leading '/': anchored at SRC.
    {{"-/build"}, "build", dir, out},
    {{"-/build"}, "build", file, out},
    {{"-/build"}, "src/build", dir, in},
    {{"-/*.o"}, "x.o", file, out},
    {{"-/*.o"}, "d/x.o", file, in},
    {{"-/src/gen/"}, "src/gen", dir, out},
    {{"-/src/gen/"}, "src/gen", file, in},
    {{"-/src/gen/"}, "x/src/gen", dir, in},
    // A trailing '/': directories only, still at any depth when there is no other '/'.
    {{"-build/"}, "build", dir, out},
    {{"-build/"}, "build", file, in},
    {{"-build/"}, "a/b/build", dir, out},
    {{"-.git/"}, ".git", dir, out},
    {{"-.git/"}, "sub/module/.git", dir, out},
    {{"-.git/"}, "sub/module/.git", file, in},  // a submodule's .git file stays
    {{"-.git/"}, ".gitignore", file, in},
    {{"-build/", "-*.c"}, "build", file, in},  // a skipped dir-only rule does not stop the search
    // A '/' inside: matched against the whole path relative to SRC, not a name.
    {{"-b/c"}, "b/c", file, out},
    {{"-b/c"}, "a/b/c", file, in},
    {{"-c"}, "a/b/c", file, out},
    {{"-docs/*.md"}, "docs/a.md", file, out},
    {{"-docs/*.md"}, "x/docs/a.md", file, in},
    {{"-docs/*.md"}, "docs/sub/a.md", file, in},
    // Rules in order; the first that matches decides.
    {{"+keep.o", "-*.o"}, "keep.o", file, in},
    {{"+keep.o", "-*.o"}, "d/keep.o", file, in},
    {{"+keep.o", "-*.o"}, "other.o", file, out},
    {{"-*.o", "+keep.o"}, "keep.o", file, out},
    {{"+*.h", "-*"}, "x.h", file, in},
    {{"+*.h", "-*"}, "x.c", file, out},
    {{"+*.h", "-*"}, "include", dir, out},
    {{"+inc/", "-*"}, "inc", dir, in},
    {{"+inc/", "-*"}, "inc", file, out},
    {{"+/top.log", "-*.log"}, "top.log", file, in},
    {{"+/top.log", "-*.log"}, "sub/top.log", file, out},
    {{"+important"}, "anything", file, in},  // an include alone excludes nothing
    {{}, "anything", file, in},
    // Backslash escapes make the next character literal.
    {{"-\\*.txt"}, "*.txt", file, out},
    {{"-\\*.txt"}, "a.txt", file, in},
    {{"-a\\?"}, "a?", file, out},
    {{"-a\\?"}, "ab", file, in},
    {{"-\\[x\\]"}, "[x]", file, out},
    {{"-\\[x\\]"}, "x", file, in},
    {{"-[\\!a]"}, "!", file, out},
    {{"-[\\!a]"}, "b", file, in},
    {{"-[\\]]"}, "]", file, out},
    {{"-\\\\"}, "\\", file, out},
    {{"-a\\"}, "a\\", file, out},  // a final backslash is itself
};

TEST(filter_table_test, every_case) {
  for (const auto& c : cases) {
    const filter f(rules_of(c.rules));
    EXPECT_EQ(f.excluded(c.rel, name_of(c.rel), c.is_dir), c.excluded) << show(c);
  }
}

TEST(filter_table_test, needs_path_only_for_path_patterns) {
  EXPECT_FALSE(filter(rules_of({"-*.o", "+x", "-build/"})).needs_path());
  EXPECT_TRUE(filter(rules_of({"-*.o", "-a/b"})).needs_path());
  EXPECT_TRUE(filter(rules_of({"-/top"})).needs_path());
  EXPECT_TRUE(filter(rules_of({"-**/x"})).needs_path());
  EXPECT_TRUE(filter().empty());
  EXPECT_FALSE(filter(rules_of({"+x"})).empty());
}

TEST(filter_table_test, meaningless_patterns_are_refused) {
  for (const char* p : {"", "/", "//", "///"}) {
    EXPECT_THROW(filter({{false, p}}), treecopy::plan::filter_error) << "pattern '" << p << "'";
    EXPECT_THROW(filter({{true, p}}), treecopy::plan::filter_error) << "pattern '" << p << "'";
  }
  try {
    filter({{false, "//"}});
  } catch (const treecopy::plan::filter_error& e) {
    EXPECT_NE(std::string(e.what()).find("//"), std::string::npos)
        << "the message names the pattern";
  }
}

TEST(glob_match_test, edges) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_FALSE(glob_match("?", ""));
  EXPECT_FALSE(glob_match("a*", "a/b"));
  EXPECT_TRUE(glob_match("a**", "a/b"));
  EXPECT_TRUE(glob_match("**", "a/b/c"));
  EXPECT_TRUE(glob_match("*/*", "a/b"));
  EXPECT_FALSE(glob_match("*/*", "a/b/c"));
  EXPECT_TRUE(glob_match("a/**/b/**/c", "a/b/c"));
  EXPECT_TRUE(glob_match("a/**/b/**/c", "a/x/b/y/z/c"));
  EXPECT_FALSE(glob_match("a/**/b/**/c", "a/x/c"));
  EXPECT_TRUE(glob_match("\xe9*", "\xe9t\xe9"));  // bytes above 0x7f
  EXPECT_TRUE(glob_match("[\x80-\xff]", "\xe9"));
  EXPECT_FALSE(glob_match("[a-z]", "\xe9"));
}

// Many stars against a text that almost matches: must not take exponential time.
TEST(glob_match_test, pathological_patterns_stay_fast) {
  const auto start = std::chrono::steady_clock::now();
  const std::string text(300, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", text));
  EXPECT_FALSE(glob_match("**a**a**a**a**a**a**a**a**a**a**b", text));
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "a/";
  deep += "x";
  EXPECT_FALSE(glob_match("**/a/**/a/**/a/**/a/**/a/**/a/**/y", deep));
  EXPECT_TRUE(glob_match("**/a/**/a/**/a/**/a/**/a/**/a/**/x", deep));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

}  // namespace
