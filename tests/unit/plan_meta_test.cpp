// Unit tests of the copy's decisions (src/plan/decide), part two: the metadata an --update fixes
// on a kept entry and a new entry gets, directories (protected ones: DST and SRC's ancestors; one
// file system; what DST has where a directory goes), and --delete (filters, refusals).
#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "plan/decide.hpp"
#include "plan_test_support.hpp"

namespace {

using namespace treecopy::plan;
using namespace treecopy::plan::testing;
using treecopy::copy_options;
using treecopy::errc;
using treecopy::symlink_mode;

// ---- metadata of a kept entry (--update)
// ---------------------------------------------------------

TEST(PlanMeta, EqualEntryNeedsNoCallButTheAttributeCompare) {
  const entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.ctime.tv_sec += 10;  // DST set after SRC last changed
  meta_fix f = fix_metadata(update_p(), src, dst);
  EXPECT_FALSE(f.chown);
  EXPECT_FALSE(f.owner_differs);
  EXPECT_FALSE(f.sync_xattrs);
  EXPECT_FALSE(f.set_times);
  mode_t mode = 0;
  EXPECT_FALSE(fix_mode(update_p(), src, dst, true, mode));
  EXPECT_EQ(mode, 0644u);
}

TEST(PlanMeta, AttributesComparedWhenSourceChangedSinceOrSameTick) {
  const entry_facts src = file();
  entry_facts dst = copy_of(src);  // equal ctimes: one clock tick
  meta_fix f = fix_metadata(update_p(), src, dst);
  EXPECT_TRUE(f.sync_xattrs);
  EXPECT_FALSE(f.set_times);  // not for equal ctimes: a fresh copy has them
  dst.ctime.tv_sec -= 1;      // SRC changed after DST was set: times too, to move DST's ctime on
  f = fix_metadata(update_p(), src, dst);
  EXPECT_TRUE(f.sync_xattrs);
  EXPECT_TRUE(f.set_times);
  copy_options o;
  o.update = true;
  o.preserve_xattrs = false;
  f = fix_metadata(normalize(o), src, dst);
  EXPECT_FALSE(f.sync_xattrs);
  EXPECT_FALSE(f.set_times);
}

TEST(PlanMeta, TimesWhenMtimesDifferBeyondTheWindow) {
  const entry_facts src = fifo();
  entry_facts dst = copy_of(src);
  dst.ctime.tv_sec += 1;
  dst.mtime.tv_nsec = 0;
  policy p = update_p();
  EXPECT_TRUE(fix_metadata(p, src, dst).set_times);
  allow_granularity(p, {false, second - 1});
  EXPECT_FALSE(fix_metadata(p, src, dst).set_times);
}

TEST(PlanMeta, ModeDifferenceIsSet) {
  const entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.mode = S_IFREG | 0600;
  mode_t mode = 0;
  EXPECT_TRUE(fix_mode(update_p(), src, dst, true, mode));
  EXPECT_EQ(mode, 0644u);
}

TEST(PlanMeta, SymlinksNeverGetAMode) {
  const entry_facts src = link();
  entry_facts dst = copy_of(src);
  dst.mode = S_IFLNK | 0777;
  dst.uid = 0;
  mode_t mode = 0;
  EXPECT_FALSE(fix_mode(update_p(), src, dst, true, mode));
}

TEST(PlanMeta, OwnerChangedByRootOrForOnesOwnFiles) {
  const entry_facts src = file();  // uid 1000
  entry_facts dst = copy_of(src);
  dst.gid = 1001;
  EXPECT_TRUE(fix_metadata(update_p(), src, dst).chown);  // euid 1000: own file, other group
  copy_options o;
  o.update = true;
  EXPECT_TRUE(fix_metadata(normalize(o, {0, 0, 022}), src, dst).chown);
  const meta_fix f = fix_metadata(normalize(o, {2000, 2000, 022}), src, dst);
  EXPECT_FALSE(f.chown);  // another user's file: not permitted, not tried
  EXPECT_TRUE(f.owner_differs);
}

TEST(PlanMeta, ChownMakesTheModeSetAgain) {
  entry_facts src = file();
  src.mode = S_IFREG | 04755;
  entry_facts dst = copy_of(src);
  dst.uid = 0;
  mode_t mode = 0;
  EXPECT_TRUE(fix_mode(update_p(), src, dst, true, mode));  // chown() may clear set-id bits
  EXPECT_EQ(mode, 04755u);
}

TEST(PlanMeta, WithoutSourcesOwnerSetIdBitsGo) {
  entry_facts src = file();
  src.mode = S_IFREG | 07755;
  entry_facts dst = copy_of(src);
  dst.uid = 0;
  dst.mode = S_IFREG | 0755;
  mode_t mode = 0;
  EXPECT_FALSE(fix_mode(update_p(), src, dst, false, mode));
  EXPECT_EQ(mode, 0755u);  // set-id and sticky bits off a regular file
  entry_facts d = dir();
  d.mode = S_IFDIR | 07755;
  entry_facts dd = copy_of(d);
  dd.uid = 0;
  dd.mode = S_IFDIR | 0755;
  EXPECT_TRUE(fix_mode(update_p(), d, dd, false, mode));
  EXPECT_EQ(mode, 01755u);  // a directory keeps its sticky bit
}

// Without preserve_ownership the owners are not compared, yet differing owners still count as
// "chowned" and set the mode once more: one redundant chmod, kept as the engine does it.
TEST(PlanMeta, OwnershipNotPreservedStillSetsTheModeWhenOwnersDiffer) {
  copy_options o;
  o.update = true;
  o.preserve_ownership = false;
  const policy p = normalize(o, {1000, 1000, 022});
  const entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.uid = 0;
  const meta_fix f = fix_metadata(p, src, dst);
  EXPECT_FALSE(f.chown);
  EXPECT_FALSE(f.owner_differs);
  mode_t mode = 0;
  EXPECT_TRUE(fix_mode(p, src, dst, true, mode));
  EXPECT_EQ(mode, 0644u);
}

TEST(PlanMeta, ChownFailuresSilentOnlyForUnprivilegedRefusals) {
  const policy user = update_p();
  EXPECT_FALSE(chown_failure_reported(user, EPERM));
  EXPECT_FALSE(chown_failure_reported(user, EINVAL));
  EXPECT_TRUE(chown_failure_reported(user, EIO));
  const policy root = normalize(copy_options{}, {0, 0, 022});
  EXPECT_TRUE(chown_failure_reported(root, EPERM));
}

TEST(PlanMeta, WritePermissionLentForUserAttributes) {
  const policy user = update_p();
  EXPECT_TRUE(lend_write_for_xattrs(user, EACCES, false, S_IFREG | 0444));
  EXPECT_FALSE(lend_write_for_xattrs(user, EACCES, false, S_IFREG | 0644));  // has it
  EXPECT_FALSE(lend_write_for_xattrs(user, EACCES, true, S_IFREG | 0444));   // reading SRC failed
  EXPECT_FALSE(lend_write_for_xattrs(user, EPERM, false, S_IFREG | 0444));
  EXPECT_FALSE(lend_write_for_xattrs(user, EACCES, false, S_IFLNK | 0444));
  EXPECT_FALSE(lend_write_for_xattrs(normalize(copy_options{}, {0, 0, 022}), EACCES, false, 0444));
}

// ---- metadata of a new entry
// ---------------------------------------------------------------------

TEST(PlanNewMeta, CreatedModeFollowsTheUmask) {
  entry_facts src = file();
  src.mode = S_IFREG | 04777;
  EXPECT_EQ(created_mode(opts(false), src), 0755u);  // umask 022, no set-id from creation
  const policy unknown = normalize(copy_options{}, {1000, 1000, -1});
  EXPECT_EQ(created_mode(unknown, src), 0777u);
}

TEST(PlanNewMeta, ChownOnlyWhereTheCreatorsIdsDiffer) {
  const policy p = opts(false);  // euid 1000, egid 1000
  entry_facts src = file();
  EXPECT_FALSE(new_needs_chown(p, src, false));
  EXPECT_TRUE(new_needs_chown(p, src, true));  // set-group-ID parent, default ACL, existing dir
  src.gid = 5;
  EXPECT_TRUE(new_needs_chown(p, src, false));
  copy_options o;
  o.preserve_ownership = false;
  EXPECT_FALSE(new_needs_chown(normalize(o, {1000, 1000, 022}), src, true));
}

TEST(PlanNewMeta, ChmodOnlyWhereCreationDidNotGiveTheMode) {
  const policy p = opts(false);
  entry_facts src = file();
  EXPECT_FALSE(new_needs_chmod(p, src, 0644, false));
  EXPECT_TRUE(new_needs_chmod(p, src, 0644, true));
  src.mode = S_IFREG | 0666;  // the umask took group and other write
  EXPECT_TRUE(new_needs_chmod(p, src, 0666, false));
  EXPECT_TRUE(new_needs_chmod(p, dir(), 0644, false));  // created u+rwx only
  EXPECT_FALSE(new_needs_chmod(p, link(), 0777, true));
  EXPECT_EQ(mode_without_owner(fifo()), 0644u);
}

// ---- what is not preserved (--preserve, --no-preserve)
// -------------------------------------------

policy without(void (*drop)(copy_options&), bool update = false) {
  copy_options o;
  o.update = update;
  drop(o);
  return normalize(o, {1000, 1000, 022});
}

TEST(PlanPreserve, ModesNotPreservedNeedNoChmod) {
  entry_facts src = file();
  src.mode = S_IFREG | 04751;
  // Left out of --preserve=LIST: SRC's bits less the umask, no set-id bits (cp -R).
  const policy p = without([](copy_options& o) { o.preserve_mode = false; });
  EXPECT_EQ(open_mode(p, src), 0751u);
  EXPECT_EQ(final_mode(p, src), 0751u);
  EXPECT_FALSE(new_needs_chmod(p, src, final_mode(p, src), false));
  // Dropped by name: 0666, 0777 for directories and sockets, less the umask (cp
  // --no-preserve=mode).
  const policy d = without([](copy_options& o) {
    o.preserve_mode = false;
    o.default_modes = true;
  });
  EXPECT_EQ(open_mode(d, src), 0666u);
  EXPECT_EQ(final_mode(d, src), 0644u);
  EXPECT_FALSE(new_needs_chmod(d, src, final_mode(d, src), false));
  EXPECT_EQ(final_mode(d, dir()), 0755u);
  EXPECT_EQ(final_mode(d, make(S_IFSOCK, 0)), 0755u);
  EXPECT_EQ(final_mode(d, fifo()), 0644u);
  // default_modes means nothing while modes are preserved.
  copy_options o;
  o.default_modes = true;
  EXPECT_EQ(final_mode(normalize(o, {1000, 1000, 022}), src), 04751u);
}

TEST(PlanPreserve, KeptEntryGetsNoModeNorTimesThatAreNotPreserved) {
  const entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.mode = S_IFREG | 0600;
  dst.mtime.tv_sec += 5;
  dst.ctime.tv_sec -= 1;
  const policy p = without(
      [](copy_options& o) {
        o.preserve_mode = false;
        o.preserve_timestamps = false;
      },
      true);
  mode_t mode = 0;
  EXPECT_FALSE(fix_mode(p, src, dst, true, mode));
  EXPECT_FALSE(fix_metadata(p, src, dst).set_times);
  EXPECT_TRUE(fix_metadata(p, src, dst).sync_xattrs);
}

TEST(PlanPreserve, UpdateWithoutTimesTakesACopyNotOlderThanSource) {
  const policy p = without([](copy_options& o) { o.preserve_timestamps = false; }, true);
  const entry_facts src = file(10, 1000);
  entry_facts dst = copy_of(src);
  dst.mtime.tv_sec = 2000;  // copied after SRC was last written
  EXPECT_EQ(compare_data(p, src, dst, compared::not_done, nullptr), compared::equal);
  EXPECT_EQ(decide(p, src, &dst).what, action::keep);
  dst.mtime = src.mtime;
  EXPECT_EQ(compare_data(p, src, dst, compared::not_done, nullptr), compared::equal);
  dst.mtime.tv_nsec -= 1;  // SRC written after the copy
  EXPECT_EQ(compare_data(p, src, dst, compared::not_done, nullptr), compared::differ);
  dst.mtime.tv_sec = 2000;
  dst.size = 11;
  EXPECT_EQ(compare_data(p, src, dst, compared::not_done, nullptr), compared::differ);
  // With times preserved the same DST is not SRC's copy.
  dst.size = 10;
  EXPECT_EQ(compare_data(update_p(), src, dst, compared::not_done, nullptr), compared::differ);
}

TEST(PlanPreserve, LinksNotPreservedAskNoLinkTable) {
  const policy p = without([](copy_options& o) { o.preserve_links = false; });
  entry_facts src = file();
  src.nlink = 3;
  EXPECT_FALSE(decide(p, src, nullptr).claim_at_create);
  EXPECT_TRUE(decide(opts(false), src, nullptr).claim_at_create);
  const policy u = without([](copy_options& o) { o.preserve_links = false; }, true);
  entry_facts dst = copy_of(src);
  EXPECT_EQ(decide(u, src, &dst).what, action::keep);  // no claim, compared on its own
  dst.nlink = 2;                                       // DST still shares the inode: split
  EXPECT_EQ(decide(u, src, &dst).what, action::replace);
}

// ---- directories
// ---------------------------------------------------------------------------------

guards guards_for(identity dst_root, std::vector<identity> chain) {
  guards g;
  g.dst_root = dst_root;
  g.src_chain = std::move(chain);
  return g;
}

TEST(PlanDirs, OrdinaryDirectoryIsDescended) {
  const guards g = guards_for({9, 1}, {{1, 2}, {1, 1}});
  const dir_source_decision d = decide_dir_source(opts(false), g, dir(), false, 1, false);
  EXPECT_EQ(d.what, dir_source_action::descend);
  EXPECT_FALSE(d.error);
}

TEST(PlanDirs, SourceDstAndSourceAncestorsAreNeverCopiedIntoThemselves) {
  const guards g = guards_for({9, 1}, {{1, 2}, {1, 1}});
  for (identity id : {identity{9, 1}, identity{1, 2}, identity{1, 1}}) {
    entry_facts src = dir();
    src.dev = id.dev;
    src.ino = id.ino;
    const dir_source_decision d = decide_dir_source(update_p(), g, src, false, 1, false);
    EXPECT_EQ(d.what, dir_source_action::refuse);
    EXPECT_EQ(d.error, make_error_code(errc::into_itself));
    // SRC itself, the root of the copy, is copied.
    EXPECT_EQ(decide_dir_source(update_p(), g, src, true, 1, false).what,
              dir_source_action::descend);
  }
}

TEST(PlanDirs, CyclesAreRefusedOnlyWhenFollowingLinks) {
  const guards g;
  policy p = opts(false);
  EXPECT_EQ(decide_dir_source(p, g, dir(), false, 1, true).what, dir_source_action::descend);
  p.dereference = symlink_mode::command_line;
  EXPECT_EQ(decide_dir_source(p, g, dir(), false, 1, true).what, dir_source_action::descend);
  p.dereference = symlink_mode::always;
  const dir_source_decision d = decide_dir_source(p, g, dir(), false, 1, true);
  EXPECT_EQ(d.what, dir_source_action::refuse);
  EXPECT_EQ(d.error, make_error_code(errc::directory_cycle));
}

TEST(PlanDirs, OtherFileSystemIsCopiedEmptyWithOneFileSystem) {
  const guards g;
  copy_options o;
  o.one_file_system = true;
  const policy p = normalize(o);
  entry_facts src = dir();
  src.dev = 7;
  EXPECT_EQ(decide_dir_source(p, g, src, false, 1, false).what, dir_source_action::copy_empty);
  EXPECT_EQ(decide_dir_source(p, g, src, true, 1, false).what, dir_source_action::descend);
  EXPECT_EQ(decide_dir_source(opts(false), g, src, false, 1, false).what,
            dir_source_action::descend);
  src.dev = 1;
  EXPECT_EQ(decide_dir_source(p, g, src, false, 1, false).what, dir_source_action::descend);
}

TEST(PlanDirs, WhatDstHasDecidesCreateMergeOrReplace) {
  for (const policy& p : {opts(false), merge_p(), update_p()})
    EXPECT_EQ(decide_dir_dest(p, found::nothing).what, dir_dest_action::create);
  dir_dest_decision d = decide_dir_dest(opts(false), found::directory);
  EXPECT_EQ(d.what, dir_dest_action::conflict);
  EXPECT_EQ(d.error, EEXIST);
  EXPECT_EQ(decide_dir_dest(merge_p(), found::directory).what, dir_dest_action::merge_into);
  EXPECT_EQ(decide_dir_dest(update_p(), found::directory).what, dir_dest_action::merge_into);
  d = decide_dir_dest(opts(false), found::other);
  EXPECT_EQ(d.what, dir_dest_action::conflict);
  EXPECT_EQ(d.error, EEXIST);
  d = decide_dir_dest(merge_p(), found::other);  // a file, or a symlink (even to a directory)
  EXPECT_EQ(d.what, dir_dest_action::conflict);
  EXPECT_EQ(d.error, ENOTDIR);
  EXPECT_EQ(decide_dir_dest(update_p(), found::other).what, dir_dest_action::replace);
  EXPECT_EQ(decide_dir_dest(checksum_p(), found::other).what, dir_dest_action::replace);
}

TEST(PlanDirs, ExistingDestinationDirectoriesThatHoldSourceAreRefused) {
  const guards g = guards_for({9, 1}, {{1, 2}, {1, 1}});
  entry_facts d = dir();
  d.dev = 1;
  d.ino = 1;  // an ancestor of SRC, bind-mounted inside DST
  EXPECT_EQ(check_dir_dest(merge_p(), g, false, d), make_error_code(errc::holds_source));
  d.dev = 9;  // DST itself met again inside DST
  EXPECT_EQ(check_dir_dest(merge_p(), g, false, d), make_error_code(errc::holds_source));
  d.dev = 3;
  EXPECT_FALSE(check_dir_dest(merge_p(), g, false, d));
}

TEST(PlanDirs, DestinationRootIsRefusedOnlyForDeleteWhenItHoldsSource) {
  guards g = guards_for({1, 1}, {{1, 2}, {1, 1}});
  entry_facts root = dir();
  root.dev = 1;
  root.ino = 1;
  EXPECT_FALSE(check_dir_dest(update_p(), g, true, root));
  copy_options o;
  o.update = true;
  o.delete_extraneous = true;
  EXPECT_EQ(check_dir_dest(normalize(o), g, true, root), make_error_code(errc::holds_source));
  root.ino = 5;
  g.dst_root = {1, 5};
  EXPECT_FALSE(check_dir_dest(normalize(o), g, true, root));
}

TEST(PlanDirs, ExplicitModesInExistingDirectories) {
  EXPECT_EQ(dir_explicit_modes(opts(false), true, false), explicit_modes::yes);
  EXPECT_EQ(dir_explicit_modes(merge_p(), false, true), explicit_modes::yes);
  EXPECT_EQ(dir_explicit_modes(merge_p(), false, false), explicit_modes::probe_acl);
  EXPECT_EQ(dir_explicit_modes(opts(false), false, false), explicit_modes::no);
}

TEST(PlanDirs, UpdatePrunesAttributesOfExistingDirectories) {
  EXPECT_TRUE(prunes_dir_xattrs(update_p(), true, true));
  EXPECT_FALSE(prunes_dir_xattrs(update_p(), false, true));
  EXPECT_FALSE(prunes_dir_xattrs(update_p(), true, false));  // not all of SRC's were read
  EXPECT_FALSE(prunes_dir_xattrs(merge_p(), true, true));
}

// ---- --delete ----------------------------------------------------------------------------------

TEST(PlanDelete, OnlyInDirectoriesThatExisted) {
  copy_options o;
  o.update = true;
  o.delete_extraneous = true;
  EXPECT_TRUE(deletes_in(normalize(o), true));
  EXPECT_FALSE(deletes_in(normalize(o), false));
  EXPECT_FALSE(deletes_in(update_p(), true));
}

TEST(PlanDelete, ExcludedNamesAreKept) {
  EXPECT_EQ(decide_extraneous(true, false), extraneous_action::leave);
  EXPECT_EQ(decide_extraneous(true, true), extraneous_action::leave);
  EXPECT_EQ(decide_extraneous(false, true), extraneous_action::keep);
  EXPECT_EQ(decide_extraneous(false, false), extraneous_action::remove);
}

TEST(PlanDelete, RemovalNeverEntersProtectedDirectoriesOrMounts) {
  const guards g = guards_for({9, 1}, {{1, 2}, {1, 1}});
  entry_facts d = dir();
  d.dev = 1;
  d.ino = 2;  // SRC itself
  EXPECT_EQ(refuse_removal(g, d, false), make_error_code(errc::holds_source));
  EXPECT_EQ(refuse_removal(g, d, true), make_error_code(errc::holds_source));
  d.dev = 9;
  d.ino = 1;  // DST
  EXPECT_EQ(refuse_removal(g, d, false), make_error_code(errc::holds_source));
  d.dev = 4;
  EXPECT_EQ(refuse_removal(g, d, true), make_error_code(errc::mount_point));
  EXPECT_FALSE(refuse_removal(g, d, false));
}

TEST(PlanDelete, DirectoryWithExcludedEntriesIsKept) {
  EXPECT_EQ(finish_removal(false, false), removal_end::remove);
  EXPECT_EQ(finish_removal(false, true), removal_end::kept);
  EXPECT_EQ(finish_removal(true, true), removal_end::failed);
  EXPECT_EQ(finish_removal(true, false), removal_end::failed);
}

}  // namespace
