// Include/exclude filters: glob matching and the first-match-decides rule list. Pure functions, no
// I/O, so that they can be unit-tested and fuzzed on their own.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "treecopy/options.hpp"

namespace treecopy::plan {

/// Matches text against a glob: '*' any run of characters but '/', '?' one character but '/',
/// "[a-z]", "[!a-z]" or "[^a-z]" one character of (or not of) a set (which may hold POSIX classes
/// such as "[[:digit:]]"), '**' any run including '/'
/// ("a/**/b" matches a/b, a/x/b, a/x/y/b), and '\\' makes the next character literal. An unclosed
/// '[' is a literal '['. Runs in O(|pattern| x |text|) at worst.
bool glob_match(std::string_view pattern, std::string_view text);

/// A bad filter pattern (empty, or only '/'), with the pattern in the message.
class filter_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// What the rule list says of an entry.
enum class filter_verdict : unsigned char { none, excluded, included };

/// Whether an entry is left out: the rules decide first; an entry no rule matches is left out when
/// git ignores it (--gitignore; git_ignores is only called then).
template <class GitIgnores>
bool left_out(filter_verdict by_rules, GitIgnores&& git_ignores) {
  if (by_rules != filter_verdict::none) return by_rules == filter_verdict::excluded;
  return git_ignores();
}

/// copy_options::files_from compiled once: the listed paths relative to SRC, each copied whole (a
/// listed directory with everything in it), with the directories that lead to them.
class selection {
 public:
  selection() = default;
  /// Normalizes each path ("./a//b/" is "a/b"; "." is SRC itself, so everything); throws
  /// filter_error for an empty path, an absolute one, or one with a ".." component (it could
  /// name something outside SRC).
  explicit selection(const std::vector<std::string>& paths);

  /// No list: everything is selected.
  bool empty() const noexcept { return listed_.empty(); }
  /// Whether the entry at rel (relative to SRC, non-empty) is copied: listed, inside a listed
  /// path, or a directory on the way to one. At most one lookup per component of rel.
  bool selects(std::string_view rel) const;
  /// The listed paths, normalized, in the order given (duplicates removed).
  const std::vector<std::string>& listed() const noexcept { return listed_; }

 private:
  /// Every listed path (true) and every directory on the way to one (false).
  std::unordered_map<std::string, bool> paths_;
  std::vector<std::string> listed_;
  bool all_ = false;  ///< "." was listed
};

/// The compiled rule list of copy_options::filters, and copy_options::files_from.
class filter {
 public:
  filter() = default;
  /// Compiles rules; throws filter_error for a pattern that can match nothing meaningful, or for
  /// a listed path that selection refuses.
  explicit filter(const std::vector<filter_rule>& rules,
                  const std::vector<std::string>& files_from = {});

  /// No rules and no list: nothing is ever excluded.
  bool empty() const noexcept { return rules_.empty() && selected_.empty(); }
  /// Some rule matches against the path relative to SRC (its pattern has a '/' inside), or a list
  /// selects paths, so callers must pass rel; otherwise rel is never looked at.
  bool needs_path() const noexcept { return needs_path_ || !selected_.empty(); }
  /// The --files-from list (empty without one).
  const selection& selected() const noexcept { return selected_; }

  /// Whether an entry is excluded. rel: its path relative to SRC ("a/b/c.o"); name: its last
  /// component ("c.o"); is_dir: it is a directory (trailing-'/' rules match only those).
  bool excluded(std::string_view rel, std::string_view name, bool is_dir) const {
    return verdict(rel, name, is_dir) == filter_verdict::excluded;
  }
  /// Excluded when a list does not select rel; otherwise the first matching rule's verdict
  /// (arguments as excluded()), none when no rule matches.
  filter_verdict verdict(std::string_view rel, std::string_view name, bool is_dir) const;

 private:
  struct rule {
    std::string pattern;
    bool include;
    bool dir_only;
    bool anchored;  // matched against rel, not name
  };
  std::vector<rule> rules_;
  bool needs_path_ = false;
  selection selected_;
};

}  // namespace treecopy::plan
