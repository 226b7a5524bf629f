// Helpers of the plan's unit tests (plan_test.cpp, plan_meta_test.cpp): entry facts of each kind,
// normalized policies for merge/update/checksum, and one call of decide_entry().
#pragma once

#include <sys/stat.h>

#include <cstdint>

#include "plan/decide.hpp"

namespace treecopy::plan::testing {

inline constexpr std::int64_t second = 1'000'000'000;

inline entry_facts make(mode_t type, off_t size = 10, time_t mtime = 1000) {
  entry_facts e;
  e.mode = type | 0644;
  e.size = size;
  e.uid = 1000;
  e.gid = 1000;
  e.nlink = 1;
  e.dev = 1;
  e.ino = 100;
  e.mtime = {mtime, 500};
  e.ctime = {mtime, 500};
  return e;
}
inline entry_facts file(off_t size = 10, time_t mtime = 1000) { return make(S_IFREG, size, mtime); }
inline entry_facts dir() { return make(S_IFDIR, 4096); }
inline entry_facts link(off_t size = 6) { return make(S_IFLNK, size); }
inline entry_facts fifo() { return make(S_IFIFO, 0); }
inline entry_facts chr(dev_t rdev) {
  entry_facts e = make(S_IFCHR, 0);
  e.rdev = rdev;
  return e;
}
// A DST entry with another inode than its source (a copy).
inline entry_facts copy_of(entry_facts e, ino_t ino = 200) {
  e.dev = 2;
  e.ino = ino;
  e.nlink = 1;
  return e;
}

inline policy opts(bool merge, bool update = false, bool checksum = false) {
  copy_options o;
  o.merge = merge;
  o.update = update;
  o.checksum = checksum;
  return normalize(o, {1000, 1000, 022});
}
inline policy merge_p() { return opts(true); }
inline policy update_p() { return opts(false, true); }
inline policy checksum_p() { return opts(false, false, true); }

inline entry_decision decide(const policy& p, const entry_facts& src, const entry_facts* dst,
                             entry_context ctx = {}) {
  return decide_entry(p, src, dst, ctx);
}

}  // namespace treecopy::plan::testing
