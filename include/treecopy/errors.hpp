// Error types of the public API: setup errors (thrown before any work) and per-entry errors
// (values collected in the report and passed to the observer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace treecopy {

/// The system call or step that failed for one entry.
enum class operation : std::uint8_t {
  open_source,  ///< opening a source file or directory
  stat,         ///< reading a source entry's metadata
  read_dir,     ///< listing a source directory
  read_link,    ///< reading a source symlink's target
  read_xattr,   ///< listing or reading a source entry's extended attributes
  read,         ///< reading file data
  create,       ///< creating a destination file, directory, link or special file
  remove,       ///< removing a destination entry that is to be replaced
  write,        ///< writing file data
  clone,        ///< sharing file data with FICLONE (--reflink=always)
  link,         ///< recreating a hard link
  set_owner,    ///< chown
  set_mode,     ///< chmod
  set_times,    ///< utimensat / futimens
  set_xattr,    ///< writing an extended attribute or ACL
  close,        ///< closing a written file
  cancelled,    ///< the entry was left unfinished because the copy was stopped
};

/// A short verb for an operation ("open", "create", ...), for messages. Its wording may change.
const char* to_string(operation op) noexcept;

/// A stable, machine-readable name for an operation: the enumerator's own name ("open_source",
/// "set_times", ...), as JSON output and the Python module give it. Names are never changed or
/// reused; "other" for a value outside the enumeration.
const char* to_id(operation op) noexcept;

/// The operation whose to_id() is id, or nullopt.
std::optional<operation> parse_operation(std::string_view id) noexcept;

/// treecopy's own reasons for an entry error, beside the errno values of std::generic_category().
enum class errc : int {
  /// The source file's size or modification time changed while it was being copied: the copy
  /// holds a mix of old and new contents (or is short). It keeps the times read before the copy,
  /// so a later --update copies the file again.
  source_changed = 1,
  /// With symlink_mode::always: a link leads to a directory that is being copied as an ancestor
  /// of the link itself. The directory is not copied again (it would never end).
  directory_cycle = 2,
  /// A source directory is the destination directory, or holds SRC (a bind mount, a -L link):
  /// copying it would copy the copy into itself without end. It is skipped, not descended.
  into_itself = 3,
  /// A destination directory to merge into or to remove is SRC or holds it (a bind mount of SRC or
  /// of one of its ancestors inside DST): it is left alone, so that the copy never removes SRC.
  holds_source = 4,
  /// A directory to remove holds entries that the filters exclude: they are kept, and so is the
  /// directory (as rsync: "cannot delete non-empty directory").
  holds_excluded = 5,
  /// A directory to remove is another mount (a file system or a bind mount mounted inside DST):
  /// what it holds is not the copy's to remove. It is left alone.
  mount_point = 6,
};

/// A stable, machine-readable name for an errc: the enumerator's own name ("source_changed",
/// "mount_point", ...); "" for a value outside the enumeration.
const char* to_id(errc e) noexcept;

/// The errc whose to_id() is id, or nullopt.
std::optional<errc> parse_errc(std::string_view id) noexcept;

/// The category of errc values (name "treecopy").
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// A path quoted for a one-line message, as GNU tools quote names (coreutils' shell-escape-always
/// style): 'a b', 'it'\''s', 'no'$'\n''such'. Well-formed UTF-8 is kept as is; control characters,
/// DEL, C1 controls, U+2028/U+2029 and bytes that are not UTF-8 are written as $'\n' or $'\377'
/// escapes. The result is one line that a POSIX shell (bash, zsh, ksh) reads back as exactly path.
std::string quote(std::string_view path);

/// Length of the well-formed UTF-8 sequence starting at text[i] (1 to 4), or 0 when the byte there
/// does not start one (stray continuation byte, overlong form, surrogate, beyond U+10FFFF, cut
/// short). i must be less than text.size().
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) noexcept;

/// True when text is well-formed UTF-8.
bool is_valid_utf8(std::string_view text) noexcept;

/// Which of the two trees an entry error is about.
enum class entry_side : std::uint8_t {
  source,       ///< reading SRC failed (open, stat, list, read, xattrs, link target)
  destination,  ///< writing DST failed (create, write, remove, metadata)
};

/// A stable name for a side: "source" or "destination".
const char* to_id(entry_side side) noexcept;

/// One entry that could not be copied (or not completely). Reported, never thrown.
struct entry_error {
  std::string
      path;        ///< the path that failed: a source path for reads, a destination path for writes
  operation op{};  ///< what failed
  std::error_code code;  ///< why: an errno value (std::generic_category()) or a treecopy::errc
  entry_side side = entry_side::source;  ///< which tree path names

  /// "create '/dst/a/b': Permission denied": the path quoted with quote().
  std::string message() const;
};

/// A problem with the copy as a whole (missing source, destination inside the source, destination
/// exists, ...): thrown by copy_tree() before anything is created on disk. what() is one complete
/// line naming the path (quoted with quote()) and the reason, e.g. "'src': cannot read source: No
/// such file or directory".
class setup_error : public std::system_error {
 public:
  setup_error(std::string path, std::error_code code, std::string message)
      : std::system_error(code), path_(std::move(path)), message_(std::move(message)) {}

  /// The path the problem is about.
  const std::string& path() const noexcept { return path_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string path_;
  std::string message_;
};

}  // namespace treecopy

template <>
struct std::is_error_code_enum<treecopy::errc> : std::true_type {};
