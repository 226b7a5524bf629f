// Validation of a copy request: every refusal happens here, before anything is created.
#include "engine/setup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>

#include "treecopy/errors.hpp"

namespace treecopy::engine {
namespace {

[[noreturn]] void fail(const std::string& path, int err, const std::string& reason) {
  throw setup_error(path, std::error_code(err, std::generic_category()), quote(path) + ": " + reason);
}

[[noreturn]] void fail_errno(const std::string& path, int err, const char* what) {
  fail(path, err, std::string(what) + ": " + std::generic_category().message(err));
}

// realpath() that works on any existing path (no PATH_MAX limit on the result buffer).
std::string real_path(const std::string& p) {
  std::unique_ptr<char, decltype(&std::free)> r(::realpath(p.c_str(), nullptr), &std::free);
  return r ? std::string(r.get()) : std::string();
}

// Splits "a/b/c/" into ("a/b", "c"); a bare name has parent ".".
void split_path(std::string p, std::string& parent, std::string& name) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  if (slash == std::string::npos) {
    parent = ".";
    name = p;
  } else {
    parent = slash == 0 ? "/" : p.substr(0, slash);
    name = p.substr(slash + 1);
  }
}

bool is_within(const std::string& inner, const std::string& outer) {
  if (outer == "/") return true;
  return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
         inner[outer.size()] == '/';
}

}  // namespace

setup_result prepare(const std::filesystem::path& src_path, const std::filesystem::path& dst_path,
                     const copy_options& options) {
  setup_result r;
  const std::string src = src_path.string(), dst = dst_path.string();
  r.src_display = src;
  r.dst_display = dst;
  if (src.empty()) fail(src, ENOENT, "source path is empty");
  if (dst.empty()) fail(dst, ENOENT, "destination path is empty");

  const bool merge = options.merge || options.update || options.checksum;
  if (options.delete_extraneous && !merge)
    fail(dst, EINVAL, "--delete needs --update or --merge (it only makes sense on an existing DST)");

  // SRC: its own metadata, not a symlink's target (cp -a), unless a trailing '/', -H or -L asks
  // to follow it.
  const bool follow_src = options.dereference != symlink_mode::never;
  if ((follow_src ? ::stat(src.c_str(), &r.src_st) : ::lstat(src.c_str(), &r.src_st)) != 0)
    fail_errno(src, errno, "cannot read source");
  const bool src_is_dir = S_ISDIR(r.src_st.st_mode);
  std::string src_parent, src_name;
  split_path(src, src_parent, src_name);
  if (src_is_dir) {
    int fd = fs::open_at(AT_FDCWD, src.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) fail_errno(src, -fd, "cannot open source directory");
    r.src_dir.reset(fd);
  } else {
    if (src_name == "." || src_name == "..") fail(src, EINVAL, "invalid source name");
    int fd = fs::open_at(AT_FDCWD, src_parent.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) fail_errno(src_parent, -fd, "cannot open source's directory");
    r.src_parent.reset(fd);
    r.src_name = src_name;
    if (S_ISREG(r.src_st.st_mode)) {
      int probe = fs::open_at(r.src_parent.get(), src_name.c_str(),
                              O_RDONLY | (follow_src ? 0 : O_NOFOLLOW) | O_NONBLOCK);
      if (probe < 0) fail_errno(src, -probe, "cannot open source file");
      ::close(probe);
    }
  }

  // DST: the parent must exist; "." and ".." name an existing directory through its real path.
  std::string dst_parent, dst_name;
  split_path(dst, dst_parent, dst_name);
  if (dst_name == "." || dst_name == ".." || dst_name.empty() || dst_name == "/") {
    std::string real = real_path(dst);
    if (real.empty()) fail_errno(dst, errno, "cannot resolve destination");
    if (real == "/") fail(dst, EEXIST, "destination is the root directory");
    split_path(real, dst_parent, dst_name);
  }
  int pfd = fs::open_at(AT_FDCWD, dst_parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (pfd < 0) fail_errno(dst_parent, -pfd, "cannot open destination's parent directory");
  r.dst_parent.reset(pfd);

  // Same or nested: compare real paths, so that symlinks and '..' cannot hide it.
  std::string real_src = src_is_dir ? real_path(src) : real_path(src_parent) + "/" + src_name;
  std::string real_dst_parent = real_path(dst_parent);
  if (real_src.empty() || real_dst_parent.empty()) fail_errno(src, errno, "cannot resolve path");
  std::string real_dst = real_dst_parent == "/" ? "/" + dst_name : real_dst_parent + "/" + dst_name;
  if (real_src == real_dst) fail(dst, EINVAL, "source and destination are the same");
  if (src_is_dir && is_within(real_dst, real_src))
    fail(dst, EINVAL, "destination is inside the source directory " + quote(src));

  // Mirroring removes whatever DST has that SRC has not: refuse the targets where a mistake would
  // be a disaster.
  const char* home = std::getenv("HOME");
  const std::string real_home =
      options.delete_extraneous && home && *home ? real_path(home) : std::string();
  if (options.delete_extraneous) {
    if (real_dst == "/") fail(dst, EINVAL, "refusing --delete on the root directory");
    if (!real_home.empty() && real_dst == real_home)
      fail(dst, EINVAL, "refusing --delete on the home directory");
    if (is_within(real_src, real_dst))
      fail(dst, EINVAL, "refusing --delete on an ancestor of the source " + quote(src));
  }

  struct stat dst_st {};
  if (::fstatat(pfd, dst_name.c_str(), &dst_st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!merge) fail(dst, EEXIST, "destination already exists (use --merge or --update to copy into it)");
    if (S_ISLNK(dst_st.st_mode) && src_is_dir) {
      // An existing DST that is a link to a directory: merge into the directory it names.
      std::string real = real_path(dst);
      struct stat target {};
      if (real.empty() || ::stat(real.c_str(), &target) != 0 || !S_ISDIR(target.st_mode))
        fail(dst, ENOTDIR, "destination is a symbolic link that does not name a directory");
      if (real == real_src) fail(dst, EINVAL, "source and destination are the same");
      if (is_within(real, real_src))
        fail(dst, EINVAL, "destination is inside the source directory " + quote(src));
      if (options.delete_extraneous && (real == "/" || (!real_home.empty() && real == real_home) || is_within(real_src, real)))
        fail(dst, EINVAL, "refusing --delete on " + quote(real) +
                                   " (the root, home directory or an ancestor of the source)");
      split_path(real, dst_parent, dst_name);
      pfd = fs::open_at(AT_FDCWD, dst_parent.c_str(), O_RDONLY | O_DIRECTORY);
      if (pfd < 0) fail_errno(dst_parent, -pfd, "cannot open destination's parent directory");
      r.dst_parent.reset(pfd);
      dst_st = target;
    }
    if (src_is_dir && !S_ISDIR(dst_st.st_mode))
      fail(dst, ENOTDIR, "cannot overwrite non-directory with directory");
    if (!src_is_dir && S_ISDIR(dst_st.st_mode))
      fail(dst, EISDIR, "cannot overwrite directory with non-directory");
    if (dst_st.st_dev == r.src_st.st_dev && dst_st.st_ino == r.src_st.st_ino)
      fail(dst, EINVAL, "source and destination are the same file");
    r.dst_exists = true;
  } else if (errno != ENOENT) {
    fail_errno(dst, errno, "cannot read destination");
  }
  r.dst_name = dst_name;

  return r;
}

}  // namespace treecopy::engine
