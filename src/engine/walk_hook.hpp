// What a driver that spreads one copy over several processes (treecopy-mpi) asks of the walker:
// subdirectories it may take away to another process, directory metadata it applies itself once
// every process is done, and the names of hard-linked files (whose other names another process
// may meet), and batches of a huge directory's files that another process may copy. Without a hook
// (copy_tree()), the walker does none of this.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace treecopy::engine {

struct dir_node;

class walk_hook {
 public:
  /// Cheap, asked before every subdirectory is spawned: whether hand_off() would take one now.
  virtual bool wants_dir() const noexcept = 0;
  /// rel (from SRC's root) is a subdirectory not started yet: true when the hook takes it (the
  /// walker neither creates nor copies it), false and the walker copies it itself.
  virtual bool hand_off(const std::string& rel) = 0;
  /// A destination directory is written: its metadata (node->st, xattrs) is the hook's to apply
  /// after every process has finished writing into it, rather than the walker's now.
  virtual void defer_dir(const std::string& rel, const dir_node& node) = 0;
  /// A file of big_file_threshold or more at rel, created (empty) in the destination: true when
  /// the hook has it copied in chunks by every process and finished (metadata, counts) after
  /// them; the walker then sizes the destination and forgets the file. dir_always_chmod: its
  /// directory's dir_node::always_chmod.
  virtual bool take_file(const std::string& rel, const struct stat& st, bool dir_always_chmod) = 0;
  /// A directory's listing holds `files` entries other than directories: how many of them make a
  /// batch that another process may take (hand_off_files()), or 0 when all are copied here.
  virtual std::uint32_t file_slice(std::size_t files) const noexcept = 0;
  /// Asked before a batch of such a directory (rel, from SRC's root) is copied, when wants_dir():
  /// true when the hook takes it, and another process copies these entries into the directory
  /// (setup_result::batch); false and the walker copies them itself. names: each entry as its
  /// DT_* type byte then its NUL-terminated name; none is a directory or of unknown type.
  virtual bool hand_off_files(const std::string& rel, const dir_node& node,
                              std::string&& names) = 0;
  /// One name of a file with several links (source dev, ino), at rel (from DST's root, "/"-joined).
  virtual void link_name(dev_t dev, ino_t ino, const std::string& rel) = 0;

 protected:
  ~walk_hook() = default;
};

}  // namespace treecopy::engine
