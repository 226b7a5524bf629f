// build_full_tree(): one directory per group of fidelity cases (see tree_builder.hpp).
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "scratch.hpp"
#include "tree_builder.hpp"
#include "tree_maker.hpp"

namespace treecopy_test {
namespace {

constexpr unsigned acl_undefined_id = 0xffffffffu;
constexpr owner foreign{1234, 5678};
constexpr owner nobody{65534, 65534};

void add_files(tree_maker& m) {
  m.dir("files");
  m.file("files/empty", "");
  m.file("files/one", "x");
  m.file("files/page_minus_one", m.random_bytes(4095));
  m.file("files/page", m.random_bytes(4096));
  m.file("files/page_plus_one", m.random_bytes(4097));
  m.file("files/big", m.random_bytes((1 << 20) + 4321));
  m.file("files/bigger", m.random_bytes((5 << 20) + 17));
  m.file("files/text", "line one\nline two\n");
}

void add_modes(tree_maker& m, build_report& report, bool unreadable) {
  m.dir("modes");
  const std::pair<const char*, mode_t> files[] = {
      {"m0444", 00444},    {"m0700", 00700},        {"m0600", 00600},  {"m0640", 00640},
      {"m0777", 00777},    {"setuid", 04755},       {"setgid", 02755}, {"sticky", 01644},
      {"all_bits", 07777}, {"setuid_noexec", 04644}};
  for (const auto& [name, mode] : files) m.file(std::string("modes/") + name, name, mode);
  // Read-only directories with children: the copier must write into them before their mode.
  m.dir("modes/ro_dir", 0555);
  m.file("modes/ro_dir/child", "in a read-only directory");
  m.dir("modes/ro_dir/ro_sub", 0555);
  m.file("modes/ro_dir/ro_sub/grandchild", "deeper");
  m.dir("modes/rx_only", 0500);
  m.file("modes/rx_only/child", "in a 0500 directory", 0400);
  m.dir("modes/sticky_dir", 01777);
  m.file("modes/sticky_dir/child", "in a sticky directory");
  m.dir("modes/setgid_dir", 02775);
  m.dir("modes/setgid_dir/sub", 02755);
  m.dir("modes/odd_dir", 0751);
  if (!unreadable || !running_as_root()) {
    report.missing.push_back(
        "entries their owner cannot read (0000 and 0111 files, 0000 and 0300 "
        "directories): only root can copy them");
    return;
  }
  m.file("modes/m0000", "m0000", 00000);
  m.file("modes/m0111", "m0111", 00111);
  m.dir("modes/no_access", 0000);
  m.file("modes/no_access/child", "in a 0000 directory");
  m.dir("modes/write_exec_only", 0300);
  m.file("modes/write_exec_only/child", "in a 0300 directory");
  m.dir("empty_no_access", 0000);
}

void add_owners(tree_maker& m, build_report& report) {
  if (!running_as_root()) {
    report.missing.push_back("foreign owners: not running as root");
    return;
  }
  m.dir("owners");
  m.file("owners/foreign", "uid 1234 gid 5678", 0644, foreign);
  m.file("owners/nobody", "uid 65534", 0640, nobody);
  m.file("owners/setuid_foreign", "setuid, owned by 1234", 04755, foreign);
  m.file("owners/setgid_foreign", "setgid, group 5678", 02750, foreign);
  m.file("owners/user_only", "uid 1234 gid 0", 0600, owner{1234, 0});
  m.file("owners/group_only", "uid 0 gid 5678", 0660, owner{0, 5678});
  m.dir("owners/foreign_dir", 0750, foreign);
  m.file("owners/foreign_dir/child", "child of a foreign directory", 0644, nobody);
  m.dir("owners/sticky_foreign", 01777, foreign);
  m.symlink("owners/foreign_link", "foreign", foreign);
  m.symlink("owners/nobody_link", "/nonexistent/target", nobody);
  report.owners = true;
}

void add_times(tree_maker& m) {
  m.dir("times");
  entry_times t = m.next_times();
  t.mtime = {-123456789, 987654321};  // before 1970
  m.file("times/pre_epoch", "old", 0644, {}, t);
  t = m.next_times();
  t.mtime.tv_nsec = 0;  // whole seconds must stay whole
  m.file("times/whole_second", "round", 0644, {}, t);
  t = m.next_times();
  t.mtime.tv_nsec = 999999999;
  m.file("times/last_nanosecond", "edge", 0644, {}, t);
  m.dir("times/dir_custom");
  m.file("times/dir_custom/a", "a");
  m.dir("times/dir_custom/nested");
  m.file("times/dir_custom/nested/b", "b");
}

void add_links(tree_maker& m) {
  m.dir("links");
  m.symlink("links/relative", "../files/one");
  m.symlink("links/absolute_missing", "/nonexistent/treecopy/absolute");
  m.symlink("links/absolute_existing", "/dev/null");
  m.symlink("links/dangling", "no/such/target");
  m.symlink("links/to_dir", "../files");
  m.symlink("links/to_dir_link", "to_dir");
  m.symlink("links/self_loop", "self_loop");
  m.symlink("links/dot", ".");
  m.symlink("links/odd_target", "with\nnewline and \xff\xfe bytes");
  std::string long_target;
  while (long_target.size() < 3000) long_target += "segment/";
  m.symlink("links/long_target", long_target);
}

void add_hardlinks(tree_maker& m) {
  m.dir("hardlinks");
  m.file("hardlinks/pair_a", "a pair");
  m.hardlink("hardlinks/pair_a", "hardlinks/pair_b");
  m.dir("hardlinks/x");
  m.dir("hardlinks/y");
  m.dir("hardlinks/y/z");
  m.file("hardlinks/x/spread", m.random_bytes(200000), 0640);
  m.hardlink("hardlinks/x/spread", "hardlinks/y/z/spread_again");
  m.hardlink("hardlinks/x/spread", "top_level_link");
  // One inode with 64 names in 16 directories: workers copying different directories meet the
  // same inode at the same time.
  m.dir(full_tree::many_links_dir);
  m.file("hardlinks/many_origin", m.random_bytes(70000));
  for (int d = 0; d < 16; ++d) {
    const std::string dir = std::string(full_tree::many_links_dir) + "/d" + std::to_string(d);
    m.dir(dir);
    for (int n = 0; n < 4; ++n)
      m.hardlink("hardlinks/many_origin", dir + "/name" + std::to_string(n));
    m.file(dir + "/own_file", "not linked " + std::to_string(d));
  }
  // A second group reached from the same directories, interleaved with the first.
  m.file("hardlinks/second_origin", "second group");
  for (int d = 0; d < 16; d += 3) {
    m.hardlink("hardlinks/second_origin",
               std::string(full_tree::many_links_dir) + "/d" + std::to_string(d) + "/second");
  }
  m.symlink("hardlinks/sym_a", "../files/one");
  m.hardlink("hardlinks/sym_a", "hardlinks/sym_b");  // a hard-linked symlink
  m.special("hardlinks/fifo_a", S_IFIFO, 0644);
  m.hardlink("hardlinks/fifo_a", "hardlinks/fifo_b");  // a hard-linked FIFO
}

void add_xattrs(tree_maker& m, build_report& report, bool privileged) {
  m.dir(full_tree::xattr_dir);
  m.file("xattrs/file", "with attributes");
  m.file("xattrs/read_only", "attributes on a 0444 file", 0644);  // 0444 once it has them
  m.dir("xattrs/dir");
  m.symlink("xattrs/link", "file");
  std::string big(3000, 'v');
  const std::pair<const char*, std::string> attrs[] = {
      {"user.plain", "value"},
      {"user.binary", std::string("\0\1\2\xff", 4)},
      {"user.empty", ""},
      {"user.big", big}};
  std::error_code ec;
  for (const auto& [name, value] : attrs) {
    if (!ec) ec = m.xattr("xattrs/file", name, value);
  }
  if (!ec) ec = m.xattr("xattrs/read_only", "user.on_read_only", "ro");
  // Setting user.* needs write permission (for non-root), so the file becomes read-only after.
  if (::fchmodat(m.root_fd(), "xattrs/read_only", 0444, 0) != 0)
    throw_errno("chmod xattrs/read_only");
  if (!ec) ec = m.xattr("xattrs/dir", "user.on_dir", "dir value");
  report.user_xattrs = !ec;
  if (ec) report.missing.push_back("user.* xattrs: setxattr failed: " + ec.message());
  if (running_as_root() && privileged) {
    ec = m.xattr("xattrs/file", "trusted.treecopy", "trusted value");
    if (!ec) ec = m.xattr("xattrs/link", "trusted.on_link", "a symlink's own attribute");
    report.trusted_xattrs = !ec;
    if (ec) report.missing.push_back("trusted.* xattrs: setxattr failed: " + ec.message());
  } else {
    report.missing.push_back("trusted.* xattrs: not running as root (or not requested)");
  }
  // The xattrs above changed the ctime; times are set again so atime stays ahead of it.
  for (const char* rel : {"xattrs/file", "xattrs/read_only", "xattrs/link"})
    m.set_times(rel, m.next_times());
}

void add_acls(tree_maker& m, build_report& report) {
  m.dir(full_tree::acl_dir);
  m.file("acl/file", "with an access ACL", 0640);
  m.dir("acl/dir");
  const std::string access = posix_acl_value({{0x01, acl_undefined_id, 6},
                                              {0x02, 1234, 6},
                                              {0x04, acl_undefined_id, 4},
                                              {0x08, 5678, 4},
                                              {0x10, acl_undefined_id, 6},
                                              {0x20, acl_undefined_id, 0}});
  const std::string dir_default = posix_acl_value({{0x01, acl_undefined_id, 7},
                                                   {0x02, 1234, 5},
                                                   {0x04, acl_undefined_id, 5},
                                                   {0x10, acl_undefined_id, 5},
                                                   {0x20, acl_undefined_id, 0}});
  // The directory's owner keeps rwx: entries are still created in it below, also by non-root.
  const std::string dir_access = posix_acl_value({{0x01, acl_undefined_id, 7},
                                                  {0x02, 1234, 6},
                                                  {0x04, acl_undefined_id, 5},
                                                  {0x08, 5678, 4},
                                                  {0x10, acl_undefined_id, 7},
                                                  {0x20, acl_undefined_id, 1}});
  std::error_code ec = m.xattr("acl/file", "system.posix_acl_access", access);
  if (!ec) ec = m.xattr("acl/dir", "system.posix_acl_access", dir_access);
  if (!ec) ec = m.xattr("acl/dir", "system.posix_acl_default", dir_default);
  report.acls = !ec;
  if (ec) {
    report.missing.push_back("POSIX ACLs: setxattr failed: " + ec.message());
    return;
  }
  m.set_times("acl/file", m.next_times());
  m.file("acl/dir/inherits", "created under a default ACL", 0640);  // inherits the default ACL
  m.dir("acl/dir/sub_inherits", 0750);
}

}  // namespace

namespace detail {
// In full_tree_more.cpp: sparse files, special files, empty directories, names, long paths.
void add_full_tree_rest(tree_maker& m, build_report& report, bool privileged);
}  // namespace detail

std::string build_report::missing_text() const {
  std::string text;
  for (const std::string& line : missing) text += (text.empty() ? "" : "; ") + line;
  return text;
}

build_report build_full_tree(const std::string& root, const full_tree_options& options) {
  tree_maker m(root, options.seed);
  build_report report;
  add_files(m);
  add_modes(m, report, options.unreadable_entries);
  if (options.privileged) {
    add_owners(m, report);
  } else {
    report.missing.push_back("foreign owners: not requested");
  }
  add_times(m);
  add_links(m);
  add_hardlinks(m);
  add_xattrs(m, report, options.privileged);
  add_acls(m, report);
  detail::add_full_tree_rest(m, report, options.privileged);
  m.finish();
  return report;
}

}  // namespace treecopy_test
