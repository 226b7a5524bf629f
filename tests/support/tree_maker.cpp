// Implementation of tree_maker: fd-relative creation of every kind of entry.
#include "tree_maker.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "tree_walk.hpp"

namespace treecopy_test {

tree_maker::tree_maker(const std::string& root, std::uint64_t seed, std::int64_t time_base)
    : root_path_(root), rng_(seed), time_base_(time_base != 0 ? time_base : ::time(nullptr)) {
  if (::mkdir(root.c_str(), 0700) != 0) throw_errno("mkdir '" + printable(root) + "'");
  root_ = open_dir(root);
}

entry_times tree_maker::next_times() {
  const auto k = static_cast<std::int64_t>(time_counter_++);
  entry_times t{};
  // Distinct seconds and distinct, non-zero nanoseconds for every entry, so that a copier that
  // truncates to microseconds or mixes up two entries' times is caught.
  t.mtime.tv_sec = time_base_ - 30 * 86400 - k * 977;
  t.mtime.tv_nsec = static_cast<long>((k * 7919 + 1) % 999999999 + 1);
  t.atime.tv_sec = time_base_ + 3600 + k;
  t.atime.tv_nsec = static_cast<long>((k * 104729 + 7) % 999999999 + 1);
  return t;
}

void tree_maker::dir(const std::string& rel, mode_t mode, std::optional<owner> who, int at) {
  // Created private and writable; the final mode comes in finish(), after the children.
  if (::mkdirat(at_or_root(at), rel.c_str(), 0700) != 0)
    throw_errno("mkdir '" + printable(rel) + "'");
  if (who &&
      ::fchownat(at_or_root(at), rel.c_str(), who->uid, who->gid, AT_SYMLINK_NOFOLLOW) != 0) {
    throw_errno("chown '" + printable(rel) + "'");
  }
  if (at < 0) dir_modes_[rel] = mode;
}

void tree_maker::file(const std::string& rel, const std::string& content, mode_t mode,
                      std::optional<owner> who, std::optional<entry_times> times, int at) {
  unique_fd fd(
      ::openat(at_or_root(at), rel.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) throw_errno("create '" + printable(rel) + "'");
  for (std::size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) throw_errno("write '" + printable(rel) + "'");
    done += static_cast<std::size_t>(n);
  }
  // Owner before mode: chown clears the set-id bits.
  if (who && ::fchown(fd.get(), who->uid, who->gid) != 0)
    throw_errno("chown '" + printable(rel) + "'");
  if (::fchmod(fd.get(), mode) != 0) throw_errno("chmod '" + printable(rel) + "'");
  const entry_times t = times ? *times : next_times();
  const timespec ts[2] = {t.atime, t.mtime};
  if (::futimens(fd.get(), ts) != 0) throw_errno("set times '" + printable(rel) + "'");
}

std::string tree_maker::random_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; i += 8) {
    const std::uint64_t word = rng_();
    std::memcpy(bytes.data() + i, &word, std::min<std::size_t>(8, size - i));
  }
  return bytes;
}

void tree_maker::sparse_file(const std::string& rel, off_t size,
                             const std::vector<off_t>& data_offsets) {
  file(rel, "", 0644);
  unique_fd fd(::openat(root_.get(), rel.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) throw_errno("open '" + printable(rel) + "'");
  for (off_t at : data_offsets) {
    const std::string block = random_bytes(4096);
    if (::pwrite(fd.get(), block.data(), block.size(), at) != static_cast<ssize_t>(block.size())) {
      throw_errno("pwrite '" + printable(rel) + "'");
    }
  }
  if (::ftruncate(fd.get(), size) != 0) throw_errno("truncate '" + printable(rel) + "'");
  const entry_times t = next_times();
  const timespec ts[2] = {t.atime, t.mtime};
  if (::futimens(fd.get(), ts) != 0) throw_errno("set times '" + printable(rel) + "'");
}

void tree_maker::symlink(const std::string& rel, const std::string& target,
                         std::optional<owner> who, int at) {
  if (::symlinkat(target.c_str(), at_or_root(at), rel.c_str()) != 0) {
    throw_errno("symlink '" + printable(rel) + "'");
  }
  if (who &&
      ::fchownat(at_or_root(at), rel.c_str(), who->uid, who->gid, AT_SYMLINK_NOFOLLOW) != 0) {
    throw_errno("lchown '" + printable(rel) + "'");
  }
  set_times(rel, next_times(), at);
}

void tree_maker::hardlink(const std::string& existing, const std::string& rel, int existing_at,
                          int at) {
  if (::linkat(at_or_root(existing_at), existing.c_str(), at_or_root(at), rel.c_str(), 0) != 0) {
    throw_errno("link '" + printable(rel) + "'");
  }
}

void tree_maker::special(const std::string& rel, mode_t kind, mode_t mode, dev_t dev, int at) {
  const int dirfd = at_or_root(at);
  if (kind == S_IFSOCK) {
    // bind() takes a path of at most 107 bytes: reach the directory through /proc/self/fd.
    const int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) throw_errno("socket");
    unique_fd sock_fd(sock);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = proc_fd_path(dirfd) + "/" + rel;
    if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw_errno("bind '" + printable(rel) + "'");
    }
  } else if (::mknodat(dirfd, rel.c_str(), kind | 0600, dev) != 0) {
    throw_errno("mknod '" + printable(rel) + "'");
  }
  if (::fchmodat(dirfd, rel.c_str(), mode, 0) != 0) throw_errno("chmod '" + printable(rel) + "'");
  set_times(rel, next_times(), at);
}

std::error_code tree_maker::xattr(const std::string& rel, const std::string& name,
                                  const std::string& value, int at) {
  const unique_fd fd(::openat(at_or_root(at), rel.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) throw_errno("open '" + printable(rel) + "'");
  // setxattr (not lsetxattr) on the /proc link acts on the entry itself, symlinks included.
  if (::setxattr(proc_fd_path(fd.get()).c_str(), name.c_str(), value.data(), value.size(), 0) !=
      0) {
    return {errno, std::generic_category()};
  }
  return {};
}

void tree_maker::set_times(const std::string& rel, const entry_times& times, int at) {
  const timespec ts[2] = {times.atime, times.mtime};
  if (::utimensat(at_or_root(at), rel.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) {
    throw_errno("set times '" + printable(rel) + "'");
  }
}

void tree_maker::finish() {
  walk_callbacks cb;
  cb.post = [this](const walk_entry& e) {
    const auto it = dir_modes_.find(e.rel_path);
    const mode_t mode = it == dir_modes_.end() ? 0755 : it->second;
    if (::fchmodat(e.parent_fd, e.name.c_str(), mode, 0) != 0)
      throw_errno("chmod '" + printable(e.rel_path) + "'");
    set_times(e.name, next_times(), e.parent_fd);
  };
  walk_tree(root_path_, cb);
}

std::string posix_acl_value(const std::vector<std::array<unsigned, 3>>& entries) {
  // Little-endian: a 4-byte version header, then per entry a 2-byte tag, 2-byte perm, 4-byte id.
  auto put = [](std::string& out, std::uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  std::string value;
  put(value, 2, 4);
  for (const auto& [tag, id, perm] : entries) {
    put(value, tag, 2);
    put(value, perm, 2);
    put(value, id, 4);
  }
  return value;
}

void write_filled_file(const std::string& path, std::size_t size, char fill) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
  ASSERT_GE(fd, 0) << path;
  const std::string data(size, fill);
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  const timespec times[2] = {{::time(nullptr) + 3600, 0}, {::time(nullptr) - 3600, 0}};
  ASSERT_EQ(::futimens(fd, times), 0);
  ASSERT_EQ(::close(fd), 0);
}

}  // namespace treecopy_test
