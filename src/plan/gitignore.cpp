// git's ignore rules as pure decisions (see gitignore.hpp).
#include "plan/gitignore.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

#include "plan/filter.hpp"

namespace treecopy::plan {
namespace {

bool has_wildcard(std::string_view p) { return p.find_first_of("*?[\\") != std::string_view::npos; }

// Length of the bracket expression at p[i] == '[' (to its closing ']'), or 0 when it is not
// closed and '[' is a literal: the same reading as glob_match().
std::size_t bracket_length(std::string_view p, std::size_t i) {
  std::size_t j = i + 1;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) ++j;
  if (j < p.size() && p[j] == ']') ++j;  // a ']' first in the set is a member
  for (; j < p.size(); ++j) {
    if (p[j] == '\\' && j + 1 < p.size()) {
      ++j;
    } else if (p[j] == '[' && j + 1 < p.size() && p[j + 1] == ':') {
      std::size_t end = p.find(":]", j + 2);
      if (end != std::string_view::npos) j = end + 1;  // a class: "[:digit:]"
    } else if (p[j] == ']') {
      return j - i + 1;
    }
  }
  return 0;
}

// git spans directories only with a run of stars that is a whole path component ("**/x", "x/**",
// "x/**/y", "**"); any other run of stars is one '*'. glob_match() reads every run of two or more
// as spanning, so the others are reduced here, once, when the file is compiled.
std::string reduce_stars(std::string_view p) {
  std::string out;
  out.reserve(p.size());
  for (std::size_t i = 0; i < p.size();) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      out.append(p.substr(i, 2));
      i += 2;
    } else if (c == '[') {
      std::size_t n = bracket_length(p, i);
      if (n == 0) n = 1;
      out.append(p.substr(i, n));
      i += n;
    } else if (c == '*') {
      std::size_t end = i;
      while (end < p.size() && p[end] == '*') ++end;
      bool bounded = (i == 0 || p[i - 1] == '/') && (end == p.size() || p[end] == '/');
      out.append(bounded && end - i >= 2 ? "**" : "*");
      i = end;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

// Drops trailing spaces that are not quoted with a backslash ("a\ " keeps its space).
std::string_view trim_trailing_spaces(std::string_view line) {
  std::size_t end = line.size();
  while (end > 0 && line[end - 1] == ' ') {
    // Count the backslashes before this space: an odd number quotes it.
    std::size_t k = end - 1, slashes = 0;
    while (k > 0 && line[k - 1] == '\\') {
      --k;
      ++slashes;
    }
    if (slashes % 2 == 1) break;
    --end;
  }
  return line.substr(0, end);
}

}  // namespace

ignore_file::ignore_file(std::string_view text, std::string base) : base_(std::move(base)) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    line = trim_trailing_spaces(line);
    pattern p;
    if (!line.empty() && line.front() == '!') {
      p.negate = true;
      line.remove_prefix(1);
    } else if (line.size() >= 2 && line[0] == '\\' && (line[1] == '!' || line[1] == '#')) {
      line.remove_prefix(1);  // "\!x" and "\#x" name files that start with '!' or '#'
    }
    if (!line.empty() && line.back() == '/') {
      p.dir_only = true;
      line.remove_suffix(1);
    }
    if (line.empty()) continue;
    p.anchored = line.find('/') != std::string_view::npos;
    if (line.front() == '/') line.remove_prefix(1);
    if (line.empty()) continue;
    p.literal = !has_wildcard(line);
    p.glob = p.literal ? std::string(line) : reduce_stars(line);
    any_anchored_ = any_anchored_ || p.anchored;
    patterns_.push_back(std::move(p));
  }
}

ignore_verdict ignore_file::match(std::string_view dir, std::string_view name, bool is_dir) const {
  // The path below base_, built only when an anchored pattern needs it. Not thread_local: glibc
  // ends the process when it has no memory to record a thread_local's destructor.
  std::string below;
  bool below_ready = false;
  for (auto it = patterns_.rbegin(); it != patterns_.rend(); ++it) {
    const pattern& p = *it;
    if (p.dir_only && !is_dir) continue;
    bool hit;
    if (!p.anchored) {
      hit = p.literal ? p.glob == name : glob_match(p.glob, name);
    } else {
      if (!below_ready) {
        std::string_view rest = dir;
        if (!base_.empty()) rest.remove_prefix(std::min(rest.size(), base_.size() + 1));
        below.assign(rest);
        if (!below.empty()) below += '/';
        below.append(name);
        below_ready = true;
      }
      hit = p.literal ? p.glob == below : glob_match(p.glob, below);
    }
    if (hit) return p.negate ? ignore_verdict::included : ignore_verdict::ignored;
  }
  return ignore_verdict::none;
}

std::shared_ptr<const ignore_scope> ignore_scope::top(std::vector<ignore_file> repo_wide,
                                                      ignore_file gitignore) {
  auto s = std::make_shared<ignore_scope>();
  std::vector<ignore_file> kept;
  for (auto& f : repo_wide)
    if (!f.empty()) kept.push_back(std::move(f));
  s->repo_wide_ = std::make_shared<const std::vector<ignore_file>>(std::move(kept));
  s->gitignore_ = std::move(gitignore);
  return s;
}

std::shared_ptr<const ignore_scope> ignore_scope::child(std::shared_ptr<const ignore_scope> parent,
                                                        ignore_file gitignore) {
  auto s = std::make_shared<ignore_scope>();
  s->repo_wide_ = parent->repo_wide_;
  s->parent_ = std::move(parent);
  s->gitignore_ = std::move(gitignore);
  return s;
}

bool ignore_scope::ignored(std::string_view dir, std::string_view name, bool is_dir) const {
  // Deeper .gitignore files take precedence over those of their parents, and every .gitignore over
  // the repository-wide files; inside one file the last matching pattern decides.
  for (const ignore_scope* s = this; s != nullptr; s = s->parent_.get()) {
    if (s->gitignore_.empty()) continue;
    ignore_verdict v = s->gitignore_.match(dir, name, is_dir);
    if (v != ignore_verdict::none) return v == ignore_verdict::ignored;
  }
  if (repo_wide_) {
    for (const ignore_file& f : *repo_wide_) {
      ignore_verdict v = f.match(dir, name, is_dir);
      if (v != ignore_verdict::none) return v == ignore_verdict::ignored;
    }
  }
  return false;
}

namespace {

// One logical line of a git config file: continuation lines joined, comments dropped, quotes and
// escapes resolved in the value. Returns false at the end of the text.
struct config_reader {
  std::string_view text;
  std::string section;  // lower case; "" before the first header

  // Reads the next "key = value" of the text; headers update section on the way.
  bool next(std::string& key, std::string& value) {
    for (;;) {
      skip_space_and_newlines();
      if (text.empty()) return false;
      char c = text.front();
      if (c == '#' || c == ';') {
        skip_line();
      } else if (c == '[') {
        read_header();
      } else if (std::isalpha(static_cast<unsigned char>(c))) {
        if (read_entry(key, value)) return true;
      } else {
        skip_line();  // malformed: git would refuse the file; here the line is passed over
      }
    }
  }

 private:
  void skip_space_and_newlines() {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
      text.remove_prefix(1);
  }
  void skip_line() {
    std::size_t nl = text.find('\n');
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  void read_header() {
    std::size_t close = text.find(']');
    std::size_t nl = text.find('\n');
    if (close == std::string_view::npos || (nl != std::string_view::npos && nl < close)) {
      section = "\x01";  // malformed header: nothing below it is [core]
      return skip_line();
    }
    std::string_view h = text.substr(1, close - 1);
    text.remove_prefix(close + 1);
    section.clear();
    // [core "sub"] is a subsection: not [core] itself.
    for (char ch : h) section += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    while (!section.empty() && section.back() == ' ') section.pop_back();
    while (!section.empty() && section.front() == ' ') section.erase(0, 1);
  }
  bool read_entry(std::string& key, std::string& value) {
    key.clear();
    while (!text.empty() &&
           (std::isalnum(static_cast<unsigned char>(text.front())) || text.front() == '-')) {
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(text.front())));
      text.remove_prefix(1);
    }
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    if (text.empty() || text.front() != '=') {
      skip_line();  // a boolean key without a value
      return false;
    }
    text.remove_prefix(1);
    read_value(value);
    return true;
  }
  void read_value(std::string& value) {
    value.clear();
    bool quoted = false;
    std::size_t keep = 0;  // value's length up to its last character that is not trailing space
    while (!text.empty()) {
      char c = text.front();
      text.remove_prefix(1);
      if (c == '\n') break;
      if (!quoted && (c == '#' || c == ';')) {
        skip_line();
        break;
      }
      if (c == '"') {
        quoted = !quoted;
        keep = value.size();
        continue;
      }
      if (c == '\\' && !text.empty()) {
        char e = text.front();
        text.remove_prefix(1);
        if (e == '\n') continue;  // continuation line
        value += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'b' ? '\b' : e;
        keep = value.size();
        continue;
      }
      if (!quoted && (c == ' ' || c == '\t') && value.empty()) continue;  // leading space
      value += c;
      if (quoted || (c != ' ' && c != '\t' && c != '\r')) keep = value.size();
    }
    value.resize(keep);
  }
};

}  // namespace

std::optional<std::string> excludes_file_setting(std::string_view config_text) {
  config_reader r{config_text, {}};
  std::optional<std::string> found;
  std::string key, value;
  while (r.next(key, value))
    if (r.section == "core" && key == "excludesfile") found = value;
  return found;
}

}  // namespace treecopy::plan
