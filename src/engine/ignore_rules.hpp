// --gitignore: the I/O around plan/gitignore.hpp. Finds the repository SRC is in, reads its
// repository-wide ignore files (.git/info/exclude, core.excludesFile) and the .gitignore files
// between its top and SRC, and reads a listed directory's own .gitignore, or starts the rules of a
// repository nested in SRC. The walker keeps the resulting scope on each dir_node.
#pragma once

#include <memory>
#include <string>
#include <system_error>

#include "plan/gitignore.hpp"

namespace treecopy::engine {

/// The rules that apply to the entries of a directory, and that directory's path relative to its
/// repository's top ("" at the top), which anchored patterns are matched against.
struct ignore_rules {
  std::shared_ptr<const plan::ignore_scope> scope;
  std::string repo_path;
  /// The directory lies in one git ignores (or is one): git lists none of its entries, so all are
  /// left out. Only SRC's own rules say so (a directory brought back by --include is walked with
  /// the rules of its entries).
  bool all = false;
};

/// The rules for SRC's own entries before SRC's .gitignore (which the walker reads with the
/// listing): SRC in a repository (a .git directory or gitfile in SRC or an ancestor, looked for
/// upward as git does, not across a mount boundary) gets that repository's info/exclude, the
/// excludes file of git's configuration and the .gitignore files of the directories above SRC up
/// to the top, with SRC's path from the top (and all = true when SRC or a directory above it is
/// ignored: git lists nothing of it, and SRC is copied empty); SRC outside any repository gets
/// empty rules and SRC as the top. Ignore files that cannot be read count as empty, as git reads
/// them.
ignore_rules source_ignore_rules(int src_dir);

/// The rules a subdirectory `name` starts with, inherited from its parent's (the parent's own
/// .gitignore included): none inside .git, which git never looks into.
ignore_rules child_rules(const ignore_rules& parent, const std::string& name);

/// Adds directory dirfd's own rules to r, the rules it inherited: its .gitignore (text, read
/// already), or, when it holds .git (has_git; never said of SRC) and is a repository's top, a
/// nested repository's rules, which start afresh (git does not look into it from the enclosing
/// repository). Nothing without a scope.
void add_own_rules(ignore_rules& r, int dirfd, const std::string& text, bool has_git);

/// A unit of a distributed copy rooted at src_root/rel: the rules the walk of src_root has for the
/// entries of rel, with rel's own .gitignore when own, from at_src (source_ignore_rules() of
/// src_root) and the directories between (each .gitignore, each nested repository), read
/// fd-relative, following no symlink unless follow (-L). Ignore files that cannot be read count as
/// empty (the walk that listed them reported it). Returns an error when a directory on the way
/// cannot be opened.
std::error_code unit_ignore_rules(const ignore_rules& at_src, int src_root, const std::string& rel,
                                  bool own, bool follow, ignore_rules& out);

/// Whether directory dirfd is the top of a repository: it holds .git, a repository directory or a
/// gitfile ("gitdir: PATH") naming one.
bool is_repository_top(int dirfd);

/// The scope at the top of a repository whose top directory is dirfd: its info/exclude, the
/// excludes file of git's configuration (system, global, the repository's own), and its top-level
/// .gitignore text.
std::shared_ptr<const plan::ignore_scope> repository_scope(int dirfd, std::string_view gitignore);

/// Reads dirfd/name (a .gitignore) without following a symlink, as git does: a symlink or
/// anything other than a regular file reads as empty (no error); other failures are returned.
std::error_code read_ignore_file(int dirfd, const char* name, std::string& text);

}  // namespace treecopy::engine
