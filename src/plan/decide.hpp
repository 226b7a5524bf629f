// What to do with one entry, as pure decisions: given the source entry's stat, the destination's
// stat (or none) and the normalized options, whether to create, replace, keep (metadata only),
// link, skip, descend, remove or report a conflict. No I/O here: where a decision needs to read
// something (a link target, file contents, the hard-link table), it says so and is asked again
// with the answer. The real run and the dry run take these same decisions; they differ only in
// what they do with them.
//
// The engine's side of one entry, in short:
//   entry_decision d = decide_entry(pol, src, dst, ctx);
//   while (d.what == action::ask) {  // the I/O it asks for, then the same question again
//     if (d.asks == need::link_claim) ctx.link = <link_table::claim()>;
//     else ctx.comparison = <same_link_target() or same_content()> ? compared::equal : differ;
//     d = decide_entry(pol, src, dst, ctx);
//   }
//   switch (d.what) { ... }  // the real run does it, the dry run records it
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

#include "treecopy/errors.hpp"
#include "treecopy/options.hpp"

namespace treecopy::plan {

/// A file's identity (device, inode): what safety decisions compare, never paths.
struct identity {
  dev_t dev = 0;
  ino_t ino = 0;
  static identity of(const struct stat& st) noexcept { return {st.st_dev, st.st_ino}; }
  bool operator==(const identity&) const = default;
};

/// What is known of one entry: the fields of struct stat the decisions look at.
struct entry_facts {
  mode_t mode = 0;  ///< st_mode, type bits included
  uid_t uid = 0;
  gid_t gid = 0;
  off_t size = 0;
  nlink_t nlink = 1;
  dev_t dev = 0;
  ino_t ino = 0;
  dev_t rdev = 0;
  struct timespec mtime {};
  struct timespec ctime {};

  /// Inline: the engine takes the facts of a stat several times for every file it copies.
  static entry_facts of(const struct stat& st) noexcept {
    return {st.st_mode, st.st_uid, st.st_gid,  st.st_size, st.st_nlink,
            st.st_dev,  st.st_ino, st.st_rdev, st.st_mtim, st.st_ctim};
  }
  mode_t type() const noexcept { return mode & S_IFMT; }
  bool is_dir() const noexcept { return type() == S_IFDIR; }
  bool is_reg() const noexcept { return type() == S_IFREG; }
  bool is_link() const noexcept { return type() == S_IFLNK; }
  identity id() const noexcept { return {dev, ino}; }
};

/// Who runs the copy: what decides whether ownership can be kept and which modes need a chmod.
struct process_ids {
  uid_t euid = 0;
  gid_t egid = 0;
  int umask = -1;  ///< -1: unknown (modes are then always set explicitly)
};

/// The options of one copy, normalized once (by normalize(), in setup): every other unit reads
/// merge/update from here, never from copy_options.
struct policy {
  bool merge = false;     ///< DST may exist (set by merge, update or checksum)
  bool update = false;    ///< equal entries are kept (set by update or checksum)
  bool checksum = false;  ///< with update: compare contents instead of mtimes
  bool delete_extraneous = false;
  bool dry_run = false;
  bool preserve_ownership = true;
  bool preserve_xattrs = true;
  bool preserve_mode = true;
  bool default_modes = false;  ///< without preserve_mode: 0666/0777, not SRC's bits
  bool preserve_timestamps = true;
  bool preserve_links = true;
  bool one_file_system = false;
  symlink_mode dereference = symlink_mode::never;
  /// Mtimes at most this far apart are equal: modify_window, widened by DST's granularity
  /// (allow_granularity()) before any entry is decided.
  std::int64_t mtime_window_ns = 0;
  process_ids who;
  bool is_root() const noexcept { return who.euid == 0; }

  /// Whether symlinks met as entries are followed: with -L all are; with -H only SRC itself, the
  /// one entry met at the top (at_top).
  bool follows(bool at_top) const noexcept {
    return dereference == symlink_mode::always ||
           (at_top && dereference == symlink_mode::command_line);
  }
  /// Whether directories reached by following links are checked for cycles (-L).
  bool checks_cycles() const noexcept { return dereference == symlink_mode::always; }
};

/// The one place where checksum implies update and update implies merge.
policy normalize(const copy_options& options, const process_ids& who = {});

// ---- DST's time granularity ---------------------------------------------------------------------

/// What was learned of DST's file system before the copy: FAT (2 s), or the nanoseconds that an
/// mtime written there lost.
struct time_probe {
  bool fat = false;
  std::int64_t dropped_ns = 0;
};
/// Widens p.mtime_window_ns for DST's granularity (only with update and an existing DST).
void allow_granularity(policy& p, const time_probe& probe) noexcept;
/// A dry run may not write a probe: DST's own times without nanoseconds (mtime and ctime) are
/// taken as whole seconds. (The real run writes one; the answers can differ, see the report.)
std::int64_t guess_dropped_ns(const entry_facts& dst_root) noexcept;

// ---- one non-directory entry ------------------------------------------------------------------

/// The hard-link table's answer for a name of an inode with several names (link_table::claim).
enum class link_answer : std::uint8_t {
  none,     ///< not asked
  first,    ///< this name is copied first; later names wait for it
  wait,     ///< another name is being copied: queued, linked when it is done
  link_to,  ///< another name was copied: link to it
  copy,     ///< copying another name failed: copy this one on its own
};

/// What an I/O comparison found (same_link_target, same_content).
enum class compared : std::uint8_t { not_done, equal, differ };

/// What decide_entry() needs to be told before it can decide.
enum class need : std::uint8_t {
  nothing,
  link_claim,   ///< ask the hard-link table (src's dev and ino), then pass its answer
  link_target,  ///< compare the two symlinks' targets (both of length src.size)
  content,      ///< compare the two files' bytes (--checksum)
};

/// What to do with one non-directory source entry.
enum class action : std::uint8_t {
  ask,           ///< more facts needed first: see entry_decision::asks
  descend,       ///< a directory: it gets a task of its own (decide_dir_*)
  create,        ///< nothing in the way: create the entry (data, link, node)
  replace,       ///< unlink the non-directory in the way, then create
  replace_tree,  ///< remove the directory in the way (remove_tree), then create if it went
  keep,          ///< data equal: make the metadata equal only (fix_metadata); counted skipped
  skip,          ///< already the right hard link: nothing to do; counted skipped
  link,          ///< link to the first copy of its hard-link group (link_to)
  wait,          ///< queued behind the first name of its hard-link group: nothing now
  conflict,      ///< report error (destination side, operation create) and leave
};

/// What the engine knows of the entry besides the two stats.
struct entry_context {
  bool at_top = false;  ///< the entry is SRC itself (not a directory)
  /// SRC itself may share its inode with other pairs' entries (several pairs, one hard-link table):
  /// at_top then takes part in hard-link groups.
  bool top_links = false;
  link_answer link = link_answer::none;
  ino_t link_target_ino = 0;  ///< with link_to: the first copy's DST inode, 0 when unknown
  compared comparison = compared::not_done;
};

struct entry_decision {
  action what = action::create;
  need asks = need::nothing;  ///< with action::ask
  /// The first name of a hard-link group: once done (kept, created or failed), finish the group
  /// (link_table::finish, link_waiters) with the outcome.
  bool first_link = false;
  /// The creation asks the hard-link table (copy_regular/copy_symlink/copy_special's
  /// handle_links): decide_create() with its answer.
  bool claim_at_create = false;
  int error = 0;  ///< with conflict: the errno to report
};

/// The decision for a source entry (src: stat'ed as policy::follows() says) and what DST has of
/// that name (dst: lstat, nullptr when nothing). Without merge, DST is not looked at (pass
/// nullptr): the creation's EEXIST is the conflict. Call again with ctx filled in while the
/// answer is action::ask.
entry_decision decide_entry(const policy& p, const entry_facts& src, const entry_facts* dst,
                            const entry_context& ctx);

/// Whether DST's entry holds SRC's data (up_to_date()): need::link_target or need::content while
/// the comparison it needs was not done (comparison == not_done), else equal or differ.
compared compare_data(const policy& p, const entry_facts& src, const entry_facts& dst,
                      compared comparison, need* asks);

/// At creation, the hard-link table's answer (claim_at_create): create (first_link tells
/// whether others wait), link or wait.
entry_decision decide_create(link_answer answer);

/// A create that met EEXIST (create_replacing): replace (unlink what is there, then try once
/// more) or conflict. in_the_way: lstat of what is there, nullptr when it is gone meanwhile.
entry_decision decide_exists(const policy& p, const entry_facts* in_the_way, int attempt);

/// What a name that waited for the first copy of its hard-link group becomes (link_waiters):
/// group_ok: the first copy succeeded; first_dst_ino: its DST inode when remembered (update),
/// else 0; have: lstat of what DST has under the waiting name (nullptr when nothing or unknown).
/// skip, link, or create (copy it on its own, as copy_entry).
action decide_waiter(bool group_ok, ino_t first_dst_ino, const entry_facts* have);
/// Whether the first copy's DST inode is remembered for later names (update only).
bool remembers_first_inode(const policy& p, bool group_ok) noexcept;

/// --link-dest: whether a file may become a link to PREV's file instead of a copy. Only when the
/// copy would carry all of SRC's metadata (mode, owner, times, attributes): otherwise PREV's file,
/// equal to SRC's, is not what the copy would be.
bool links_previous(const copy_options& o) noexcept;

/// What a dry run can foresee will fail at creation (beyond what decide_entry() says): a device
/// without root. 0 when nothing. Only for entries decided create/replace/replace_tree.
int foresee_create(const policy& p, const entry_facts& src) noexcept;

// ---- metadata
// ------------------------------------------------------------------------------------

/// --update on an entry kept (keep_entry/fix_meta): which steps, in the order owner,
/// attributes, mode, times. The mode step depends on how the owner step went: fix_mode().
struct meta_fix {
  bool chown = false;          ///< fchownat(SRC's uid, gid)
  bool owner_differs = false;  ///< owner or group differ and are preserved
  bool sync_xattrs = false;    ///< compare and copy the attributes (SRC changed since DST was set)
  bool set_times = false;      ///< utimensat(SRC's atime, mtime)
};
meta_fix fix_metadata(const policy& p, const entry_facts& src, const entry_facts& dst) noexcept;

/// The mode step of fix_metadata: owner_ok says DST now has SRC's owner (not differing, or chown
/// done). Returns whether to chmod, and mode the mode to set.
bool fix_mode(const policy& p, const entry_facts& src, const entry_facts& dst, bool owner_ok,
              mode_t& mode) noexcept;

/// A failed chown is reported (true) or silent (false: not root, EPERM or EINVAL, as cp -a).
bool chown_failure_reported(const policy& p, int err) noexcept;

/// Attributes refused with EACCES on a DST entry without owner write permission: lend it
/// (chmod dst_mode | S_IWUSR) and try again, setting the mode afterwards.
bool lend_write_for_xattrs(const policy& p, int err, bool read_side, mode_t dst_mode) noexcept;

/// The mode a new entry is created with (before the umask): SRC's permission bits, or with
/// default_modes (and not preserve_mode) cp --no-preserve=mode's 0666 (0777 for directories and
/// sockets).
mode_t open_mode(const policy& p, const entry_facts& src) noexcept;
/// The mode a new entry gets from the umask.
mode_t created_mode(const policy& p, const entry_facts& src) noexcept;
/// The mode a new entry ends with: SRC's (set-id bits included), or created_mode() without
/// preserve_mode.
mode_t final_mode(const policy& p, const entry_facts& src) noexcept;
/// Whether a new entry needs chown (explicit: its directory makes modes and groups that the
/// umask does not predict, dir_node::always_chmod).
bool new_needs_chown(const policy& p, const entry_facts& src, bool explicit_modes) noexcept;
/// SRC's mode for an entry that could not get SRC's owner: no set-id bits (no sticky bit on a
/// regular file).
mode_t mode_without_owner(const entry_facts& src) noexcept;
/// Whether a new entry needs chmod(mode) after it was created.
bool new_needs_chmod(const policy& p, const entry_facts& src, mode_t mode,
                     bool explicit_modes) noexcept;

// ---- directories
// ---------------------------------------------------------------------------------

/// The source side of a directory to copy, once opened and fstat'ed.
enum class dir_source_action : std::uint8_t {
  descend,     ///< list it and copy its entries
  copy_empty,  ///< on another file system with one_file_system: copied empty, not listed
  refuse,      ///< reported (open_source, error) and not copied
};
struct dir_source_decision {
  dir_source_action what = dir_source_action::descend;
  std::error_code error;  ///< with refuse
};

/// The DSTs of the pairs of one run, each published by its pair once opened, read by the others
/// while they copy (several pairs run at once): a pair never copies, merges into or removes
/// another pair's DST, as it never does its own.
class dst_roots {
 public:
  explicit dst_roots(std::size_t pairs) : slots_(new slot[pairs]), count_(pairs) {}
  /// Pair pair's DST is id (before any of its entries is written).
  void publish(std::size_t pair, const identity& id) noexcept;
  /// Whether id is the DST of a pair other than pair (among those published so far).
  bool other_than(std::size_t pair, const identity& id) const noexcept;

 private:
  struct slot {
    std::atomic<dev_t> dev{0};
    std::atomic<ino_t> ino{0};  ///< 0 until published; stored last
  };
  std::unique_ptr<slot[]> slots_;
  std::size_t count_;
};

/// Identities that the copy must never copy into itself, merge into or remove.
struct guards {
  identity dst_root{};              ///< DST, once opened
  std::vector<identity> src_chain;  ///< SRC (or its parent) and its ancestors up to '/'
  /// With several pairs: every pair's DST, and this pair's index among them.
  const dst_roots* pair_dsts = nullptr;
  std::size_t pair = 0;
  bool holds_source(const identity& id) const noexcept;
  /// SRC, holds SRC, or is DST (this pair's or another's).
  bool protects(const identity& id) const noexcept {
    return id == dst_root || holds_source(id) || (pair_dsts && pair_dsts->other_than(pair, id));
  }
};

/// src: the opened source directory's fstat; root_dev: SRC's device; revisits_ancestor: a
/// directory being copied above it has its identity (looked at only with -L).
dir_source_decision decide_dir_source(const policy& p, const guards& g, const entry_facts& src,
                                      bool is_root, dev_t root_dev, bool revisits_ancestor);

/// What DST has where a directory goes.
enum class found : std::uint8_t { nothing, directory, other };

enum class dir_dest_action : std::uint8_t {
  create,      ///< mkdir
  merge_into,  ///< use the directory there (existed)
  replace,     ///< unlink the non-directory there, then mkdir (update)
  conflict,    ///< report error (create) and do not copy the directory
};
struct dir_dest_decision {
  dir_dest_action what = dir_dest_action::create;
  int error = 0;
};
dir_dest_decision decide_dir_dest(const policy& p, found there);

/// An existing DST directory (merged into), fstat'ed: refused (holds_source) when it is
/// protected, or for DST itself with --delete when it holds SRC. Empty code: go on.
std::error_code check_dir_dest(const policy& p, const guards& g, bool is_root,
                               const entry_facts& dst_dir);

/// Whether entries created in a directory get modes and groups the umask does not predict
/// (explicit chown/chmod): yes when its parent's do or it existed; probe: ask for a default ACL.
enum class explicit_modes : std::uint8_t { no, yes, probe_acl };
explicit_modes dir_explicit_modes(const policy& p, bool parent_explicit, bool existed) noexcept;

/// Whether DST's attributes that SRC's directory lacks are removed at finalization.
bool prunes_dir_xattrs(const policy& p, bool existed, bool xattrs_read) noexcept;

// ---- --delete ----------------------------------------------------------------------------------

/// Whether --delete looks at this DST directory (it existed before the copy).
bool deletes_in(const policy& p, bool existed) noexcept;

enum class extraneous_action : std::uint8_t {
  leave,   ///< SRC has it: not extraneous
  keep,    ///< excluded by the filters: neither copied nor deleted
  remove,  ///< remove it (remove_tree)
};
/// A name DST has in a directory that --delete looks at: in_source, SRC has it too; excluded,
/// the filters exclude it (with its path relative to SRC and its type).
extraneous_action decide_extraneous(bool in_source, bool excluded) noexcept;

/// A directory met while removing a tree, opened and fstat'ed: why it must not be entered
/// (holds_source, mount_point), or an empty code. mount_below: it is another mount.
std::error_code refuse_removal(const guards& g, const entry_facts& dir, bool mount_below) noexcept;

/// A directory whose entries were all handled while removing a tree.
enum class removal_end : std::uint8_t {
  failed,  ///< a failure below was reported: leave it
  kept,    ///< holds excluded entries: report holds_excluded, keep it
  remove,  ///< rmdir it (a dry run counts it)
};
removal_end finish_removal(bool failed_below, bool kept_below) noexcept;

}  // namespace treecopy::plan
