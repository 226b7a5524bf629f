// copytree_prewalk: see copytree_prewalk.hpp.
#include "copytree_prewalk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

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

// os.scandir(path)'s names and d_types, in its order (both read the directory with readdir).
std::optional<std::vector<listed>> list_directory(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return std::nullopt;
  std::vector<listed> out;
  while (const dirent* d = ::readdir(dir)) {
    const std::string_view name = d->d_name;
    if (name == "." || name == "..") continue;
    out.push_back({std::string(name), d->d_type});
  }
  ::closedir(dir);
  return out;
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
    auto entries = list_directory(src_);
    if (!entries) return;  // the copy meets it, and reports it as shutil would
    std::set<std::string> left_out;
    for (py::handle n : top_ignored) left_out.insert(n.cast<std::string>());
    std::vector<listed> kept;
    for (auto& e : *entries)
      if (!left_out.count(e.name)) kept.push_back(std::move(e));
    stack_.push_back(src_);
    descend(src_, "", kept);
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
  static unsigned char type_of(const std::string& path, unsigned char type) {
    if (type != DT_UNKNOWN) return type;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return DT_UNKNOWN;
    return IFTODT(st.st_mode);
  }

  // _PreWalk.descend(): the subdirectories among a directory's kept entries, as shutil recurses.
  bool descend(const std::string& path, const std::string& rel, const std::vector<listed>& kept) {
    for (const auto& e : kept) {
      const std::string child = join(path, e.name);
      const unsigned char type = type_of(child, e.type);
      if (type == DT_LNK) {
        if (symlinks_) continue;
        if (ignore_dangling_ && !target_exists(child)) continue;
        struct stat st {};
        if (::stat(child.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        cycle_ = cycle_ || leads_back(st);
      } else if (type != DT_DIR) {
        continue;
      }
      if (!subdirectory(child, rel.empty() ? e.name : rel + "/" + e.name)) return false;
    }
    return true;
  }

  // As shutil: os.path.exists(os.readlink(srcname)), the target read from the current directory.
  // readlink's failure (OSError in Python) passes the entry over too.
  static bool target_exists(const std::string& link) {
    char target[PATH_MAX + 1];
    const ssize_t n = ::readlink(link.c_str(), target, PATH_MAX);
    if (n < 0) return false;
    target[n] = '\0';
    struct stat st {};
    return ::stat(target, &st) == 0;
  }

  // _PreWalk.subdirectory(): listing and ignore(); false once ignore() raised (the walk ends).
  bool subdirectory(const std::string& path, const std::string& rel) {
    auto entries = list_directory(path);
    if (!entries) return true;
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
    const bool go_on = descend(path, rel, kept);
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
