// Unit tests of the copy's decisions (src/plan/decide), part one: options normalized once, DST's
// time granularity, what happens to one entry under merge/update/checksum/modify_window (type
// changes, hard-link groups, link targets and contents asked for), -L/-H, and that a dry run
// decides the same. Metadata, directories and --delete: plan_meta_test.cpp.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>

#include "plan/decide.hpp"
#include "plan_test_support.hpp"

namespace {

using namespace treecopy::plan;
using namespace treecopy::plan::testing;
using treecopy::copy_options;
using treecopy::errc;
using treecopy::symlink_mode;

TEST(PlanFacts, FromStat) {
  struct stat st {};
  st.st_mode = S_IFLNK | 0777;
  st.st_uid = 7;
  st.st_gid = 8;
  st.st_size = 12;
  st.st_nlink = 3;
  st.st_dev = 4;
  st.st_ino = 5;
  st.st_rdev = 6;
  st.st_mtim = {10, 11};
  st.st_ctim = {12, 13};
  const entry_facts e = entry_facts::of(st);
  EXPECT_TRUE(e.is_link());
  EXPECT_FALSE(e.is_reg());
  EXPECT_EQ(e.type(), static_cast<mode_t>(S_IFLNK));
  EXPECT_EQ(e.uid, 7u);
  EXPECT_EQ(e.gid, 8u);
  EXPECT_EQ(e.size, 12);
  EXPECT_EQ(e.nlink, 3u);
  EXPECT_EQ(e.rdev, 6u);
  EXPECT_EQ(e.mtime.tv_nsec, 11);
  EXPECT_EQ(e.ctime.tv_sec, 12);
  EXPECT_EQ(e.id(), (identity{4, 5}));
  EXPECT_EQ(identity::of(st), e.id());
}

// ---- options normalized once ------------------------------------------------------------------

TEST(PlanPolicy, UpdateImpliesMergeAndChecksumImpliesUpdate) {
  EXPECT_FALSE(opts(false).merge);
  EXPECT_TRUE(merge_p().merge);
  EXPECT_FALSE(merge_p().update);
  EXPECT_TRUE(update_p().merge);
  EXPECT_TRUE(update_p().update);
  EXPECT_FALSE(update_p().checksum);
  const policy c = checksum_p();
  EXPECT_TRUE(c.merge);
  EXPECT_TRUE(c.update);
  EXPECT_TRUE(c.checksum);
}

TEST(PlanPolicy, CarriesTheOtherOptions) {
  copy_options o;
  o.delete_extraneous = true;
  o.dry_run = true;
  o.preserve_ownership = false;
  o.preserve_xattrs = false;
  o.one_file_system = true;
  o.dereference = symlink_mode::command_line;
  o.modify_window = std::chrono::seconds(2);
  const policy p = normalize(o, {5, 6, 077});
  EXPECT_TRUE(p.delete_extraneous);
  EXPECT_TRUE(p.dry_run);
  EXPECT_FALSE(p.preserve_ownership);
  EXPECT_FALSE(p.preserve_xattrs);
  EXPECT_TRUE(p.one_file_system);
  EXPECT_EQ(p.dereference, symlink_mode::command_line);
  EXPECT_EQ(p.mtime_window_ns, 2 * second);
  EXPECT_EQ(p.who.euid, 5u);
  EXPECT_EQ(p.who.egid, 6u);
  EXPECT_EQ(p.who.umask, 077);
  EXPECT_FALSE(p.is_root());
  EXPECT_TRUE(normalize(o, {0, 0, 022}).is_root());
}

// -L follows every link, -H only SRC itself (the entry at the top), -P none.
TEST(PlanPolicy, WhichStatDereferenceUses) {
  policy p = opts(false);
  EXPECT_FALSE(p.follows(false));
  EXPECT_FALSE(p.follows(true));
  EXPECT_FALSE(p.checks_cycles());
  p.dereference = symlink_mode::command_line;
  EXPECT_FALSE(p.follows(false));
  EXPECT_TRUE(p.follows(true));
  EXPECT_FALSE(p.checks_cycles());
  p.dereference = symlink_mode::always;
  EXPECT_TRUE(p.follows(false));
  EXPECT_TRUE(p.follows(true));
  EXPECT_TRUE(p.checks_cycles());
}

// ---- DST's time granularity -------------------------------------------------------------------

TEST(PlanGranularity, FatAllowsTwoSeconds) {
  policy p = update_p();
  allow_granularity(p, {true, 0});
  EXPECT_EQ(p.mtime_window_ns, 2 * second - 1);
}

TEST(PlanGranularity, DroppedNanosecondsWidenButNeverNarrow) {
  policy p = update_p();
  allow_granularity(p, {false, 0});
  EXPECT_EQ(p.mtime_window_ns, 0);
  allow_granularity(p, {false, second - 1});
  EXPECT_EQ(p.mtime_window_ns, second - 1);
  p.mtime_window_ns = 3 * second;  // --modify-window 3
  allow_granularity(p, {false, second - 1});
  EXPECT_EQ(p.mtime_window_ns, 3 * second);
  allow_granularity(p, {true, 0});
  EXPECT_EQ(p.mtime_window_ns, 3 * second);
}

TEST(PlanGranularity, DryRunGuessesFromWholeSecondTimes) {
  entry_facts root = dir();
  EXPECT_EQ(guess_dropped_ns(root), 0);
  root.mtime.tv_nsec = 0;
  EXPECT_EQ(guess_dropped_ns(root), 0);  // ctime still has nanoseconds
  root.ctime.tv_nsec = 0;
  EXPECT_EQ(guess_dropped_ns(root), second - 1);
}

// A file whose mtime DST stored without its nanoseconds is equal once the window allows them.
TEST(PlanGranularity, WindowMakesTruncatedMtimeEqual) {
  policy p = update_p();
  const entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.mtime.tv_nsec = 0;
  EXPECT_EQ(decide(p, src, &dst).what, action::replace);
  allow_granularity(p, {false, second - 1});
  EXPECT_EQ(decide(p, src, &dst).what, action::keep);
}

// ---- one entry: nothing there, or not merging -----------------------------------------------

TEST(PlanEntry, DirectoryDescendsWhateverDstHas) {
  const entry_facts f = file();
  for (const policy& p : {opts(false), merge_p(), update_p(), checksum_p()}) {
    EXPECT_EQ(decide(p, dir(), nullptr).what, action::descend);
    EXPECT_EQ(decide(p, dir(), &f).what, action::descend);
  }
}

TEST(PlanEntry, NothingThereIsCreated) {
  for (const policy& p : {opts(false), merge_p(), update_p(), checksum_p()}) {
    for (const entry_facts& src : {file(), link(), fifo(), chr(5)}) {
      const entry_decision d = decide(p, src, nullptr);
      EXPECT_EQ(d.what, action::create);
      EXPECT_FALSE(d.claim_at_create);
      EXPECT_FALSE(d.first_link);
    }
  }
}

TEST(PlanEntry, HardLinkedNameAsksTheTableAtCreation) {
  entry_facts src = file();
  src.nlink = 2;
  for (const policy& p : {opts(false), merge_p(), update_p()}) {
    EXPECT_TRUE(decide(p, src, nullptr).claim_at_create);
    entry_context top;
    top.at_top = true;  // SRC itself: no group of its own
    EXPECT_FALSE(decide(p, src, nullptr, top).claim_at_create);
  }
  entry_facts l = link();
  l.nlink = 3;
  EXPECT_TRUE(decide(opts(false), l, nullptr).claim_at_create);
}

TEST(PlanEntry, WithoutMergeAnExistingEntryIsAConflict) {
  const entry_facts src = file();
  const entry_facts dst = copy_of(src);
  const entry_decision d = decide(opts(false), src, &dst);
  EXPECT_EQ(d.what, action::conflict);
  EXPECT_EQ(d.error, EEXIST);
}

// ---- --merge ------------------------------------------------------------------------------------

TEST(PlanMerge, ReplacesNonDirectoriesEvenWhenEqual) {
  const entry_facts src = file();
  for (const entry_facts& dst : {copy_of(src), copy_of(link()), copy_of(fifo()), copy_of(file(99))})
    EXPECT_EQ(decide(merge_p(), src, &dst).what, action::replace);
  const entry_facts f = copy_of(file());
  EXPECT_EQ(decide(merge_p(), link(), &f).what, action::replace);
  EXPECT_EQ(decide(merge_p(), fifo(), &f).what, action::replace);
}

TEST(PlanMerge, RefusesToOverwriteADirectoryWithANonDirectory) {
  const entry_facts d = copy_of(dir());
  for (const entry_facts& src : {file(), link(), fifo()}) {
    const entry_decision r = decide(merge_p(), src, &d);
    EXPECT_EQ(r.what, action::conflict);
    EXPECT_EQ(r.error, EISDIR);
    EXPECT_FALSE(r.claim_at_create);
  }
}

TEST(PlanMerge, HardLinkedNameIsReplacedThenClaimed) {
  entry_facts src = file();
  src.nlink = 2;
  const entry_facts dst = copy_of(src);
  const entry_decision d = decide(merge_p(), src, &dst);
  EXPECT_EQ(d.what, action::replace);
  EXPECT_TRUE(d.claim_at_create);
  EXPECT_FALSE(d.first_link);
}

// ---- --update -----------------------------------------------------------------------------------

TEST(PlanUpdate, SameTypeSizeAndMtimeIsKept) {
  const entry_facts src = file();
  const entry_facts dst = copy_of(src);
  const entry_decision d = decide(update_p(), src, &dst);
  EXPECT_EQ(d.what, action::keep);
  EXPECT_FALSE(d.first_link);
}

TEST(PlanUpdate, SizeOrMtimeDifferenceReplaces) {
  const entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.size = 11;
  EXPECT_EQ(decide(update_p(), src, &dst).what, action::replace);
  dst = copy_of(src);
  dst.mtime.tv_nsec += 1;
  EXPECT_EQ(decide(update_p(), src, &dst).what, action::replace);
  dst = copy_of(src);
  dst.mtime.tv_sec -= 1;  // older or newer: both differ (not rsync's --update)
  EXPECT_EQ(decide(update_p(), src, &dst).what, action::replace);
}

TEST(PlanUpdate, ModifyWindowCountsNearMtimesEqual) {
  copy_options o;
  o.update = true;
  o.modify_window = std::chrono::seconds(1);
  const policy p = normalize(o);
  const entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.mtime.tv_sec += 1;  // exactly one second apart: equal
  EXPECT_EQ(decide(p, src, &dst).what, action::keep);
  dst.mtime.tv_nsec += 1;  // one nanosecond more
  EXPECT_EQ(decide(p, src, &dst).what, action::replace);
  dst = copy_of(src);
  dst.mtime.tv_sec -= 1;
  EXPECT_EQ(decide(p, src, &dst).what, action::keep);
}

TEST(PlanUpdate, ModifyWindowDoesNotMakeOtherSizesEqual) {
  copy_options o;
  o.update = true;
  o.modify_window = std::chrono::hours(1);
  const entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.size = 0;
  EXPECT_EQ(decide(normalize(o), src, &dst).what, action::replace);
}

TEST(PlanUpdate, TypeChangesAreReplaced) {
  // file <-> symlink <-> fifo: unlinked and created again.
  const entry_facts kinds[] = {file(0), link(0), fifo(), chr(0)};
  for (const entry_facts& src : kinds) {
    for (const entry_facts& there : kinds) {
      if (src.type() == there.type()) continue;
      const entry_facts dst = copy_of(there);
      const entry_decision d = decide(update_p(), src, &dst);
      EXPECT_EQ(d.what, action::replace) << std::oct << src.mode << " over " << there.mode;
    }
  }
}

TEST(PlanUpdate, DirectoryGivesWayToANonDirectory) {
  const entry_facts d = copy_of(dir());
  for (const entry_facts& src : {file(), link(), fifo()})
    EXPECT_EQ(decide(update_p(), src, &d).what, action::replace_tree);
}

TEST(PlanUpdate, DevicesCompareTheirNumbers) {
  const entry_facts src = chr(0x0103);
  entry_facts dst = copy_of(src);
  EXPECT_EQ(decide(update_p(), src, &dst).what, action::keep);
  dst.rdev = 0x0105;
  EXPECT_EQ(decide(update_p(), src, &dst).what, action::replace);
}

TEST(PlanUpdate, FifosCompareTheirMtimes) {
  const entry_facts src = fifo();
  entry_facts dst = copy_of(src);
  EXPECT_EQ(decide(update_p(), src, &dst).what, action::keep);
  dst.mtime.tv_sec += 5;
  EXPECT_EQ(decide(update_p(), src, &dst).what, action::replace);
}

// DST's inode has more names than SRC's: SRC broke a hard link that DST still has.
TEST(PlanUpdate, SharedDestinationInodeIsSplit) {
  entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.nlink = 2;
  EXPECT_EQ(decide(update_p(), src, &dst).what, action::replace);
  // SRC's count may be higher (names outside SRC, or excluded): still equal.
  src.nlink = 3;
  dst = copy_of(file());
  dst.nlink = 1;
  entry_context top;
  top.at_top = true;  // compared directly, without the table
  EXPECT_EQ(decide(update_p(), src, &dst, top).what, action::keep);
}

TEST(PlanUpdate, SymlinkTargetsAreAskedForThenMtimes) {
  const entry_facts src = link(6);
  entry_facts dst = copy_of(src);
  entry_decision d = decide(update_p(), src, &dst);
  EXPECT_EQ(d.what, action::ask);
  EXPECT_EQ(d.asks, need::link_target);
  entry_context ctx;
  ctx.comparison = compared::equal;
  EXPECT_EQ(decide(update_p(), src, &dst, ctx).what, action::keep);
  ctx.comparison = compared::differ;
  EXPECT_EQ(decide(update_p(), src, &dst, ctx).what, action::replace);
  ctx.comparison = compared::equal;
  dst.mtime.tv_sec += 1;  // same target, other mtime: the link is made again
  EXPECT_EQ(decide(update_p(), src, &dst, ctx).what, action::replace);
}

TEST(PlanUpdate, SymlinkOfUntoldOrLongLengthIsNotCompared) {
  for (off_t size : {off_t{0}, off_t{4097}}) {
    const entry_facts src = link(size);
    const entry_facts dst = copy_of(src);
    EXPECT_EQ(decide(update_p(), src, &dst).what, action::replace);
  }
  const entry_facts src = link(4096);
  const entry_facts dst = copy_of(src);
  EXPECT_EQ(decide(update_p(), src, &dst).asks, need::link_target);
}

TEST(PlanUpdate, CompareDataAsksOnlyWhatItNeeds) {
  need asks = need::link_target;
  const entry_facts src = file();
  const entry_facts dst = copy_of(src);
  EXPECT_EQ(compare_data(update_p(), src, dst, compared::not_done, &asks), compared::equal);
  EXPECT_EQ(asks, need::nothing);
  EXPECT_EQ(compare_data(checksum_p(), src, dst, compared::not_done, &asks), compared::not_done);
  EXPECT_EQ(asks, need::content);
  EXPECT_EQ(compare_data(checksum_p(), src, dst, compared::differ, &asks), compared::differ);
  EXPECT_EQ(asks, need::nothing);
}

// ---- --checksum ---------------------------------------------------------------------------------

TEST(PlanChecksum, ContentsDecideNotMtimes) {
  const entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.mtime.tv_sec += 100;
  entry_decision d = decide(checksum_p(), src, &dst);
  EXPECT_EQ(d.what, action::ask);
  EXPECT_EQ(d.asks, need::content);
  entry_context ctx;
  ctx.comparison = compared::equal;
  EXPECT_EQ(decide(checksum_p(), src, &dst, ctx).what, action::keep);
  ctx.comparison = compared::differ;
  dst = copy_of(src);  // same mtime, other bytes
  EXPECT_EQ(decide(checksum_p(), src, &dst, ctx).what, action::replace);
}

TEST(PlanChecksum, OtherSizeIsNotRead) {
  const entry_facts src = file();
  entry_facts dst = copy_of(src);
  dst.size = 3;
  EXPECT_EQ(decide(checksum_p(), src, &dst).what, action::replace);
}

TEST(PlanChecksum, SymlinksAndFifosStillCompareMtimes) {
  const entry_facts l = link(4);
  entry_facts ld = copy_of(l);
  EXPECT_EQ(decide(checksum_p(), l, &ld).asks, need::link_target);
  entry_context ctx;
  ctx.comparison = compared::equal;
  ld.mtime.tv_sec += 1;
  EXPECT_EQ(decide(checksum_p(), l, &ld, ctx).what, action::replace);
  const entry_facts f = fifo();
  entry_facts fd = copy_of(f);
  EXPECT_EQ(decide(checksum_p(), f, &fd).what, action::keep);
  fd.mtime.tv_sec += 1;
  EXPECT_EQ(decide(checksum_p(), f, &fd).what, action::replace);
}

// ---- hard-link groups under --update ------------------------------------------------------------

entry_facts linked_file() {
  entry_facts e = file();
  e.nlink = 2;
  return e;
}
entry_context answer(link_answer a, ino_t target = 0) {
  entry_context c;
  c.link = a;
  c.link_target_ino = target;
  return c;
}

TEST(PlanHardLinks, UpdateAsksTheTableBeforeComparing) {
  const entry_facts src = linked_file();
  entry_facts dst = copy_of(src);
  dst.nlink = 2;
  const entry_decision d = decide(update_p(), src, &dst);
  EXPECT_EQ(d.what, action::ask);
  EXPECT_EQ(d.asks, need::link_claim);
}

TEST(PlanHardLinks, FirstNameEqualIsKeptAndFinishesTheGroup) {
  const entry_facts src = linked_file();
  entry_facts dst = copy_of(src);
  dst.nlink = 2;
  const entry_decision d = decide(update_p(), src, &dst, answer(link_answer::first));
  EXPECT_EQ(d.what, action::keep);
  EXPECT_TRUE(d.first_link);
}

TEST(PlanHardLinks, FirstNameDifferentIsReplacedWithoutClaimingAgain) {
  const entry_facts src = linked_file();
  entry_facts dst = copy_of(src);
  dst.size = 1;
  entry_decision d = decide(update_p(), src, &dst, answer(link_answer::first));
  EXPECT_EQ(d.what, action::replace);
  EXPECT_TRUE(d.first_link);
  EXPECT_FALSE(d.claim_at_create);
  const entry_facts dd = copy_of(dir());
  d = decide(update_p(), src, &dd, answer(link_answer::first));
  EXPECT_EQ(d.what, action::replace_tree);
  EXPECT_TRUE(d.first_link);
}

TEST(PlanHardLinks, FirstNameWithChecksumAsksForContentAndStaysFirst) {
  const entry_facts src = linked_file();
  const entry_facts dst = copy_of(src);
  entry_context ctx = answer(link_answer::first);
  entry_decision d = decide(checksum_p(), src, &dst, ctx);
  EXPECT_EQ(d.what, action::ask);
  EXPECT_EQ(d.asks, need::content);
  EXPECT_TRUE(d.first_link);
  ctx.comparison = compared::equal;
  d = decide(checksum_p(), src, &dst, ctx);
  EXPECT_EQ(d.what, action::keep);
  EXPECT_TRUE(d.first_link);
}

TEST(PlanHardLinks, LaterNamesWaitOrLink) {
  const entry_facts src = linked_file();
  const entry_facts dst = copy_of(src, 300);
  EXPECT_EQ(decide(update_p(), src, &dst, answer(link_answer::wait)).what, action::wait);
  // Already a name of the first copy's inode: nothing to do.
  EXPECT_EQ(decide(update_p(), src, &dst, answer(link_answer::link_to, 300)).what, action::skip);
  // Another inode, or the first copy's inode unknown: linked (replacing what is there).
  EXPECT_EQ(decide(update_p(), src, &dst, answer(link_answer::link_to, 301)).what, action::link);
  EXPECT_EQ(decide(update_p(), src, &dst, answer(link_answer::link_to, 0)).what, action::link);
  // Even where DST has a directory: the link's creation meets it (decide_exists: EISDIR).
  const entry_facts dd = copy_of(dir());
  EXPECT_EQ(decide(update_p(), src, &dd, answer(link_answer::link_to, 300)).what, action::link);
}

TEST(PlanHardLinks, FailedGroupCopiesEachNameOnItsOwn) {
  const entry_facts src = linked_file();
  const entry_facts dst = copy_of(src);  // equal, but not compared: the group failed
  const entry_decision d = decide(update_p(), src, &dst, answer(link_answer::copy));
  EXPECT_EQ(d.what, action::replace);
  EXPECT_FALSE(d.first_link);
  EXPECT_TRUE(d.claim_at_create);
}

// A symlink (or FIFO...) with several names asks the table first, as a file does: a kept first
// name is the inode the later names link to, a missing one among them included.
TEST(PlanHardLinks, OtherKindsAskTheTableFirstAsFilesDo) {
  entry_facts src = link(5);
  src.nlink = 2;
  entry_facts dst = copy_of(src);
  entry_context ctx;
  entry_decision d = decide(update_p(), src, &dst, ctx);
  EXPECT_EQ(d.what, action::ask);
  EXPECT_EQ(d.asks, need::link_claim);
  ctx = answer(link_answer::first);
  ctx.comparison = compared::equal;
  d = decide(update_p(), src, &dst, ctx);
  EXPECT_EQ(d.what, action::keep);
  EXPECT_TRUE(d.first_link);
  ctx.comparison = compared::differ;
  d = decide(update_p(), src, &dst, ctx);
  EXPECT_EQ(d.what, action::replace);
  EXPECT_TRUE(d.first_link);
  EXPECT_FALSE(d.claim_at_create);
  EXPECT_EQ(decide(update_p(), src, &dst, answer(link_answer::link_to, 301)).what, action::link);
}

TEST(PlanHardLinks, WithoutDestinationTheTableIsAskedAtCreation) {
  const entry_facts src = linked_file();
  const entry_decision d = decide(update_p(), src, nullptr);
  EXPECT_EQ(d.what, action::create);
  EXPECT_TRUE(d.claim_at_create);
}

TEST(PlanHardLinks, AnswersAtCreation) {
  entry_decision d = decide_create(link_answer::first);
  EXPECT_EQ(d.what, action::create);
  EXPECT_TRUE(d.first_link);
  EXPECT_EQ(decide_create(link_answer::wait).what, action::wait);
  EXPECT_EQ(decide_create(link_answer::link_to).what, action::link);
  d = decide_create(link_answer::copy);
  EXPECT_EQ(d.what, action::create);
  EXPECT_FALSE(d.first_link);
  EXPECT_EQ(decide_create(link_answer::none).what, action::create);
}

TEST(PlanHardLinks, Waiters) {
  const entry_facts same = copy_of(file(), 300);
  const entry_facts other = copy_of(file(), 301);
  EXPECT_EQ(decide_waiter(true, 300, &same), action::skip);
  EXPECT_EQ(decide_waiter(true, 300, &other), action::link);
  EXPECT_EQ(decide_waiter(true, 300, nullptr), action::link);
  EXPECT_EQ(decide_waiter(true, 0, &same), action::link);  // not remembered (no --update)
  EXPECT_EQ(decide_waiter(false, 300, &same), action::create);
  EXPECT_TRUE(remembers_first_inode(update_p(), true));
  EXPECT_FALSE(remembers_first_inode(update_p(), false));
  EXPECT_FALSE(remembers_first_inode(merge_p(), true));
}

// ---- creation meets an entry (create_replacing)
// --------------------------------------------------

TEST(PlanExists, MergeReplacesOnceAndNeverADirectory) {
  const entry_facts f = copy_of(file());
  const entry_facts d = copy_of(dir());
  entry_decision r = decide_exists(opts(false), &f, 0);
  EXPECT_EQ(r.what, action::conflict);
  EXPECT_EQ(r.error, EEXIST);
  EXPECT_EQ(decide_exists(merge_p(), &f, 0).what, action::replace);
  EXPECT_EQ(decide_exists(merge_p(), nullptr, 0).what, action::replace);  // gone meanwhile
  r = decide_exists(merge_p(), &d, 0);
  EXPECT_EQ(r.what, action::conflict);
  EXPECT_EQ(r.error, EISDIR);
  r = decide_exists(update_p(), &d, 0);  // also with --update: only merge_entry removes trees
  EXPECT_EQ(r.error, EISDIR);
  r = decide_exists(merge_p(), &f, 1);  // there again after the unlink
  EXPECT_EQ(r.what, action::conflict);
  EXPECT_EQ(r.error, EEXIST);
}

// ---- the dry run decides as the real run
// ----------------------------------------------------------

TEST(PlanDryRun, SameDecisionsAsTheRealRun) {
  const entry_facts srcs[] = {file(), linked_file(), link(6), fifo(), chr(3), dir()};
  const entry_facts dd = copy_of(dir());
  for (bool merge : {false, true}) {
    for (bool update : {false, true}) {
      for (bool checksum : {false, true}) {
        policy real = opts(merge, update, checksum);
        policy dry = real;
        dry.dry_run = true;
        for (const entry_facts& src : srcs) {
          const entry_facts same = copy_of(src);
          for (const entry_facts* dst : {static_cast<const entry_facts*>(nullptr), &same, &dd}) {
            for (link_answer a : {link_answer::none, link_answer::first, link_answer::link_to}) {
              for (compared c : {compared::not_done, compared::equal, compared::differ}) {
                entry_context ctx = answer(a, 200);
                ctx.comparison = c;
                const entry_decision r = decide(real, src, dst, ctx),
                                     d = decide(dry, src, dst, ctx);
                EXPECT_EQ(r.what, d.what);
                EXPECT_EQ(r.asks, d.asks);
                EXPECT_EQ(r.first_link, d.first_link);
                EXPECT_EQ(r.claim_at_create, d.claim_at_create);
                EXPECT_EQ(r.error, d.error);
              }
            }
          }
        }
      }
    }
  }
}

// What only a dry run checks beforehand, because it creates nothing: a device without root.
TEST(PlanDryRun, ForeseesDevicesWithoutRoot) {
  EXPECT_EQ(foresee_create(opts(false), chr(1)), EPERM);
  EXPECT_EQ(foresee_create(normalize(copy_options{}, {0, 0, 022}), chr(1)), 0);
  EXPECT_EQ(foresee_create(opts(false), file()), 0);
  EXPECT_EQ(foresee_create(opts(false), fifo()), 0);
}

}  // namespace
