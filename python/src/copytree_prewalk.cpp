// copytree_prewalk: see copytree_prewalk.hpp.
#include "copytree_prewalk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace treecopy_py {
namespace {

struct listed {
  std::string name;
  unsigned char type;
};

// os.scandir(path)'s names and d_types, in its order (both read the directory with getdents):
// opened relative to its parent's descriptor (parent_fd, name), which resolves one name instead
// of the whole path, and read without opendir's stat and buffer; the descriptor is kept open
// while the directory is walked (one per level, as deep as shutil's recursion goes).
struct directory {
  int fd = -1;
  std::vector<listed> entries;
  directory() = default;
  directory(const directory&) = delete;
  directory& operator=(const directory&) = delete;
  ~directory() {
    if (fd >= 0) ::close(fd);
  }
};

bool list_directory(int parent_fd, const char* name, directory& out) {
  out.fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (out.fd < 0) return false;
  alignas(8) char buffer[32768];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, out.fd, buffer, sizeof buffer);
    if (n < 0) return false;
    if (n == 0) return true;
    for (long at = 0; at < n;) {
      struct record {
        ino64_t ino;
        off64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[];
      };
      const auto* d = reinterpret_cast<const record*>(buffer + at);
      at += d->reclen;
      const std::string_view entry = d->name;
      if (entry == "." || entry == "..") continue;
      out.entries.push_back({std::string(entry), d->type});
    }
  }
}

class prewalk {
 public:
  prewalk(py::object src, py::object ignore, bool symlinks, bool ignore_dangling_symlinks)
      : ignore_(std::move(ignore)),
        as_str_(py::isinstance<py::str>(src)),
        symlinks_(symlinks),
        ignore_dangling_(ignore_dangling_symlinks) {
    src_ = (as_str_ ? py::module_::import("os").attr("fsencode")(src) : src).cast<std::string>();
  }

  void run(const py::object& top_ignored) {
    directory top;
    if (!list_directory(AT_FDCWD, src_.c_str(), top)) return;  // the copy meets it, as shutil
    std::set<std::string> left_out;
    for (py::handle n : top_ignored) left_out.insert(n.cast<std::string>());
    std::vector<listed> kept;
    for (auto& e : top.entries)
      if (!left_out.count(e.name)) kept.push_back(std::move(e));
    stack_.push_back(src_);
    descend(top.fd, src_, "", kept);
  }

  py::tuple result() const { return py::make_tuple(ignored_, calls_, failure_, cycle_); }

 private:
  // DirEntry.path: the parent's path and the name, with one '/' between.
  static std::string join(const std::string& dir, const std::string& name) {
    return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
  }
  py::object as_given(const std::string& bytes) const {
    if (!as_str_) return py::bytes(bytes);
    return py::reinterpret_steal<py::object>(
        PyUnicode_DecodeFSDefaultAndSize(bytes.data(), static_cast<Py_ssize_t>(bytes.size())));
  }
  static unsigned char type_of(int dir_fd, const std::string& name, unsigned char type) {
    if (type != DT_UNKNOWN) return type;
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return DT_UNKNOWN;
    return IFTODT(st.st_mode);
  }

  // _PreWalk.descend(): the subdirectories among a directory's kept entries, as shutil recurses.
  bool descend(int dir_fd, const std::string& path, const std::string& rel,
               const std::vector<listed>& kept) {
    for (const auto& e : kept) {
      const unsigned char type = type_of(dir_fd, e.name, e.type);
      if (type == DT_LNK) {
        if (symlinks_) continue;
        if (ignore_dangling_ && !target_exists(dir_fd, e.name)) continue;
        struct stat st {};
        if (::fstatat(dir_fd, e.name.c_str(), &st, 0) != 0 || !S_ISDIR(st.st_mode)) continue;
        cycle_ = cycle_ || leads_back(st);
      } else if (type != DT_DIR) {
        continue;
      }
      if (!subdirectory(dir_fd, e.name, join(path, e.name),
                        rel.empty() ? e.name : rel + "/" + e.name))
        return false;
    }
    return true;
  }

  // As shutil: os.path.exists(os.readlink(srcname)), the target read from the current directory.
  // readlink's failure (OSError in Python) passes the entry over too.
  static bool target_exists(int dir_fd, const std::string& link) {
    char target[PATH_MAX + 1];
    const ssize_t n = ::readlinkat(dir_fd, link.c_str(), target, PATH_MAX);
    if (n < 0) return false;
    target[n] = '\0';
    struct stat st {};
    return ::stat(target, &st) == 0;
  }

  // _PreWalk.subdirectory(): listing and ignore(); false once ignore() raised (the walk ends).
  bool subdirectory(int parent_fd, const std::string& name, const std::string& path,
                    const std::string& rel) {
    directory listing;
    if (!list_directory(parent_fd, name.c_str(), listing)) return true;
    auto* entries = &listing.entries;
    py::object path_obj = as_given(path);
    py::list names;
    for (const auto& e : *entries) names.append(as_given(e.name));
    py::object result;
    try {
      result = ignore_(path_obj, names);
    } catch (py::error_already_set& e) {
      failure_ = py::make_tuple("ignore", path_obj, e.value());
      return false;
    }
    calls_.append(py::make_tuple("ignore", path_obj, result));
    py::list left_out;
    std::vector<listed> kept;
    for (std::size_t i = 0; i < entries->size(); ++i) {
      const int in = PySequence_Contains(result.ptr(), names[i].ptr());
      if (in < 0) {  // `name in result` raised: shutil raises it at the same place
        py::error_already_set e;
        failure_ = py::make_tuple("ignore", path_obj, e.value());
        return false;
      }
      if (in)
        left_out.append(py::bytes((*entries)[i].name));
      else
        kept.push_back(std::move((*entries)[i]));
    }
    ignored_[py::bytes(rel)] = left_out;
    stack_.push_back(path);
    const bool go_on = descend(listing.fd, path, rel, kept);
    stack_.pop_back();
    return go_on;
  }

  // _PreWalk.leads_back(): a link to a directory being walked, or to SRC or an ancestor of it.
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
    for (const auto& path : stack_) {
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 && st.st_dev == id.first && st.st_ino == id.second)
        return true;
    }
    return false;
  }

  py::object ignore_;
  bool as_str_;
  bool symlinks_;
  bool ignore_dangling_;
  std::string src_;
  std::vector<std::string> stack_;  // paths of the directories being walked, SRC first
  std::optional<std::set<std::pair<dev_t, ino_t>>> src_chain_;
  py::dict ignored_;
  py::list calls_;
  py::object failure_ = py::none();
  bool cycle_ = false;
};

}  // namespace

py::tuple copytree_prewalk(py::object src, py::object top_ignored, py::object ignore, bool symlinks,
                           bool ignore_dangling_symlinks) {
  prewalk walk(std::move(src), std::move(ignore), symlinks, ignore_dangling_symlinks);
  walk.run(top_ignored);
  return walk.result();
}

}  // namespace treecopy_py
