// copytree_prewalk: see copytree_prewalk.hpp.
#include "copytree_prewalk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace treecopy_py {
namespace {

struct listed {
  std::string name;
  unsigned char type;
};

struct linux_dirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

// The names and d_types of an open directory, in os.scandir's order (both read it with getdents64,
// as readdir does). False when reading fails: the copy meets it, and reports it as shutil would.
bool list_directory(int fd, std::vector<char>& buffer, std::vector<listed>& out) {
  for (;;) {
    const long n = ::syscall(SYS_getdents64, fd, buffer.data(), buffer.size());
    if (n == 0) return true;
    if (n < 0) return false;
    for (long at = 0; at < n;) {
      const auto* d = reinterpret_cast<const linux_dirent64*>(buffer.data() + at);
      at += d->d_reclen;
      const std::string_view name = d->d_name;
      if (name == "." || name == "..") continue;
      out.push_back({std::string(name), d->d_type});
    }
  }
}

// One directory of the walk: open while its kept entries are gone through, so that its
// subdirectories are opened relative to it (no path resolution per level, no string per entry).
struct frame {
  int fd = -1;
  bool by_path = false;  // reached through a followed link: opened by path, as shutil opens it
  std::string path;      // as shutil builds it (bytes), given to ignore()
  std::string rel;
  std::vector<listed> kept;
  std::size_t next = 0;
};

class prewalk {
 public:
  prewalk(py::object src, py::object ignore, bool symlinks, bool ignore_dangling_symlinks,
          std::size_t max_depth)
      : ignore_(std::move(ignore)),
        as_str_(py::isinstance<py::str>(src)),
        symlinks_(symlinks),
        ignore_dangling_(ignore_dangling_symlinks),
        max_depth_(max_depth),
        buffer_(1 << 15) {
    src_ = (as_str_ ? py::module_::import("os").attr("fsencode")(src) : src).cast<std::string>();
  }
  ~prewalk() {
    for (auto& f : stack_) ::close(f.fd);
  }
  prewalk(const prewalk&) = delete;
  prewalk& operator=(const prewalk&) = delete;

  void run(const py::object& top_ignored) {
    frame top;
    top.fd = ::open(src_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (top.fd < 0) return;  // the copy meets it
    top.path = src_;
    std::vector<listed> entries;
    if (!list_directory(top.fd, buffer_, entries)) {
      ::close(top.fd);
      return;
    }
    std::set<std::string> left_out;
    for (py::handle n : top_ignored) left_out.insert(n.cast<std::string>());
    for (auto& e : entries)
      if (!left_out.count(e.name)) top.kept.push_back(std::move(e));
    stack_.push_back(std::move(top));
    walk();
  }

  py::tuple result() const { return py::make_tuple(ignored_, calls_, failure_, handover_); }

 private:
  // shutil's recursion, with an explicit stack: each directory's kept subdirectories, in order.
  // Ends at ignore()'s first exception, or where the Python walk must take over (handover_).
  void walk() {
    while (!stack_.empty() && failure_.is_none() && !handover_) {
      frame& f = stack_.back();
      if (f.next == f.kept.size()) {
        ::close(f.fd);
        stack_.pop_back();
        continue;
      }
      const listed& e = f.kept[f.next++];
      const bool followed = e.type == DT_LNK || (e.type == DT_UNKNOWN && is_link(f.fd, e.name));
      if (!followed && !is_directory(f.fd, e)) continue;
      if (followed && !followed_to_directory(f.fd, e.name)) continue;
      if (handover_) return;
      frame child;
      child.path = join(f.path, e.name);
      child.rel = f.rel.empty() ? e.name : f.rel + "/" + e.name;
      child.by_path = f.by_path || followed;
      if (!open_child(f, e.name, child)) continue;
      if (stack_.size() >= max_depth_) {
        // shutil's recursion nears the interpreter's limit: the Python walk recurses as it does.
        ::close(child.fd);
        handover_ = true;
        return;
      }
      if (subdirectory(child))
        stack_.push_back(std::move(child));
      else
        ::close(child.fd);
    }
  }

  // DirEntry.path: the parent's path and the name, with one '/' between.
  static std::string join(const std::string& dir, const std::string& name) {
    return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
  }
  py::object as_given(const std::string& bytes) const {
    if (!as_str_) return py::bytes(bytes);
    return py::reinterpret_steal<py::object>(
        PyUnicode_DecodeFSDefaultAndSize(bytes.data(), static_cast<Py_ssize_t>(bytes.size())));
  }
  static bool is_link(int dir_fd, const std::string& name) {
    struct stat st {};
    return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
  }
  static bool is_directory(int dir_fd, const listed& e) {
    if (e.type != DT_UNKNOWN) return e.type == DT_DIR;
    struct stat st {};
    return ::fstatat(dir_fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
  }

  // A symlink with symlinks=False: shutil recurses into it when it leads to a directory (and, with
  // ignore_dangling_symlinks, its target read from the current directory exists). A link back to a
  // directory being walked, or to SRC or an ancestor: shutil follows it until the system refuses
  // (ELOOP), which the Python walk does as shutil does: handover_.
  bool followed_to_directory(int dir_fd, const std::string& name) {
    if (symlinks_) return false;
    if (ignore_dangling_ && !target_exists(dir_fd, name)) return false;
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, 0) != 0 || !S_ISDIR(st.st_mode)) return false;
    if (leads_back(st)) handover_ = true;
    return true;
  }

  // As shutil: os.path.exists(os.readlink(srcname)), the target read from the current directory.
  // readlink's failure (OSError in Python) passes the entry over too.
  static bool target_exists(int dir_fd, const std::string& name) {
    char target[PATH_MAX + 1];
    const ssize_t n = ::readlinkat(dir_fd, name.c_str(), target, PATH_MAX);
    if (n < 0) return false;
    target[n] = '\0';
    struct stat st {};
    return ::stat(target, &st) == 0;
  }

  // Opens a subdirectory as os.scandir(path) would: below a followed link by path (the system's
  // limits on links in a path then apply as they do to shutil), else relative to its parent. A path
  // os.scandir could not open (too long) is left to the copy, as a directory that cannot be read.
  bool open_child(const frame& parent, const std::string& name, frame& child) {
    if (child.path.size() >= PATH_MAX) return false;
    child.fd = child.by_path ? ::open(child.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                             : ::openat(parent.fd, name.c_str(),
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child.fd >= 0) return true;
    // Out of descriptors, where shutil (one open at a time) would not be: the Python walk goes on.
    if (errno == EMFILE || errno == ENFILE) handover_ = true;
    return false;
  }

  // _PreWalk.subdirectory(): listing and ignore(); false when the directory is not walked further
  // (not readable, or ignore() raised: failure_ ends the walk).
  bool subdirectory(frame& child) {
    std::vector<listed> entries;
    if (!list_directory(child.fd, buffer_, entries)) return false;
    py::object path_obj = as_given(child.path);
    py::list names(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i)
      PyList_SET_ITEM(names.ptr(), static_cast<Py_ssize_t>(i),
                      as_given(entries[i].name).release().ptr());
    py::object result;
    try {
      result = ignore_(path_obj, names);
    } catch (py::error_already_set& e) {
      failure_ = py::make_tuple("ignore", path_obj, e.value());
      return false;
    }
    calls_.append(py::make_tuple("ignore", path_obj, result));
    py::list left_out;
    child.kept.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const int in = PySequence_Contains(result.ptr(), PyList_GET_ITEM(names.ptr(), i));
      if (in < 0) {  // `name in result` raised: shutil raises it at the same place
        py::error_already_set e;
        failure_ = py::make_tuple("ignore", path_obj, e.value());
        return false;
      }
      if (in)
        left_out.append(py::bytes(entries[i].name));
      else
        child.kept.push_back(std::move(entries[i]));
    }
    ignored_[py::bytes(child.rel)] = left_out;
    return true;
  }

  // A link to a directory being walked, or to SRC or an ancestor of it. Costs calls for links to
  // directories only.
  bool leads_back(const struct stat& target) {
    const std::pair<dev_t, ino_t> id{target.st_dev, target.st_ino};
    if (!src_chain_) {
      src_chain_.emplace();
      if (char* real = ::realpath(src_.c_str(), nullptr)) {
        std::string here = real;
        ::free(real);
        for (;;) {
          struct stat st {};
          if (::stat(here.c_str(), &st) == 0) src_chain_->emplace(st.st_dev, st.st_ino);
          const auto slash = here.find_last_of('/');
          if (here == "/" || slash == std::string::npos) break;
          here.resize(slash == 0 ? 1 : slash);
        }
      }
    }
    if (src_chain_->count(id)) return true;
    for (const auto& f : stack_) {
      struct stat st {};
      if (::fstat(f.fd, &st) == 0 && st.st_dev == id.first && st.st_ino == id.second) return true;
    }
    return false;
  }

  py::object ignore_;
  bool as_str_;
  bool symlinks_;
  bool ignore_dangling_;
  std::size_t max_depth_;
  std::string src_;
  std::vector<char> buffer_;
  std::vector<frame> stack_;  // the directories being walked, SRC first
  std::optional<std::set<std::pair<dev_t, ino_t>>> src_chain_;
  py::dict ignored_;
  py::list calls_;
  py::object failure_ = py::none();
  bool handover_ = false;
};

}  // namespace

py::tuple copytree_prewalk(py::object src, py::object top_ignored, py::object ignore, bool symlinks,
                           bool ignore_dangling_symlinks, std::size_t max_depth) {
  prewalk walk(std::move(src), std::move(ignore), symlinks, ignore_dangling_symlinks, max_depth);
  walk.run(top_ignored);
  return walk.result();
}

}  // namespace treecopy_py
