// git's ignore rules (.gitignore files, .git/info/exclude, core.excludesFile) as pure decisions:
// the text of each file is compiled once into patterns, and a chain of scopes (one per directory
// that holds a .gitignore) answers "does git ignore this entry?" without I/O. Reading the files is
// the walker's job.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace treecopy::plan {

/// What the patterns of one ignore file say about a path.
enum class ignore_verdict : unsigned char {
  none,      ///< no pattern matches: the next file in precedence order decides
  ignored,   ///< the last matching pattern ignores it
  included,  ///< the last matching pattern is a negation ("!pattern")
};

/// The compiled patterns of one ignore file, in git's syntax (gitignore(5)): blank lines and
/// '#' comments skipped, trailing spaces dropped unless escaped, CR before LF and a UTF-8 BOM
/// dropped, '!' negates, a trailing '/' matches directories only, a '/' at the start or inside
/// anchors the pattern at the file's directory (else it matches the name at any depth below it),
/// '*' '?' '[...]' do not match '/', "**/" "/**" and "/**/" span directories, other "**" are '*',
/// and '\' quotes the next character.
class ignore_file {
 public:
  ignore_file() = default;
  /// Compiles text. base: the directory the file's patterns are relative to, as a path relative to
  /// the repository's top ("" for the top itself, else "a/b" without trailing '/').
  ignore_file(std::string_view text, std::string base);

  bool empty() const noexcept { return patterns_.empty(); }
  const std::string& base() const noexcept { return base_; }

  /// The verdict of the last pattern that matches the entry dir/name (dir relative to the
  /// repository's top, "" at the top; below base()). is_dir: the entry is a directory.
  ignore_verdict match(std::string_view dir, std::string_view name, bool is_dir) const;

 private:
  struct pattern {
    std::string glob;  ///< '**' not bounded by '/' already reduced to '*'
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  ///< matched against the path below base_, not the name
    bool literal = false;   ///< no wildcard and no escape: compared as a string
  };
  std::string base_;
  std::vector<pattern> patterns_;
  bool any_anchored_ = false;
};

/// The ignore files that apply inside one directory of a repository, as git reads them: the
/// directory's own .gitignore, then its parents' up to the repository's top, then
/// .git/info/exclude, then core.excludesFile. Scopes are shared: a directory without a .gitignore
/// uses its parent's scope. Immutable once made, so tasks may read them concurrently.
class ignore_scope {
 public:
  /// The scope at a repository's top: its files of lowest precedence (info/exclude, the user's
  /// excludes file; empty ones may be left out) and its top-level .gitignore (may be empty).
  static std::shared_ptr<const ignore_scope> top(std::vector<ignore_file> repo_wide,
                                                 ignore_file gitignore);
  /// The scope of a directory below parent's that holds a .gitignore of its own.
  static std::shared_ptr<const ignore_scope> child(std::shared_ptr<const ignore_scope> parent,
                                                   ignore_file gitignore);

  /// Whether git ignores the entry dir/name (dir relative to the repository's top). An entry under
  /// an ignored directory is never asked about: git does not look inside one, so a negation below
  /// it cannot bring its entries back; the walker does not descend into it either.
  bool ignored(std::string_view dir, std::string_view name, bool is_dir) const;

 private:
  std::shared_ptr<const ignore_scope> parent_;
  std::shared_ptr<const std::vector<ignore_file>> repo_wide_;
  ignore_file gitignore_;
};

/// The value of core.excludesFile in the text of one git config file, if it sets one (the last
/// setting wins, as in git; "~/" is left for the caller to expand). Understands sections
/// ([core], [Core]), keys in any case, quoted values with \" \\ \t \n escapes, '#' and ';'
/// comments and line continuations; include directives are not followed.
std::optional<std::string> excludes_file_setting(std::string_view config_text);

}  // namespace treecopy::plan
