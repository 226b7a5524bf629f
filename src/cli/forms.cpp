// cp's command-line forms (see forms.hpp).
#include "forms.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace treecopy_cli {
namespace {

bool ends_with_slash(const std::string& p) { return p.size() > 1 && p.back() == '/'; }

bool is_directory(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// DIR/name, with one slash between them.
std::string joined(const std::string& dir, const std::string& name) {
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

bool usage_error(const std::string& text) {
  std::fprintf(stderr, "treecopy: %s (see 'treecopy --help')\n", text.c_str());
  return false;
}

// Every SRC into DIR: DIR must be an existing directory, every SRC must have a name of its own.
bool into_dir(const std::vector<std::string>& sources, const std::string& dir,
              std::vector<treecopy::copy_pair>& pairs) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return usage_error("target directory " + treecopy::quote(dir) + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return usage_error("target " + treecopy::quote(dir) + " is not a directory");
  for (const std::string& src : sources) {
    const std::string name = name_in_dir(src);
    if (name.empty())
      return usage_error("cannot copy " + treecopy::quote(src) +
                         " into a directory: it has no name of its own (write SRC DST)");
    pairs.push_back({src, joined(dir, name)});
  }
  return true;
}

}  // namespace

bool read_records(const std::string& file, const char* option, char sep,
                  const std::function<void(std::string)>& each) {
  std::FILE* f = file == "-" ? stdin : std::fopen(file.c_str(), "re");
  if (!f) {
    std::fprintf(stderr, "treecopy: %s %s: %s\n", option, treecopy::quote(file).c_str(),
                 std::strerror(errno));
    return false;
  }
  char* line = nullptr;
  std::size_t cap = 0;
  ssize_t n;
  errno = 0;
  while ((n = ::getdelim(&line, &cap, sep, f)) >= 0) {
    std::string p(line, static_cast<std::size_t>(n));
    if (!p.empty() && p.back() == sep) p.pop_back();
    each(std::move(p));
  }
  const int err = std::ferror(f) ? (errno ? errno : EIO) : 0;
  std::free(line);
  if (f != stdin) std::fclose(f);
  if (err) {
    std::fprintf(stderr, "treecopy: %s %s: cannot read: %s\n", option,
                 treecopy::quote(file).c_str(), std::strerror(err));
    return false;
  }
  return true;
}

bool read_files_from(const std::string& file, bool nul, std::vector<std::string>& paths) {
  return read_records(file, "--files-from", nul ? '\0' : '\n', [&](std::string p) {
    if (p.empty() || (!nul && (p[0] == '#' || p[0] == ';'))) return;
    paths.push_back(std::move(p));
  });
}

std::string name_in_dir(const std::string& src) {
  std::string p = src;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const auto slash = p.rfind('/');
  std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
  if (name == "." || name == ".." || name == "/") name.clear();
  return name;
}

std::optional<std::vector<treecopy::copy_pair>> pairs_of(const form_args& f, std::string& dir) {
  std::vector<treecopy::copy_pair> pairs;
  const std::vector<std::string>& p = f.paths;
  if (!f.target_dir.empty()) {
    if (f.no_target_dir) return usage_error("-t and -T cannot be used together"), std::nullopt;
    if (p.empty()) return usage_error("-t DIR needs at least one SRC"), std::nullopt;
    dir = f.target_dir;
    if (!into_dir(p, dir, pairs)) return std::nullopt;
    return pairs;
  }
  if (p.size() < 2) return usage_error("a SRC and a DST are required"), std::nullopt;
  if (f.no_target_dir) {
    if (p.size() != 2) return usage_error("with -T, exactly two paths: SRC and DST"), std::nullopt;
    pairs.push_back({p[0], p[1]});
    return pairs;
  }
  // Two paths: DST is the copy, unless DST/ names an existing directory and nothing asks to merge
  // into DST (an existing DST is refused then, so this form changes nothing that worked before).
  if (p.size() == 2 && !(ends_with_slash(p[1]) && !f.merging && is_directory(p[1]))) {
    pairs.push_back({p[0], p[1]});
    return pairs;
  }
  dir = p.back();
  if (!into_dir({p.begin(), p.end() - 1}, dir, pairs)) return std::nullopt;
  return pairs;
}

}  // namespace treecopy_cli
