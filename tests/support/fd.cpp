// Implementation of the fd-relative helpers declared in fd.hpp.
#include "fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

namespace treecopy_test {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

unique_fd::~unique_fd() { reset(); }

int unique_fd::release() noexcept {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

int open_noatime(int dirfd, const std::string& name, int flags) {
  int fd = ::openat(dirfd, name.c_str(), flags | O_NOATIME | O_CLOEXEC);
  if (fd < 0 && errno == EPERM) fd = ::openat(dirfd, name.c_str(), flags | O_CLOEXEC);
  return fd;
}

unique_fd open_dir_at(int dirfd, const std::string& name) {
  int fd = open_noatime(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd < 0) throw_errno("open directory '" + printable(name) + "'");
  return unique_fd(fd);
}

unique_fd open_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("open directory '" + printable(path) + "'");
  return unique_fd(fd);
}

unique_fd open_path_at(int dirfd, const std::string& name) {
  int fd = ::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno("open entry '" + printable(name) + "'");
  return unique_fd(fd);
}

std::vector<std::string> list_dir(int dirfd) {
  // Reopen "." rather than dup(): a dup shares the offset, and fdopendir would consume it.
  int fd = open_noatime(dirfd, ".", O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw_errno("reopen directory");
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    throw_errno("fdopendir");
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* ent = ::readdir(dir)) {
    std::string name = ent->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
    errno = 0;
  }
  int saved = errno;
  ::closedir(dir);
  if (saved != 0) throw std::system_error(saved, std::generic_category(), "readdir");
  std::sort(names.begin(), names.end());
  return names;
}

struct stat lstat_at(int dirfd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    throw_errno("stat '" + printable(name) + "'");
  }
  return st;
}

std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::error_code read_xattrs(int path_fd, std::vector<std::pair<std::string, std::string>>& out) {
  out.clear();
  const std::string path = proc_fd_path(path_fd);
  // The /proc magic link resolves to the entry itself, also for symlinks opened with O_PATH, so the
  // following variants of the calls act on the entry, never on a symlink's target.
  ssize_t size = ::listxattr(path.c_str(), nullptr, 0);
  if (size < 0) return {errno, std::generic_category()};
  std::string names(static_cast<std::size_t>(size), '\0');
  size = ::listxattr(path.c_str(), names.data(), names.size());
  if (size < 0) return {errno, std::generic_category()};
  names.resize(static_cast<std::size_t>(size));
  for (std::size_t pos = 0; pos < names.size();) {
    std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    ssize_t len = ::getxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (len < 0) return {errno, std::generic_category()};
    std::string value(static_cast<std::size_t>(len), '\0');
    len = ::getxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (len < 0) return {errno, std::generic_category()};
    value.resize(static_cast<std::size_t>(len));
    out.emplace_back(std::move(name), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return {};
}

std::string printable(std::string_view bytes, std::size_t max_length) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (out.size() > max_length) {
    const std::size_t keep = max_length / 2;
    out = out.substr(0, keep) + "...(" + std::to_string(out.size() - 2 * keep) + " more)..." +
          out.substr(out.size() - keep);
  }
  return out;
}

std::string format_time(const struct timespec& t) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%09ld", static_cast<long long>(t.tv_sec), t.tv_nsec);
  return buf;
}

void raise_nofile_limit() noexcept {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

void run_on_deep_stack(const std::function<void()>& body) {
  struct job {
    const std::function<void()>* body;
    std::exception_ptr error;
  } work{&body, nullptr};
  pthread_attr_t attr;
  if (int err = ::pthread_attr_init(&attr); err != 0)
    throw std::system_error(err, std::generic_category(), "pthread_attr_init");
  constexpr std::size_t stack_size = std::size_t{1} << 30;
  int err = ::pthread_attr_setstacksize(&attr, stack_size);
  pthread_t thread{};
  if (err == 0) {
    err = ::pthread_create(
        &thread, &attr,
        [](void* arg) -> void* {
          auto* w = static_cast<job*>(arg);
          try {
            (*w->body)();
          } catch (...) {
            w->error = std::current_exception();
          }
          return nullptr;
        },
        &work);
  }
  ::pthread_attr_destroy(&attr);
  if (err != 0) throw std::system_error(err, std::generic_category(), "start a deep-stack thread");
  ::pthread_join(thread, nullptr);
  if (work.error) std::rethrow_exception(work.error);
}

}  // namespace treecopy_test
