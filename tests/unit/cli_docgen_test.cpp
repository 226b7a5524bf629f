// Unit tests of the man page and completion generators (src/cli/docgen.cpp) and of --version
// (src/cli/build_info.cpp): every option of --help is in each document, with the value sets of
// the options that have one, and the exit codes are those the CLI returns.
#include <gtest/gtest.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <regex>
#include <set>
#include <string>

#include "build_info.hpp"
#include "docgen.hpp"
#include "options.hpp"
#include "summary.hpp"

namespace treecopy_test {
namespace {

using treecopy_cli::option_doc;

// The long and short options that --help lists, read from its text.
std::set<std::string> options_in_help() {
  treecopy_cli::cli_args args;
  const std::string help = treecopy_cli::make_app(args, 8)->help();
  std::set<std::string> names;
  const std::regex option(R"((^|[\s,])(--?[A-Za-z0-9][A-Za-z0-9-]*))");
  for (std::sregex_iterator it(help.begin(), help.end(), option), end; it != end; ++it)
    names.insert((*it)[2]);
  return names;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(CliDocgenTest, HelpListsTheOptionsTheDocumentsAreMadeOf) {
  const std::set<std::string> help = options_in_help();
  std::set<std::string> documented;
  for (const option_doc& o : treecopy_cli::option_docs())
    if (!o.operand) documented.insert(o.names.begin(), o.names.end());
  for (const std::string& name : documented) EXPECT_TRUE(help.count(name)) << name;
  for (const char* name : {"--jobs", "--reflink", "--progress", "--update", "--exclude-from", "-H",
                           "--version", "--help", "-x"})
    EXPECT_TRUE(documented.count(name)) << name;
}

TEST(CliDocgenTest, ManPageHasEveryOptionTheExitCodesAndExamples) {
  const std::string man = treecopy_cli::man_page();
  for (const option_doc& o : treecopy_cli::option_docs()) {
    for (std::string name : o.names) {
      // In roff every '-' is written "\-".
      std::string escaped;
      for (char c : name) escaped += c == '-' ? std::string("\\-") : std::string(1, c);
      EXPECT_TRUE(contains(man, escaped)) << name;
    }
    for (const std::string& value : o.values) EXPECT_TRUE(contains(man, value)) << value;
  }
  for (const char* section : {".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH EXIT STATUS",
                              ".SH EXAMPLES", ".SH PROGRESS"})
    EXPECT_TRUE(contains(man, section)) << section;
  for (const treecopy_cli::doc_item& e : treecopy_cli::exit_code_docs())
    EXPECT_TRUE(contains(man, ".TP\n\\fB" + std::string(e.term) + "\\fR\n")) << e.term;
  EXPECT_EQ(treecopy_cli::example_docs().size(), 6u);
  // Made for any machine: not this one's number of workers.
  EXPECT_FALSE(contains(man, "this machine"));
}

TEST(CliDocgenTest, ExitCodesAreTheOnesTheCliReturns) {
  std::set<std::string> documented;
  for (const treecopy_cli::doc_item& e : treecopy_cli::exit_code_docs())
    documented.insert(std::string(e.term));
  const std::set<std::string> returned = {
      std::to_string(treecopy_cli::exit_ok), std::to_string(treecopy_cli::exit_entry_errors),
      std::to_string(treecopy_cli::exit_usage), std::to_string(128 + SIGINT),
      std::to_string(128 + SIGTERM)};
  EXPECT_EQ(documented, returned);
  treecopy_cli::run_outcome stopped;
  stopped.signal = SIGTERM;
  EXPECT_EQ(treecopy_cli::exit_code_for(stopped), 143);
}

TEST(CliDocgenTest, CompletionsOfferEveryOptionAndTheValueSets) {
  const std::string bash = treecopy_cli::bash_completion(), zsh = treecopy_cli::zsh_completion(),
                    fish = treecopy_cli::fish_completion();
  for (const option_doc& o : treecopy_cli::option_docs()) {
    if (o.operand) continue;
    for (const std::string& name : o.names) {
      EXPECT_TRUE(contains(bash, name)) << "bash: " << name;
      EXPECT_TRUE(contains(zsh, name)) << "zsh: " << name;
      const std::string fish_flag =
          name.size() == 2 ? " -s " + name.substr(1) + " " : " -l " + name.substr(2) + " ";
      EXPECT_TRUE(contains(fish, fish_flag)) << "fish: " << name;
    }
  }
  for (const treecopy_cli::value_set& set : treecopy_cli::value_sets()) {
    std::string words;
    for (std::string_view v : set.values) words += (words.empty() ? "" : " ") + std::string(v);
    EXPECT_TRUE(contains(bash, "-W '" + words + "'")) << set.option;
    EXPECT_TRUE(contains(zsh, "(" + words + ")")) << set.option;
    EXPECT_TRUE(contains(fish, "-l " + std::string(set.option.substr(2)) + " -x -a '" + words))
        << set.option;
  }
  // Values that name files complete as paths; so do SRC and DST.
  EXPECT_TRUE(contains(bash, "--progress-file)\n      compopt -o filenames"));
  EXPECT_TRUE(contains(zsh, "'1:SRC:_files'"));
  EXPECT_TRUE(contains(fish, "-l exclude-from -r -F"));
}

TEST(CliDocgenTest, TheValueSetsAreTheOnesParseAccepts) {
  for (const treecopy_cli::value_set& set : treecopy_cli::value_sets()) {
    for (std::string_view value : set.values) {
      treecopy_cli::cli_args args;
      std::string option = std::string(set.option) + "=" + std::string(value);
      std::vector<std::string> words = {"treecopy", option, "src", "dst"};
      std::vector<char*> argv;
      for (std::string& w : words) argv.push_back(w.data());
      EXPECT_FALSE(treecopy_cli::parse(static_cast<int>(argv.size()), argv.data(), args)) << option;
    }
  }
}

TEST(CliDocgenTest, VersionSaysTheCommitAndTheLibraries) {
  const std::string text = treecopy_cli::version_text();
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(^treecopy \d+\.\d+\.\d+\n)"))) << text;
  EXPECT_TRUE(contains(text, std::string("commit: ") + treecopy_cli::build_commit())) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(oneTBB \d+\.\d+)"))) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(CLI11 \d+\.\d+)"))) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"((GCC|Clang) \d+)"))) << text;
  EXPECT_TRUE(std::regex_match(treecopy_cli::build_commit(),
                               std::regex(R"(unknown|[0-9a-f]{7,40}(-dirty)?)")))
      << treecopy_cli::build_commit();
}

}  // namespace
}  // namespace treecopy_test
