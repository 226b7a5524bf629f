// Helpers shared by the re-run tests (update, delete, filters, resume, reflink): an observer that
// records what a copy reported, entry counts and inode snapshots of a tree, small file edits that
// set exact times, and the report as readable text for failure messages.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "treecopy/treecopy.hpp"

namespace treecopy_test {

/// Records every per-entry callback of one copy. The library serializes on_entry(), on_remove()
/// and on_error(), and on_progress() is not overridden, so no lock is needed.
class recording_observer : public treecopy::copy_observer {
 public:
  bool wants_entries() const override { return true; }
  void on_entry(treecopy::entry_kind kind, std::string_view path) override {
    entries.emplace_back(kind, std::string(path));
  }
  void on_remove(std::string_view path) override { removed.emplace_back(path); }
  void on_error(const treecopy::entry_error& e) override { errors.push_back(e); }

  std::vector<std::pair<treecopy::entry_kind, std::string>> entries;
  std::vector<std::string> removed;  ///< full destination paths, in callback order
  std::vector<treecopy::entry_error> errors;
};

/// How many entries a tree holds (the root included when it is a directory).
struct census {
  std::uint64_t directories = 0;
  std::uint64_t others = 0;  ///< files (each name of a hard-link group), symlinks, special files
  std::uint64_t file_bytes = 0;  ///< sizes of regular files, each inode once
};

/// Counts the entries of a tree, not following symlinks.
census count_entries(const std::string& root);

/// Inode and change time of one non-directory entry: unchanged exactly when the entry was neither
/// replaced nor written to nor had its metadata set.
struct inode_state {
  ino_t ino = 0;
  timespec ctime{};
  bool operator==(const inode_state& o) const {
    return ino == o.ino && ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

/// Relative path -> inode_state for every non-directory entry of a tree.
std::map<std::string, inode_state> non_directory_inodes(const std::string& root);

/// The paths whose state differs between two inode maps (added, removed or touched), one a line.
std::string inode_changes(const std::map<std::string, inode_state>& before,
                          const std::map<std::string, inode_state>& after);

/// A fixed time in the past, distinct per index, with a non-zero nanosecond part.
timespec past_time(int index);

/// An access time ahead of now, distinct per index. Edits made by the tests use it: under relatime,
/// reading a file whose atime is not later than its mtime and ctime updates the atime, so a copy
/// would read the source and legitimately differ from it (tree_maker does the same).
timespec future_atime(int index);

/// Writes a whole file (created or truncated); sets its mtime and a future_atime().
void write_file(const std::string& path, const std::string& content, const timespec& mtime);

/// Overwrites the bytes of an existing file in place (same inode); sets its mtime and a
/// future_atime().
void overwrite_in_place(const std::string& path, const std::string& content, const timespec& mtime);

/// Sets mtime and a future_atime() of an entry without following a symlink.
void set_entry_times(const std::string& path, const timespec& mtime);

/// The whole content of a file.
std::string read_whole(const std::string& path);

/// lstat(); throws on failure.
struct stat lstat_path(const std::string& path);

/// Whether an entry of that name exists (a dangling symlink counts).
bool entry_exists(const std::string& path);

/// Sets the HOME environment variable for the life of the object (child processes inherit it).
class home_override {
 public:
  explicit home_override(const std::string& home);
  ~home_override();
  home_override(const home_override&) = delete;
  home_override& operator=(const home_override&) = delete;

 private:
  std::optional<std::string> old_;
};

/// The report's counters and errors as one text, for failure messages.
std::string describe(const treecopy::copy_report& report);

/// Sum of the copied counters of every kind but directory.
std::uint64_t non_directories_copied(const treecopy::copy_report& report);

}  // namespace treecopy_test
