// libFuzzer target for the include/exclude filters (plan::glob_match and plan::filter), whose
// patterns come straight from the command line, --exclude-from files and library callers.
//
// Input: PATTERNS '\0' PATH. PATTERNS is one rule a line ("+" prefix: include); PATH is matched
// both whole and by its last component, as a file and as a directory. Beyond "no crash", the
// target checks properties any correct glob must have: a pattern with no special characters
// matches exactly itself, "*" matches every name without '/', and "**" matches everything.
// Time is bounded by the fuzzer's -timeout (scripts/fuzz.sh): glob_match promises
// O(|pattern| x |text|).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "plan/filter.hpp"

namespace {

bool plain(std::string_view p) { return p.find_first_of("*?[\\") == std::string_view::npos; }

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view patterns = input.substr(0, nul);
  const std::string_view path =
      nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1);
  const std::size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);

  std::vector<treecopy::filter_rule> rules;
  for (std::size_t pos = 0; pos <= patterns.size();) {
    std::size_t end = patterns.find('\n', pos);
    if (end == std::string_view::npos) end = patterns.size();
    std::string_view line = patterns.substr(pos, end - pos);
    pos = end + 1;
    treecopy::filter_rule r;
    if (!line.empty() && line[0] == '+') {
      r.include = true;
      line.remove_prefix(1);
    }
    r.pattern = std::string(line);
    // The matcher on its own, against the whole path and the name.
    const bool whole = treecopy::plan::glob_match(r.pattern, path);
    (void)treecopy::plan::glob_match(r.pattern, name);
    if (plain(r.pattern)) check(whole == (r.pattern == path));
    rules.push_back(std::move(r));
    if (rules.size() >= 64) break;
  }
  if (name.find('/') == std::string_view::npos) check(treecopy::plan::glob_match("*", name));
  check(treecopy::plan::glob_match("**", path));

  // The compiled rule list, as the engine uses it.
  try {
    const treecopy::plan::filter f(rules);
    (void)f.excluded(path, name, false);
    (void)f.excluded(path, name, true);
  } catch (const treecopy::plan::filter_error&) {
    // A rejected pattern (empty, only '/') is a valid outcome.
  }
  return 0;
}
