// Glob matching and filter rules (see filter.hpp).
#include "plan/filter.hpp"

#include <cctype>
#include <cstdint>

namespace treecopy::plan {
namespace {

// Whether c is in the POSIX character class name ("alpha", "digit", ...; C locale). An unknown
// name holds nothing.
bool in_class(std::string_view name, char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (name == "alnum") return std::isalnum(c);
  if (name == "alpha") return std::isalpha(c);
  if (name == "blank") return c == ' ' || c == '\t';
  if (name == "cntrl") return std::iscntrl(c);
  if (name == "digit") return std::isdigit(c);
  if (name == "graph") return std::isgraph(c);
  if (name == "lower") return std::islower(c);
  if (name == "print") return std::isprint(c);
  if (name == "punct") return std::ispunct(c);
  if (name == "space") return std::isspace(c);
  if (name == "upper") return std::isupper(c);
  if (name == "xdigit") return std::isxdigit(c);
  return false;
}

// Matches one bracket expression at p (p[0] == '['). Returns the length of the expression, or 0 if
// it is not closed (then '[' is literal). matched tells whether c is in the set.
std::size_t match_class(std::string_view p, char c, bool& matched) {
  std::size_t i = 1;
  bool negate = false;
  if (i < p.size() && (p[i] == '!' || p[i] == '^')) {
    negate = true;
    ++i;
  }
  bool found = false;
  bool first = true;
  for (; i < p.size(); ++i) {
    char lo = p[i];
    if (lo == ']' && !first) {
      matched = (found != negate) && c != '/';
      return i + 1;
    }
    first = false;
    if (lo == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      std::size_t end = p.find(":]", i + 2);
      if (end != std::string_view::npos) {
        if (in_class(p.substr(i + 2, end - i - 2), c)) found = true;
        i = end + 1;
        continue;
      }
    }
    if (lo == '\\' && i + 1 < p.size()) lo = p[++i];
    char hi = lo;
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      hi = p[i + 2];
      if (hi == '\\' && i + 3 < p.size()) {
        hi = p[i + 3];
        ++i;
      }
      i += 2;
    }
    auto uc = static_cast<unsigned char>(c);
    if (static_cast<unsigned char>(lo) <= uc && uc <= static_cast<unsigned char>(hi)) found = true;
  }
  return 0;
}

// Backtracking matcher with a memo of failed (pattern, text) positions, so that patterns with many
// stars cannot take exponential time.
class matcher {
 public:
  matcher(std::string_view p, std::string_view t) : p_(p), t_(t) {}

  bool run() { return match(0, 0); }

 private:
  bool match(std::size_t pi, std::size_t ti) {
    while (pi < p_.size()) {
      char pc = p_[pi];
      if (pc == '*') return star(pi, ti);
      if (ti >= t_.size()) return false;
      char tc = t_[ti];
      if (pc == '?') {
        if (tc == '/') return false;
        ++pi;
      } else if (pc == '[') {
        bool in = false;
        std::size_t len = match_class(p_.substr(pi), tc, in);
        if (len == 0) {
          if (tc != '[') return false;
          ++pi;
        } else {
          if (!in) return false;
          pi += len;
        }
      } else {
        if (pc == '\\' && pi + 1 < p_.size()) pc = p_[++pi];
        if (pc != tc) return false;
        ++pi;
      }
      ++ti;
    }
    return ti == t_.size();
  }

  bool star(std::size_t pi, std::size_t ti) {
    if (failed(pi, ti)) return false;
    std::size_t end = pi;
    while (end < p_.size() && p_[end] == '*') ++end;
    const bool deep = end - pi >= 2;
    // "**/" may also match no directory at all: "a/**/b" matches "a/b".
    if (deep && end < p_.size() && p_[end] == '/' && (pi == 0 || p_[pi - 1] == '/') &&
        match(end + 1, ti))
      return true;
    if (end == p_.size()) {
      if (deep || t_.find('/', ti) == std::string_view::npos) return true;
      return remember(pi, ti);
    }
    for (std::size_t k = ti; k <= t_.size(); ++k) {
      if (match(end, k)) return true;
      if (k < t_.size() && t_[k] == '/' && !deep) break;
    }
    return remember(pi, ti);
  }

  bool failed(std::size_t pi, std::size_t ti) const {
    if (memo_.empty()) return false;
    std::size_t bit = pi * (t_.size() + 1) + ti;
    return (memo_[bit / 64] >> (bit % 64)) & 1u;
  }

  bool remember(std::size_t pi, std::size_t ti) {
    if (memo_.empty()) memo_.assign(((p_.size() + 1) * (t_.size() + 1) + 63) / 64, 0);
    std::size_t bit = pi * (t_.size() + 1) + ti;
    memo_[bit / 64] |= std::uint64_t{1} << (bit % 64);
    return false;
  }

  std::string_view p_, t_;
  std::vector<std::uint64_t> memo_;
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  return matcher(pattern, text).run();
}

namespace {

// "./a//b/" -> "a/b"; "" for SRC itself. False for a path that may leave SRC.
bool normalize_listed(std::string_view path, std::string& out) {
  out.clear();
  if (path.empty() || path.front() == '/') return false;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    const std::string_view part = path.substr(i, j - i);
    if (part == "..") return false;
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out.append(part);
    }
    i = j + 1;
  }
  return true;
}

}  // namespace

selection::selection(const std::vector<std::string>& paths) {
  std::string norm;
  for (const std::string& p : paths) {
    if (!normalize_listed(p, norm))
      throw filter_error(
          "--files-from: " + std::string(p.empty() ? "an empty path" : "'" + p + "'") +
          (p.empty() ? "" : ": absolute, or with '..': not a path inside SRC"));
    if (norm.empty()) {
      all_ = true;
      if (listed_.empty() || !listed_.front().empty()) listed_.insert(listed_.begin(), norm);
      continue;
    }
    auto [it, added] = paths_.try_emplace(norm, true);
    if (!added && it->second) continue;  // listed twice
    it->second = true;
    listed_.push_back(norm);
    // The directories on the way, unless listed themselves.
    for (std::size_t slash = norm.find('/'); slash != std::string::npos;
         slash = norm.find('/', slash + 1))
      paths_.try_emplace(norm.substr(0, slash), false);
  }
}

bool selection::selects(std::string_view rel) const {
  if (all_ || listed_.empty()) return true;
  std::string key(rel);
  if (paths_.count(key)) return true;
  // Inside a listed directory: one of rel's ancestors is listed.
  for (std::size_t slash = key.find('/'); slash != std::string::npos;
       slash = key.find('/', slash + 1)) {
    auto it = paths_.find(key.substr(0, slash));
    if (it == paths_.end()) return false;  // no listed path below a directory not on the way
    if (it->second) return true;
  }
  return false;
}

filter::filter(const std::vector<filter_rule>& rules, const std::vector<std::string>& files_from)
    : selected_(files_from) {
  for (const auto& r : rules) {
    std::string p = r.pattern;
    bool dir_only = false;
    while (p.size() > 1 && p.back() == '/') {
      p.pop_back();
      dir_only = true;
    }
    // A leading '/' anchors the pattern at SRC, as does any '/' inside it.
    bool anchored = false;
    while (!p.empty() && p.front() == '/') {
      p.erase(0, 1);
      anchored = true;
    }
    if (p.empty() || p == "/") throw filter_error("empty filter pattern '" + r.pattern + "'");
    anchored = anchored || p.find('/') != std::string::npos;
    needs_path_ = needs_path_ || anchored;
    rules_.push_back({std::move(p), r.include, dir_only, anchored});
  }
}

filter_verdict filter::verdict(std::string_view rel, std::string_view name, bool is_dir) const {
  if (!selected_.empty() && !selected_.selects(rel)) return filter_verdict::excluded;
  for (const auto& r : rules_) {
    if (r.dir_only && !is_dir) continue;
    if (glob_match(r.pattern, r.anchored ? rel : name))
      return r.include ? filter_verdict::included : filter_verdict::excluded;
  }
  return filter_verdict::none;
}

}  // namespace treecopy::plan
