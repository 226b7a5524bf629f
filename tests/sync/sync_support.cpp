// Implementation of the re-run tests' helpers (see sync_support.hpp).
#include "sync_support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "fd.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {

census count_entries(const std::string& root) {
  census c;
  std::set<std::pair<dev_t, ino_t>> seen;
  walk_tree(root, {[&](const walk_entry& e) {
                     if (S_ISDIR(e.st.st_mode)) {
                       ++c.directories;
                     } else {
                       ++c.others;
                       if (S_ISREG(e.st.st_mode) && seen.insert({e.st.st_dev, e.st.st_ino}).second)
                         c.file_bytes += static_cast<std::uint64_t>(e.st.st_size);
                     }
                     return true;
                   },
                   {}});
  return c;
}

std::map<std::string, inode_state> non_directory_inodes(const std::string& root) {
  std::map<std::string, inode_state> out;
  walk_tree(root, {[&](const walk_entry& e) {
                     if (!S_ISDIR(e.st.st_mode)) out[e.rel_path] = {e.st.st_ino, e.st.st_ctim};
                     return true;
                   },
                   {}});
  return out;
}

std::string inode_changes(const std::map<std::string, inode_state>& before,
                          const std::map<std::string, inode_state>& after) {
  std::string text;
  for (const auto& [path, state] : before) {
    auto it = after.find(path);
    if (it == after.end())
      text += "  removed: " + printable(path) + "\n";
    else if (!(it->second == state))
      text += "  touched: " + printable(path) + "\n";
  }
  for (const auto& [path, state] : after)
    if (!before.count(path)) text += "  added: " + printable(path) + "\n";
  return text;
}

timespec past_time(int index) {
  // 2021-01-01 plus a day per index, with distinct nanoseconds.
  return timespec{1609459200 + 86400L * index, 123456789L - index};
}

timespec future_atime(int index) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return timespec{now.tv_sec + 3 * 365 * 86400L + index, 987654321L - index};
}

namespace {

void write_all(int fd, const std::string& content, const std::string& path) {
  for (std::size_t done = 0; done < content.size();) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) throw_errno("write '" + path + "'");
    done += static_cast<std::size_t>(n);
  }
}

void set_fd_times(int fd, const timespec& mtime, const std::string& path) {
  const timespec ts[2] = {future_atime(0), mtime};
  if (::futimens(fd, ts) != 0) throw_errno("futimens '" + path + "'");
}

}  // namespace

void write_file(const std::string& path, const std::string& content, const timespec& mtime) {
  unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) throw_errno("create '" + path + "'");
  write_all(fd.get(), content, path);
  set_fd_times(fd.get(), mtime, path);
}

void overwrite_in_place(const std::string& path, const std::string& content,
                        const timespec& mtime) {
  unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) throw_errno("open '" + path + "'");
  write_all(fd.get(), content, path);
  if (::ftruncate(fd.get(), static_cast<off_t>(content.size())) != 0)
    throw_errno("truncate '" + path + "'");
  set_fd_times(fd.get(), mtime, path);
}

void set_entry_times(const std::string& path, const timespec& mtime) {
  const timespec ts[2] = {future_atime(1), mtime};
  if (::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
    throw_errno("utimensat '" + path + "'");
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_errno("open '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct stat lstat_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw_errno("lstat '" + path + "'");
  return st;
}

bool entry_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

home_override::home_override(const std::string& home) {
  if (const char* old = std::getenv("HOME")) old_ = old;
  ::setenv("HOME", home.c_str(), 1);
}

home_override::~home_override() {
  if (old_)
    ::setenv("HOME", old_->c_str(), 1);
  else
    ::unsetenv("HOME");
}

std::string describe(const treecopy::copy_report& r) {
  std::ostringstream out;
  out << "copied:";
  for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k) {
    auto kind = static_cast<treecopy::entry_kind>(k);
    out << " " << treecopy::to_string(kind) << "=" << r.copied[kind];
  }
  out << "; bytes=" << r.bytes_copied << " skipped=" << r.skipped << " removed=" << r.removed
      << " errors=" << r.error_count << (r.cancelled ? " cancelled" : "") << "\n";
  for (const auto& e : r.errors) out << "  error: " << e.message() << "\n";
  return out.str();
}

std::uint64_t non_directories_copied(const treecopy::copy_report& r) {
  return r.copied.total() - r.copied[treecopy::entry_kind::directory];
}

}  // namespace treecopy_test
