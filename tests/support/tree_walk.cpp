// Implementation of the single-tree walk, snapshot and removal declared in tree_walk.hpp.
#include "tree_walk.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace treecopy_test {
namespace {

std::string join(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : rel + "/" + name;
}

void walk_children(unique_fd& dir_fd, const std::string& rel, int depth, const walk_callbacks& cb) {
  for (const std::string& name : list_dir(dir_fd.get())) {
    const struct stat st = lstat_at(dir_fd.get(), name);
    const std::string child_rel = join(rel, name);
    walk_entry entry{child_rel, dir_fd.get(), name, st, depth + 1};
    const bool go_on = cb.pre ? cb.pre(entry) : true;
    if (!S_ISDIR(st.st_mode)) continue;
    if (go_on) {
      descend(dir_fd, name,
              [&](unique_fd& child) { walk_children(child, child_rel, depth + 1, cb); });
    }
    if (cb.post) cb.post(walk_entry{child_rel, dir_fd.get(), name, st, depth + 1});
  }
}

}  // namespace

unique_fd open_parent(const std::string& root, std::string& name) {
  std::string path = root;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    name = path;
    return open_dir(".");
  }
  name = path.substr(slash + 1);
  if (name.empty()) name = ".";
  return open_dir(slash == 0 ? "/" : path.substr(0, slash));
}

void descend(unique_fd& dir_fd, const std::string& name,
             const std::function<void(unique_fd& child_fd)>& body) {
  struct stat parent_st {};
  if (::fstat(dir_fd.get(), &parent_st) != 0) throw_errno("fstat");
  unique_fd child = open_dir_at(dir_fd.get(), name);
  dir_fd.reset();
  body(child);
  const int fd = ::openat(child.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("reopen parent of '" + printable(name) + "'");
  dir_fd.reset(fd);
  struct stat again {};
  if (::fstat(dir_fd.get(), &again) != 0) throw_errno("fstat");
  if (again.st_dev != parent_st.st_dev || again.st_ino != parent_st.st_ino) {
    throw std::system_error(ESTALE, std::generic_category(),
                            "parent of '" + printable(name) + "' moved during the walk");
  }
}

namespace {

void walk_tree_here(const std::string& root, const walk_callbacks& cb) {
  std::string name;
  unique_fd parent = open_parent(root, name);
  const struct stat st = lstat_at(parent.get(), name);
  const std::string rel;
  const bool go_on = cb.pre ? cb.pre(walk_entry{rel, parent.get(), name, st, 0}) : true;
  if (!S_ISDIR(st.st_mode)) return;
  if (go_on) {
    descend(parent, name, [&](unique_fd& child) { walk_children(child, rel, 0, cb); });
  }
  if (cb.post) cb.post(walk_entry{rel, parent.get(), name, st, 0});
}

}  // namespace

void walk_tree(const std::string& root, const walk_callbacks& cb) {
  run_on_deep_stack([&] { walk_tree_here(root, cb); });
}

std::vector<std::string> snapshot_tree(const std::string& root) {
  std::vector<std::string> lines;
  walk_callbacks cb;
  cb.pre = [&](const walk_entry& e) {
    const struct stat& st = e.st;
    std::string line =
        "'" + printable(e.rel_path, 100000) + "' type=" + std::to_string(st.st_mode & S_IFMT) +
        " mode=" + std::to_string(st.st_mode & 07777) + " uid=" + std::to_string(st.st_uid) +
        " gid=" + std::to_string(st.st_gid) + " ino=" + std::to_string(st.st_ino) +
        " nlink=" + std::to_string(st.st_nlink) + " mtime=" + format_time(st.st_mtim) +
        " ctime=" + format_time(st.st_ctim);
    if (!S_ISDIR(st.st_mode)) line += " size=" + std::to_string(st.st_size);
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      const ssize_t n = ::readlinkat(e.parent_fd, e.name.c_str(), target.data(), target.size());
      if (n >= 0) target.resize(static_cast<std::size_t>(n));
      line += " target='" + printable(target, 100000) + "'";
    }
    lines.push_back(std::move(line));
    return true;
  };
  walk_tree(root, cb);
  return lines;
}

void give_tree_to(const std::string& root, unsigned uid, unsigned gid) {
  walk_callbacks cb;
  cb.pre = [&](const walk_entry& e) {
    if (::fchownat(e.parent_fd, e.name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      throw_errno("chown '" + printable(e.rel_path) + "'");
    }
    if (!S_ISLNK(e.st.st_mode) &&
        ::fchmodat(e.parent_fd, e.name.c_str(), e.st.st_mode & 07777, 0) != 0) {
      throw_errno("chmod '" + printable(e.rel_path) + "'");
    }
    return true;
  };
  walk_tree(root, cb);
}

void remove_tree(const std::string& root) {
  std::string name;
  unique_fd parent = open_parent(root, name);
  struct stat st {};
  if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw_errno("stat '" + printable(root) + "'");
  }
  walk_callbacks cb;
  cb.pre = [](const walk_entry& e) {
    if (S_ISDIR(e.st.st_mode)) {
      // Read-only and 0000 directories must become writable and searchable before their
      // children can be listed and unlinked (as root this is moot, as a user it is needed).
      ::fchmodat(e.parent_fd, e.name.c_str(), 0700, 0);
    } else if (::unlinkat(e.parent_fd, e.name.c_str(), 0) != 0) {
      throw_errno("unlink '" + printable(e.rel_path) + "'");
    }
    return true;
  };
  cb.post = [](const walk_entry& e) {
    if (::unlinkat(e.parent_fd, e.name.c_str(), AT_REMOVEDIR) != 0) {
      throw_errno("rmdir '" + printable(e.rel_path) + "'");
    }
  };
  walk_tree(root, cb);
}

}  // namespace treecopy_test
