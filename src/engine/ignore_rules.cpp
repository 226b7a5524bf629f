// --gitignore: finding the repository, reading ignore files and git's configuration (see
// ignore_rules.hpp).
#include "engine/ignore_rules.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fs/sys.hpp"

namespace treecopy::engine {
namespace {

// Reads dirfd/name whole. follow: a final symlink is followed (git follows it for info/exclude and
// the excludes file, not for .gitignore). A name that is missing, a symlink not to follow, or not a
// regular file reads as empty without an error.
std::error_code read_text(int dirfd, const char* name, bool follow, std::string& text) {
  text.clear();
  fs::opened f =
      fs::open(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  if (!f) {
    const int e = f.error.value();
    return e == ENOENT || e == ENOTDIR || e == ELOOP ? std::error_code{} : f.error;
  }
  struct stat st {};
  if (std::error_code err = fs::stat(f.fd.get(), st)) return err;
  if (!S_ISREG(st.st_mode)) return {};
  for (off_t at = 0;;) {
    char buf[8192];
    std::size_t got = 0;
    if (std::error_code err = fs::pread_full(f.fd.get(), buf, sizeof buf, at, got)) return err;
    text.append(buf, got);
    if (got < sizeof buf) return {};
    at += static_cast<off_t>(got);
  }
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// The repository directory of a top (its .git directory, or what a gitfile names) and its
// common directory (where objects, refs, config and info/exclude live: the same, except for a
// linked worktree, whose repository directory names the common one in "commondir").
struct git_dirs {
  fs::unique_fd git;
  fs::unique_fd common;
};

// The first line of a small file, without its line end and trailing blanks.
std::string first_line(int dirfd, const char* name) {
  std::string text;
  if (read_text(dirfd, name, true, text)) return {};
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

bool exists_at(int dirfd, const char* name) {
  struct stat st {};
  return !fs::stat_at(dirfd, name, st, fs::follow::yes);
}

// As git's is_git_directory(): HEAD, objects and refs (the last two in the common directory).
std::optional<git_dirs> open_git_dirs(int top) {
  git_dirs d;
  fs::opened g = fs::open(top, ".git", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (!g) {
    if (g.error != std::errc::not_a_directory) return std::nullopt;
    std::string line = first_line(top, ".git");  // a gitfile: "gitdir: PATH"
    if (line.rfind("gitdir: ", 0) != 0) return std::nullopt;
    g = fs::open(top, line.substr(8).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!g) return std::nullopt;
  }
  d.git = std::move(g.fd);
  std::string common = first_line(d.git.get(), "commondir");
  fs::opened c = fs::open(d.git.get(), common.empty() ? "." : common.c_str(),
                          O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (!c) return std::nullopt;
  d.common = std::move(c.fd);
  if (!exists_at(d.git.get(), "HEAD") || !exists_at(d.common.get(), "objects") ||
      !exists_at(d.common.get(), "refs"))
    return std::nullopt;
  return d;
}

// core.excludesFile as git's configuration sets it (system, global, the repository's own: the
// last setting wins), "~/" expanded; else git's default, $XDG_CONFIG_HOME/git/ignore or
// ~/.config/git/ignore. Include directives and GIT_CONFIG_COUNT settings are not read.
std::string excludes_file(int common) {
  const std::string home = env("HOME"), xdg = env("XDG_CONFIG_HOME");
  const std::string xdg_git =
      xdg.empty() ? (home.empty() ? "" : home + "/.config/git") : xdg + "/git";
  std::optional<std::string> setting;
  auto read_config = [&](int dirfd, const std::string& path) {
    std::string text;
    if (path.empty() || read_text(dirfd, path.c_str(), true, text)) return;
    if (auto s = plan::excludes_file_setting(text)) setting = std::move(s);
  };
  const std::string nosystem = env("GIT_CONFIG_NOSYSTEM");
  if (nosystem.empty() || nosystem == "0" || nosystem == "false")
    read_config(AT_FDCWD, std::getenv("GIT_CONFIG_SYSTEM") ? env("GIT_CONFIG_SYSTEM")
                                                           : std::string("/etc/gitconfig"));
  if (std::getenv("GIT_CONFIG_GLOBAL")) {
    read_config(AT_FDCWD, env("GIT_CONFIG_GLOBAL"));
  } else {
    if (!xdg_git.empty()) read_config(AT_FDCWD, xdg_git + "/config");
    if (!home.empty()) read_config(AT_FDCWD, home + "/.gitconfig");
  }
  read_config(common, "config");
  if (!setting) return xdg_git.empty() ? std::string() : xdg_git + "/ignore";
  if (setting->rfind("~/", 0) == 0) return home.empty() ? std::string() : home + setting->substr(1);
  return *setting;
}

}  // namespace

std::error_code read_ignore_file(int dirfd, const char* name, std::string& text) {
  return read_text(dirfd, name, false, text);
}

bool is_repository_top(int dirfd) { return open_git_dirs(dirfd).has_value(); }

std::shared_ptr<const plan::ignore_scope> repository_scope(int dirfd, std::string_view gitignore) {
  std::vector<plan::ignore_file> repo_wide;
  if (std::optional<git_dirs> d = open_git_dirs(dirfd)) {
    std::string text;
    if (!read_text(d->common.get(), "info/exclude", true, text))
      repo_wide.emplace_back(text, std::string());
    // A relative excludes file is relative to the top, where git runs its commands from.
    const std::string path = excludes_file(d->common.get());
    if (!path.empty() && !read_text(dirfd, path.c_str(), true, text))
      repo_wide.emplace_back(text, std::string());
  }
  return plan::ignore_scope::top(std::move(repo_wide), plan::ignore_file(gitignore, ""));
}

ignore_rules source_ignore_rules(int src_dir) {
  // Upward from SRC as git's discovery goes: SRC itself first, then each parent through "..",
  // never onto another file system (GIT_DISCOVERY_ACROSS_FILESYSTEM unset) nor past '/'.
  // texts[i]: the .gitignore of the directory i + 1 levels above SRC.
  std::vector<std::string> texts;
  fs::opened cur = fs::open(src_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st {};
  bool found = false;
  while (cur && !fs::stat(cur.fd.get(), st)) {
    if (is_repository_top(cur.fd.get())) {
      found = true;
      break;
    }
    fs::opened up = fs::open(cur.fd.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat ust {};
    if (!up || fs::stat(up.fd.get(), ust) || ust.st_dev != st.st_dev || (ust.st_ino == st.st_ino))
      break;
    std::string text;
    (void)read_ignore_file(up.fd.get(), ".gitignore", text);  // unreadable: empty, as for git
    texts.push_back(std::move(text));
    cur = std::move(up);
  }
  if (!found) return {plan::ignore_scope::top({}, plan::ignore_file()), std::string()};
  const std::size_t levels = texts.size();
  // SRC's path from the top: the last `levels` components of its real path.
  std::vector<std::string> parts;
  if (levels > 0) {
    std::unique_ptr<char, decltype(&std::free)> real(
        ::realpath(("/proc/self/fd/" + std::to_string(src_dir)).c_str(), nullptr), &std::free);
    std::string p = real ? real.get() : "";
    for (std::size_t i = 0; i < levels && !p.empty(); ++i) {
      const std::size_t slash = p.rfind('/');
      parts.insert(parts.begin(), p.substr(slash + 1));
      p.resize(slash == std::string::npos ? 0 : slash);
    }
    if (parts.size() != levels || parts.front().empty())
      return {plan::ignore_scope::top({}, plan::ignore_file()), std::string()};
  }
  auto scope = repository_scope(cur.fd.get(), levels > 0 ? texts[levels - 1] : std::string());
  std::string base;
  bool all = false;
  for (std::size_t k = 1; k <= levels; ++k) {  // the directory k levels below the top
    all = all || scope->ignored(base, parts[k - 1], true);
    base += (k > 1 ? "/" : "") + parts[k - 1];
    if (k == levels) break;  // SRC's own .gitignore comes with its listing
    const std::string& text = texts[levels - 1 - k];
    if (!text.empty()) scope = plan::ignore_scope::child(scope, plan::ignore_file(text, base));
  }
  return {std::move(scope), std::move(base), all};
}

ignore_rules child_rules(const ignore_rules& parent, const std::string& name) {
  if (!parent.scope || name == ".git") return {};
  const std::string& up = parent.repo_path;
  return {parent.scope, up.empty() ? name : up + "/" + name, false};
}

void add_own_rules(ignore_rules& r, int dirfd, const std::string& text, bool has_git) {
  if (!r.scope) return;
  if (has_git && is_repository_top(dirfd)) {
    r = {repository_scope(dirfd, text), std::string(), false};
  } else if (!text.empty()) {
    r.scope = plan::ignore_scope::child(r.scope, plan::ignore_file(text, r.repo_path));
  }
}

std::error_code unit_ignore_rules(const ignore_rules& at_src, int src_root, const std::string& rel,
                                  bool own, bool follow, ignore_rules& out) {
  ignore_rules r = at_src;
  fs::opened dir = fs::open(src_root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (!dir) return dir.error;
  // The walk's steps, from SRC down: each directory's own rules, then its child's inherited ones.
  // SRC's own .git was found by source_ignore_rules(): SRC is never a nested repository.
  bool is_src = true;
  for (std::size_t at = 0;;) {
    const bool last = at >= rel.size();
    if (last && !own) break;
    std::string text;
    if (r.scope) (void)read_ignore_file(dir.fd.get(), ".gitignore", text);
    add_own_rules(r, dir.fd.get(), text, !is_src);
    if (last) break;
    const std::size_t slash = std::min(rel.find('/', at), rel.size());
    const std::string name = rel.substr(at, slash - at);
    at = slash + 1;
    r = child_rules(r, name);
    dir = fs::open(dir.fd.get(), name.c_str(),
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if (!dir) return dir.error;
    is_src = false;
  }
  out = std::move(r);
  return {};
}

}  // namespace treecopy::engine
