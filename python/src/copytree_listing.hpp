// The per-directory hook of treecopy.copytree()'s engine path (copy_options::on_listing): leaves
// out what ignore() said to leave out, and hands the entries whose shutil semantics the engine does
// not have (special files, symlinks that copy2 cannot follow to a file or directory) back to
// Python.
#pragma once

#include <pybind11/pybind11.h>
#include <sys/stat.h>

#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "treecopy/options.hpp"

namespace treecopy_py {

namespace py = pybind11;

class copytree_listing {
 public:
  /// ignored: {relative directory (bytes, '/'-separated, b"" for SRC): names ignore() left out},
  /// for the directories walked before the copy; live(rel_dir, names) -> names to leave out, for
  /// any other directory (None: none). follow_links: symlinks=False (copy2 follows them).
  /// skip_dangling: ignore_dangling_symlinks, with shutil's test of it (see operator()).
  /// cycles_below: SRC (bytes) when no walk before the copy looked for links that lead back (to a
  /// directory being walked, or to SRC or an ancestor of it): such a link is then handed back to
  /// Python, which follows it as shutil does; empty: not looked for.
  /// patterns: None, or the patterns of shutil.ignore_patterns() (str, or bytes when as_bytes),
  /// with '*' and '?' as their only wildcards: names matching one are left out in every directory,
  /// here, without the GIL (see match_patterns()), instead of ignored and live.
  copytree_listing(const py::dict& ignored, py::object live, bool follow_links, bool skip_dangling,
                   std::string cycles_below = {}, const py::object& patterns = py::none(),
                   bool as_bytes = false);
  ~copytree_listing();

  /// The hook (copy_options::on_listing): may run on any worker, takes the GIL only for live().
  void operator()(std::string_view rel_dir, int dir_fd,
                  std::span<const treecopy::listed_entry> entries, std::vector<bool>& leave_out);

  /// [(rel_dir, name)] left to Python, in no particular order.
  py::list take_deferred();
  /// Raises what live() raised, if anything.
  void rethrow();

 private:
  enum class handling { engine, python, skip };
  handling handled_by(std::string_view rel_dir, int dir_fd, const treecopy::listed_entry& e) const;
  bool leads_back(std::string_view rel_dir, const struct stat& target) const;
  void ask_live(std::string_view rel_dir, std::span<const treecopy::listed_entry> entries,
                std::vector<bool>& leave_out);
  void match_patterns(std::span<const treecopy::listed_entry> entries,
                      std::vector<bool>& leave_out) const;

  std::unordered_map<std::string, std::unordered_set<std::string>> ignored_;
  std::unordered_set<std::string> walked_;
  py::object live_;
  bool follow_links_;
  bool skip_dangling_;
  std::string cycles_below_;
  std::optional<std::vector<std::u32string>> patterns_;  // as fnmatch's characters
  bool as_bytes_ = false;
  mutable std::once_flag src_chain_once_;
  mutable std::set<std::pair<dev_t, ino_t>> src_chain_;  // SRC and its ancestors, on the first link
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> deferred_;
  std::optional<py::error_already_set> error_;
};

}  // namespace treecopy_py
