// Validation of a copy request: every refusal happens here, before anything is created.
#include "engine/setup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "fs/place.hpp"
#include "treecopy/errors.hpp"

namespace treecopy::engine {
namespace {

// The process umask (-1 when /proc cannot tell).
int read_umask() {
  mode_t mask = 0;
  return fs::read_umask(mask) ? static_cast<int>(mask) : -1;
}

// A refusal: err is the errno value that says why.
[[noreturn]] void fail(const std::string& path, int err, const std::string& reason) {
  throw setup_error(path, fs::errno_code(err), quote(path) + ": " + reason);
}

// A call that failed with err.
[[noreturn]] void fail_errno(const std::string& path, std::error_code err, const char* what) {
  throw setup_error(path, err, quote(path) + ": " + what + ": " + err.message());
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

bool in_chain(const std::vector<file_id>& chain, const file_id& id) {
  for (const file_id& a : chain)
    if (a == id) return true;
  return false;
}

// The identity of a path, following symlinks; nullopt when it cannot be read.
std::optional<file_id> id_of(const char* path) {
  struct stat st {};
  if (!path || !*path || fs::stat_at(AT_FDCWD, path, st, fs::follow::yes)) return std::nullopt;
  return file_id::of(st);
}

// An existing DST that is a symlink, written as "LINK/": the directory it names, opened as
// (parent, name) like any DST. Its parent is found by path, then checked by identity, so that the
// name it gets is the directory that the link names.
void follow_dst_link(const std::string& dst, int link_parent, const std::string& link_name,
                     setup_result& r, std::string& dst_name, struct stat& dst_st) {
  fs::opened target = fs::open(link_parent, link_name.c_str(), O_RDONLY | O_DIRECTORY);
  if (!target) fail(dst, ENOTDIR, "destination is a symbolic link that does not name a directory");
  struct stat target_st {};
  if (std::error_code err = fs::stat(target.fd.get(), target_st))
    fail_errno(dst, err, "cannot read destination");
  std::string real = fs::real_path(dst), parent, name;
  if (real.empty()) fail_errno(dst, fs::last_error(), "cannot resolve destination");
  if (real == "/") fail(dst, EEXIST, "destination is the root directory");
  split_path(real, parent, name);
  fs::opened pfd = fs::open(AT_FDCWD, parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (!pfd) fail_errno(parent, pfd.error, "cannot open destination's parent directory");
  r.dst_parent = std::move(pfd.fd);
  if (fs::stat_at(r.dst_parent.get(), name.c_str(), dst_st, fs::follow::no) ||
      file_id::of(dst_st) != file_id::of(target_st))
    fail(dst, EAGAIN, "destination changed while it was checked");
  dst_name = name;
}

}  // namespace

std::vector<file_id> ancestor_chain(int dirfd) {
  std::vector<file_id> chain;
  struct stat st {};
  if (fs::stat(dirfd, st)) return chain;
  chain.push_back(file_id::of(st));
  // O_PATH: only search permission is needed to climb, as for resolving the path itself.
  fs::unique_fd cur = fs::open(dirfd, "..", O_PATH | O_DIRECTORY).fd;
  for (int depth = 0; cur && depth < 4096; ++depth) {
    if (fs::stat(cur.get(), st) || file_id::of(st) == chain.back()) break;  // '/': its own ..
    chain.push_back(file_id::of(st));
    cur = fs::open(cur.get(), "..", O_PATH | O_DIRECTORY).fd;
  }
  return chain;
}

namespace {

// Reads SRC's metadata and opens it (a directory) or its parent (anything else), with the chain
// of their ancestors. SRC's own metadata, not a symlink's target (cp -a), unless a trailing '/',
// -H or -L asks to follow it. Returns whether SRC is a directory.
bool open_source(const std::string& src, const copy_options& options, setup_result& r) {
  const bool follow_src = options.dereference != symlink_mode::never;
  if (std::error_code err = fs::stat_at(AT_FDCWD, src.c_str(), r.src_st, fs::follow{follow_src}))
    fail_errno(src, err, "cannot read source");
  std::string src_parent, src_name;
  split_path(src, src_parent, src_name);
  if (S_ISDIR(r.src_st.st_mode)) {
    fs::opened dir = fs::open(AT_FDCWD, src.c_str(), O_RDONLY | O_DIRECTORY);
    if (!dir) fail_errno(src, dir.error, "cannot open source directory");
    r.src_dir = std::move(dir.fd);
    struct stat opened {};
    if (fs::stat(r.src_dir.get(), opened) || file_id::of(opened) != file_id::of(r.src_st))
      fail(src, EAGAIN, "source changed while it was checked");
    r.src_chain = ancestor_chain(r.src_dir.get());
  } else {
    if (src_name == "." || src_name == "..") fail(src, EINVAL, "invalid source name");
    fs::opened parent = fs::open(AT_FDCWD, src_parent.c_str(), O_RDONLY | O_DIRECTORY);
    if (!parent) fail_errno(src_parent, parent.error, "cannot open source's directory");
    r.src_parent = std::move(parent.fd);
    r.src_name = src_name;
    r.src_chain = ancestor_chain(r.src_parent.get());
    if (S_ISREG(r.src_st.st_mode)) {
      fs::opened probe = fs::open(r.src_parent.get(), src_name.c_str(),
                                  O_RDONLY | (follow_src ? 0 : O_NOFOLLOW) | O_NONBLOCK);
      if (!probe) fail_errno(src, probe.error, "cannot open source file");
    }
  }
  return S_ISDIR(r.src_st.st_mode);
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

  // The one place where checksum implies update and update implies merge.
  r.policy = plan::normalize(options, {fs::effective_uid(), fs::effective_gid(), read_umask()});
  const bool merge = r.policy.merge;
  if (options.delete_extraneous && !merge)
    fail(dst, EINVAL,
         "--delete needs --update or --merge (it only makes sense on an existing DST)");

  bool src_is_dir = false;
  try {
    src_is_dir = open_source(src, options, r);
  } catch (const setup_error& e) {
    throw source_refusal(e);
  }
  if (options.link && !options.link_dest.empty())
    fail(dst, EINVAL, "--link and --link-dest cannot be used together");
  for (const std::string& prev : options.link_dest) {
    struct stat prev_st {};
    if (std::error_code err = fs::stat_at(AT_FDCWD, prev.c_str(), prev_st, fs::follow::yes))
      fail_errno(prev, err, "--link-dest");
    if (!S_ISDIR(prev_st.st_mode)) fail(prev, ENOTDIR, "--link-dest: not a directory");
  }
  if (!options.files_from.empty() && !src_is_dir)
    fail(src, ENOTDIR, "--files-from lists paths inside SRC: SRC must be a directory");

  // DST: the parent must exist; "." and ".." name an existing directory through its real path.
  // A trailing '/' says DST is a directory (cp: "Not a directory" otherwise).
  const bool dst_slash = dst.size() > 1 && dst.back() == '/';
  std::string dst_parent, dst_name;
  split_path(dst, dst_parent, dst_name);
  if (dst_name == "." || dst_name == ".." || dst_name.empty() || dst_name == "/") {
    std::string real = fs::real_path(dst);
    if (real.empty()) fail_errno(dst, fs::last_error(), "cannot resolve destination");
    if (real == "/") fail(dst, EEXIST, "destination is the root directory");
    split_path(real, dst_parent, dst_name);
  }
  fs::opened parent = fs::open(AT_FDCWD, dst_parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (!parent) fail_errno(dst_parent, parent.error, "cannot open destination's parent directory");
  r.dst_parent = std::move(parent.fd);
  int pfd = r.dst_parent.get();

  struct stat dst_st {};
  const std::error_code dst_err = fs::stat_at(pfd, dst_name.c_str(), dst_st, fs::follow::no);
  const bool dst_exists = !dst_err;
  if (dst_err && dst_err != std::errc::no_such_file_or_directory)
    fail_errno(dst, dst_err, "cannot read destination");
  if (dst_exists && S_ISLNK(dst_st.st_mode)) {
    // Following it would merge into (and with --delete, empty) whatever it names: only when asked.
    if (!dst_slash)
      fail(dst, ELOOP,
           "destination is a symbolic link (write " + quote(dst + "/") +
               " to copy into the directory it names)");
    follow_dst_link(dst, pfd, dst_name, r, dst_name, dst_st);
    pfd = r.dst_parent.get();
  }
  if (dst_slash && !(dst_exists ? S_ISDIR(dst_st.st_mode) : src_is_dir))
    fail(dst, ENOTDIR, "not a directory");

  // Same or nested: compared by identity (device, inode), so that symlinks, '..' and bind mounts
  // cannot hide it. The path from '/' to DST's parent must not pass through SRC.
  const file_id src_id = file_id::of(r.src_st);
  if (dst_exists && file_id::of(dst_st) == src_id)
    fail(dst, EINVAL, "source and destination are the same");
  if (src_is_dir && in_chain(ancestor_chain(pfd), src_id))
    fail(dst, EINVAL, "destination is inside the source directory " + quote(src));
  // A bind mount of a directory of SRC, outside SRC, has ancestors of its own: compare where SRC
  // and DST lie in their file system too. On one mount '..' climbs the file system's own tree, so
  // the ancestor chains decide alone, without reading /proc/self/mountinfo (twice) at every start.
  const bool dst_is_dir = dst_exists && S_ISDIR(dst_st.st_mode);
  std::optional<fs::place> src_place, dst_place;
  if (src_is_dir) {
    fs::opened d;  // DST itself, or (d.fd empty) its parent
    if (dst_is_dir) d = fs::open(pfd, dst_name.c_str(), O_PATH | fs::dir_open_flags);
    const int dst_fd = !dst_is_dir ? pfd : d ? d.fd.get() : -1;
    std::uint64_t src_mount = 0, dst_mount = 0;
    const bool one_mount = dst_fd >= 0 && !fs::mount_id(r.src_dir.get(), src_mount) &&
                           !fs::mount_id(dst_fd, dst_mount) && src_mount == dst_mount;
    if (dst_fd >= 0 && !one_mount) {
      src_place = fs::place_of(r.src_dir.get());
      if (src_place) dst_place = fs::place_of(dst_fd);
    }
  }
  if (src_place && dst_place && fs::place_within(*dst_place, *src_place))
    fail(dst, EINVAL,
         "destination is inside the source directory " + quote(src) + " (seen through a mount)");

  // Mirroring removes whatever DST has that SRC has not: refuse the targets where a mistake would
  // be a disaster.
  if (options.delete_extraneous && dst_exists && S_ISDIR(dst_st.st_mode)) {
    const file_id dst_id = file_id::of(dst_st);
    if (id_of("/") == dst_id) fail(dst, EINVAL, "refusing --delete on the root directory");
    if (id_of(std::getenv("HOME")) == dst_id)
      fail(dst, EINVAL, "refusing --delete on the home directory");
    if (in_chain(r.src_chain, dst_id) ||
        (src_place && dst_place && fs::place_within(*src_place, *dst_place)))
      fail(dst, EINVAL, "refusing --delete on an ancestor of the source " + quote(src));
  }

  if (dst_exists) {
    if (!merge)
      fail(dst, EEXIST, "destination already exists (use --merge or --update to copy into it)");
    if (src_is_dir && !S_ISDIR(dst_st.st_mode))
      fail(dst, ENOTDIR, "cannot overwrite non-directory with directory");
    if (!src_is_dir && S_ISDIR(dst_st.st_mode))
      fail(dst, EISDIR, "cannot overwrite directory with non-directory");
    r.dst_exists = true;
    r.dst_id = file_id::of(dst_st);
  }
  r.dst_name = dst_name;

  return r;
}

namespace {

// DST as written, without the trailing slashes that do not change which entry it names.
std::string dst_key(const std::filesystem::path& dst) {
  std::string d = dst.string();
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

// The pairs against each other: what no pair can see alone.
void check_across(const std::vector<setup_result>& set, const copy_options& options) {
  std::vector<std::vector<file_id>> dst_chains;
  for (const setup_result& r : set) dst_chains.push_back(ancestor_chain(r.dst_parent.get()));
  for (std::size_t j = 0; j < set.size(); ++j) {
    const setup_result& d = set[j];
    struct stat parent_st {};
    const bool have_parent = !fs::stat(d.dst_parent.get(), parent_st);
    for (std::size_t i = 0; i < set.size(); ++i) {
      const setup_result& s = set[i];
      if (i < j && have_parent && s.dst_name == d.dst_name) {
        struct stat other {};
        if (!fs::stat(s.dst_parent.get(), other) && file_id::of(other) == file_id::of(parent_st))
          fail(d.dst_display, EEXIST,
               "two sources would be copied here: " + quote(s.src_display) + " and " +
                   quote(d.src_display));
      }
      if (i == j) continue;  // prepare() checked the pair itself
      if (s.src_dir && in_chain(dst_chains[j], file_id::of(s.src_st)))
        fail(d.dst_display, EINVAL,
             "destination is inside the source directory " + quote(s.src_display));
      if (options.delete_extraneous && d.dst_exists && S_ISDIR(s.src_st.st_mode)) {
        struct stat dst_st {};
        if (!fs::stat_at(d.dst_parent.get(), d.dst_name.c_str(), dst_st, fs::follow::no) &&
            in_chain(s.src_chain, file_id::of(dst_st)))
          fail(d.dst_display, EINVAL,
               "refusing --delete on an ancestor of the source " + quote(s.src_display));
      }
    }
  }
}

}  // namespace

std::vector<setup_result> prepare_pairs(std::span<const copy_pair> pairs,
                                        const copy_options& options,
                                        std::vector<entry_error>& refused) {
  std::vector<setup_result> set;
  if (pairs.empty())
    throw setup_error({}, fs::errno_code(EINVAL), "nothing to copy: no source was given");
  if (pairs.size() == 1) {
    set.push_back(prepare(pairs.front().src, pairs.front().dst, options));
    return set;
  }
  // Two sources with one name into one directory: refused by name first, so that a missing one
  // does not hide the conflict.
  for (std::size_t j = 1; j < pairs.size(); ++j)
    for (std::size_t i = 0; i < j; ++i)
      if (dst_key(pairs[i].dst) == dst_key(pairs[j].dst))
        fail(pairs[j].dst.string(), EEXIST,
             "two sources would be copied here: " + quote(pairs[i].src.string()) + " and " +
                 quote(pairs[j].src.string()));
  set.reserve(pairs.size());
  for (const copy_pair& p : pairs) {
    try {
      set.push_back(prepare(p.src, p.dst, options));
    } catch (const source_refusal& e) {
      refused.push_back({p.src.string(), operation::open_source, e.code(), entry_side::source});
    }
  }
  check_across(set, options);
  return set;
}

}  // namespace treecopy::engine
