// copytree_listing: see copytree_listing.hpp.
#include "copytree_listing.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace treecopy_py {

namespace {

// The code points os.fsdecode gives for a name that is not ASCII: decoded by Python itself (its
// file system encoding and error handler), the GIL taken for that.
std::u32string decoded(std::string_view name) {
  py::gil_scoped_acquire gil;
  py::object text = py::reinterpret_steal<py::object>(
      PyUnicode_DecodeFSDefaultAndSize(name.data(), static_cast<Py_ssize_t>(name.size())));
  if (!text) {  // not with surrogateescape; kept as bytes rather than raised on a worker
    PyErr_Clear();
    return std::u32string(name.begin(), name.end());
  }
  const Py_ssize_t n = PyUnicode_GetLength(text.ptr());
  std::u32string out(static_cast<std::size_t>(n), U'\0');
  for (Py_ssize_t i = 0; i < n; ++i) out[i] = PyUnicode_ReadChar(text.ptr(), i);
  return out;
}

// fnmatch.fnmatchcase() for a pattern whose only wildcards are '*' (any run of characters, '/' and
// a leading '.' included) and '?' (any one character): the whole name must match. Backtracks to the
// last '*' only: linear in practice. Name: bytes (unsigned char) or code points.
template <typename Char>
bool matches(std::u32string_view pattern, std::basic_string_view<Char> name) {
  std::size_t p = 0, n = 0, star = std::u32string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == U'*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() &&
               (pattern[p] == U'?' || pattern[p] == static_cast<char32_t>(name[n]))) {
      ++p;
      ++n;
    } else if (star != std::u32string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == U'*') ++p;
  return p == pattern.size();
}

}  // namespace

copytree_listing::copytree_listing(const py::dict& ignored, py::object live, bool follow_links,
                                   bool skip_dangling, std::string cycles_below,
                                   const py::object& patterns, bool as_bytes)
    : live_(std::move(live)),
      follow_links_(follow_links),
      skip_dangling_(skip_dangling),
      cycles_below_(std::move(cycles_below)),
      as_bytes_(as_bytes) {
  if (!patterns.is_none()) {
    patterns_.emplace();
    for (py::handle pattern : patterns) {
      if (as_bytes) {
        const std::string bytes = pattern.cast<std::string>();
        patterns_->emplace_back(bytes.begin(), bytes.end());
        for (auto& c : patterns_->back()) c = static_cast<unsigned char>(c);
      } else {
        const Py_ssize_t n = PyUnicode_GetLength(pattern.ptr());
        std::u32string chars(static_cast<std::size_t>(n), U'\0');
        for (Py_ssize_t i = 0; i < n; ++i) chars[i] = PyUnicode_ReadChar(pattern.ptr(), i);
        patterns_->push_back(std::move(chars));
      }
    }
  }
  for (auto [rel, names] : ignored) {
    std::string dir = rel.cast<std::string>();
    auto& set = ignored_[dir];
    for (py::handle name : names) set.insert(name.cast<std::string>());
    walked_.insert(std::move(dir));
  }
}

copytree_listing::~copytree_listing() {
  // error_ and live_ hold Python objects: destroyed with the GIL, which the owner holds.
}

// What copy2 does with an entry that the engine would do otherwise: a FIFO, socket or device (copy2
// reads a device's data, raises for the others); with symlinks=False, a symlink whose target is not
// a file or directory, dangling ones included (copy2's error). With ignore_dangling_symlinks, a
// symlink is left out when its target, read as a path from the current directory (shutil's
// os.path.exists(os.readlink(srcname)), a quirk kept as it is), does not exist. Costs calls for
// symlinks only.
copytree_listing::handling copytree_listing::handled_by(std::string_view rel_dir, int dir_fd,
                                                        const treecopy::listed_entry& e) const {
  std::uint8_t type = e.type;
  if (type == DT_REG || type == DT_DIR)
    return handling::engine;  // most entries: no copy of the name
  const std::string name(e.name);
  if (type == DT_UNKNOWN) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return handling::engine;
    type = IFTODT(st.st_mode);
  }
  switch (type) {
    case DT_REG:
    case DT_DIR:
      return handling::engine;
    case DT_LNK: {
      if (!follow_links_) return handling::engine;
      struct stat st {};
      if (skip_dangling_) {
        char target[PATH_MAX + 1];
        const ssize_t n = ::readlinkat(dir_fd, name.c_str(), target, PATH_MAX);
        if (n < 0) return handling::python;  // copy2 meets the same failure
        target[n] = '\0';
        if (::stat(target, &st) != 0) return handling::skip;
      }
      if (::fstatat(dir_fd, name.c_str(), &st, 0) != 0) return handling::python;
      if (S_ISDIR(st.st_mode) && !cycles_below_.empty() && leads_back(rel_dir, st))
        return handling::python;
      return S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ? handling::engine : handling::python;
    }
    default:
      return handling::python;
  }
}

// Whether a followed link to a directory leads to one being walked (SRC/rel_dir or one of its
// ancestors up to SRC, by path as shutil's recursion reaches them) or to SRC or an ancestor of it:
// shutil follows it until the system refuses (ELOOP), which the engine would not do. Costs calls
// for links to directories only. A failure to tell is left to the engine: false.
bool copytree_listing::leads_back(std::string_view rel_dir, const struct stat& target) const {
  const std::pair<dev_t, ino_t> id{target.st_dev, target.st_ino};
  std::call_once(src_chain_once_, [this] {
    char* real = ::realpath(cycles_below_.c_str(), nullptr);
    if (real == nullptr) return;
    std::string here = real;
    ::free(real);
    for (;;) {
      struct stat st {};
      if (::stat(here.c_str(), &st) == 0) src_chain_.emplace(st.st_dev, st.st_ino);
      const auto slash = here.find_last_of('/');
      if (here == "/" || slash == std::string::npos) break;
      here.resize(slash == 0 ? 1 : slash);
    }
  });
  if (src_chain_.count(id)) return true;
  std::string path = cycles_below_;
  std::size_t pos = 0;
  while (pos < rel_dir.size()) {
    const auto end = std::min(rel_dir.find('/', pos), rel_dir.size());
    path += '/';
    path += rel_dir.substr(pos, end - pos);
    pos = end + 1;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_dev == id.first && st.st_ino == id.second)
      return true;
  }
  return false;
}

void copytree_listing::operator()(std::string_view rel_dir, int dir_fd,
                                  std::span<const treecopy::listed_entry> entries,
                                  std::vector<bool>& leave_out) {
  const std::string dir(rel_dir);
  if (patterns_) {
    match_patterns(entries, leave_out);
  } else if (auto it = ignored_.find(dir); it != ignored_.end()) {
    for (std::size_t i = 0; i < entries.size() && !it->second.empty(); ++i)
      if (it->second.count(std::string(entries[i].name))) leave_out[i] = true;
  } else if (!walked_.count(dir)) {
    ask_live(rel_dir, entries, leave_out);
  }
  std::vector<std::pair<std::string, std::string>> mine;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (leave_out[i]) continue;
    const handling h = handled_by(rel_dir, dir_fd, entries[i]);
    if (h == handling::engine) continue;
    leave_out[i] = true;
    if (h == handling::python) mine.emplace_back(dir, std::string(entries[i].name));
  }
  if (mine.empty()) return;
  std::lock_guard lock(mutex_);
  for (auto& m : mine) deferred_.push_back(std::move(m));
}

// A directory the walk before the copy did not see (made meanwhile): ignore() is asked now, with
// the GIL taken for that call only. A failure leaves the whole directory out and is raised after
// the copy.
void copytree_listing::ask_live(std::string_view rel_dir,
                                std::span<const treecopy::listed_entry> entries,
                                std::vector<bool>& leave_out) {
  if (live_.is_none()) return;
  py::gil_scoped_acquire gil;
  try {
    py::list names;
    for (const auto& e : entries) names.append(py::bytes(e.name.data(), e.name.size()));
    py::object out = live_(py::bytes(rel_dir.data(), rel_dir.size()), names);
    for (std::size_t i = 0; i < entries.size(); ++i)
      if (out.contains(names[i])) leave_out[i] = true;
  } catch (py::error_already_set& e) {
    leave_out.assign(leave_out.size(), true);
    std::lock_guard lock(mutex_);
    if (!error_) error_.emplace(std::move(e));
  }
}

// What shutil.ignore_patterns() returns for the directory, computed here: the function is known,
// has no effect but its result and cannot raise with these patterns and names (_shutil.py checks
// that), so when and on which thread it is computed does not show.
void copytree_listing::match_patterns(std::span<const treecopy::listed_entry> entries,
                                      std::vector<bool>& leave_out) const {
  if (patterns_->empty()) return;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    // fnmatch's characters: the bytes when names are bytes or ASCII, else the decoded code points.
    const std::basic_string_view<unsigned char> bytes(
        reinterpret_cast<const unsigned char*>(entries[i].name.data()), entries[i].name.size());
    const bool ascii = as_bytes_ || std::all_of(bytes.begin(), bytes.end(),
                                                [](unsigned char c) { return c < 0x80; });
    const std::u32string chars = ascii ? std::u32string() : decoded(entries[i].name);
    for (const auto& pattern : *patterns_) {
      if (ascii ? matches(pattern, bytes) : matches(pattern, std::u32string_view(chars))) {
        leave_out[i] = true;
        break;
      }
    }
  }
}

py::list copytree_listing::take_deferred() {
  std::vector<std::pair<std::string, std::string>> items;
  {
    std::lock_guard lock(mutex_);
    items.swap(deferred_);
  }
  py::list out;
  for (auto& [dir, name] : items) out.append(py::make_tuple(py::bytes(dir), py::bytes(name)));
  return out;
}

void copytree_listing::rethrow() {
  if (!error_) return;
  py::error_already_set e = std::move(*error_);
  error_.reset();
  throw e;
}

}  // namespace treecopy_py
