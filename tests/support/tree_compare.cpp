// Implementation of compare_trees(): a lockstep walk of two trees, entry by entry.
#include "tree_compare.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <system_error>

#include "fd.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {
namespace {

using inode_key = std::pair<dev_t, ino_t>;
using xattr_list = std::vector<std::pair<std::string, std::string>>;

std::string type_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "regular file";
    case S_IFDIR:
      return "directory";
    case S_IFLNK:
      return "symlink";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    case S_IFCHR:
      return "character device";
    case S_IFBLK:
      return "block device";
    default:
      return "unknown type";
  }
}

std::string octal(unsigned value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", value);
  return buf;
}

std::string errno_text(int err) { return std::string("error: ") + std::strerror(err); }

std::string read_link_at(int dirfd, const std::string& name, std::size_t size_hint) {
  std::string target(size_hint + 2, '\0');
  const ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
  if (n < 0) return errno_text(errno);
  target.resize(static_cast<std::size_t>(n));
  return target;
}

// The hard-link bookkeeping of one tree: which names share an inode.
struct link_index {
  std::map<inode_key, std::vector<std::string>> names_of;
  std::map<std::string, inode_key> inode_of;

  void add(const std::string& rel, const struct stat& st) {
    const inode_key key{st.st_dev, st.st_ino};
    names_of[key].push_back(rel);
    inode_of[rel] = key;
  }
  // The set of names sharing rel's inode (just rel when it has no recorded partner).
  std::vector<std::string> group(const std::string& rel) const {
    const auto it = inode_of.find(rel);
    if (it == inode_of.end()) return {rel};
    std::vector<std::string> names = names_of.at(it->second);
    std::sort(names.begin(), names.end());
    return names;
  }
};

std::string join_names(const std::vector<std::string>& names) {
  std::string text = "{";
  for (const std::string& n : names) text += (text.size() > 1 ? ", '" : "'") + printable(n) + "'";
  return text + "}";
}

class comparer {
 public:
  explicit comparer(const compare_options& options) : opt_(options) {}

  void compare_roots(const std::string& left, const std::string& right);
  std::vector<difference> take() {
    compare_link_groups();
    return std::move(diffs_);
  }

 private:
  void add(const std::string& rel, const std::string& attribute, std::string l, std::string r) {
    diffs_.push_back({rel, attribute, std::move(l), std::move(r)});
  }
  void compare_entry(unique_fd& lparent, const std::string& lname, unique_fd& rparent,
                     const std::string& rname, const std::string& rel, bool is_root);
  void compare_stat(const std::string& rel, const struct stat& l, const struct stat& r);
  void compare_time(const std::string& rel, const char* what, const timespec& l, const timespec& r);
  void compare_content(int lparent, const std::string& lname, int rparent, const std::string& rname,
                       const std::string& rel);
  void compare_xattrs(int lparent, const std::string& lname, int rparent, const std::string& rname,
                      const std::string& rel);
  void compare_children(unique_fd& ldir, unique_fd& rdir, const std::string& rel);
  void compare_link_groups();

  static constexpr std::size_t chunk = 1 << 20;
  const compare_options& opt_;
  std::unique_ptr<char[]> lbuf_{new char[chunk]};
  std::unique_ptr<char[]> rbuf_{new char[chunk]};
  std::vector<difference> diffs_;
  link_index left_links_, right_links_;
};

void comparer::compare_roots(const std::string& left, const std::string& right) {
  std::string lname, rname;
  unique_fd lparent = open_parent(left, lname);
  unique_fd rparent = open_parent(right, rname);
  compare_entry(lparent, lname, rparent, rname, "", true);
}

// lparent and rparent are closed while a directory's children are compared and reopened
// afterwards (see descend()), so open descriptors stay bounded whatever the depth.
void comparer::compare_entry(unique_fd& lparent, const std::string& lname, unique_fd& rparent,
                             const std::string& rname, const std::string& rel, bool is_root) {
  struct stat l {
  }, r{};
  const bool l_ok = ::fstatat(lparent.get(), lname.c_str(), &l, AT_SYMLINK_NOFOLLOW) == 0;
  const int l_err = errno;
  const bool r_ok = ::fstatat(rparent.get(), rname.c_str(), &r, AT_SYMLINK_NOFOLLOW) == 0;
  const int r_err = errno;
  if (!l_ok || !r_ok) {
    add(rel, "stat", l_ok ? "ok" : errno_text(l_err), r_ok ? "ok" : errno_text(r_err));
    return;
  }
  if ((l.st_mode & S_IFMT) != (r.st_mode & S_IFMT)) {
    add(rel, "type", type_name(l.st_mode), type_name(r.st_mode));
    return;
  }
  if (!is_root || opt_.root_metadata) compare_stat(rel, l, r);
  if (S_ISLNK(l.st_mode)) {
    const std::string lt = read_link_at(lparent.get(), lname, static_cast<std::size_t>(l.st_size));
    const std::string rt = read_link_at(rparent.get(), rname, static_cast<std::size_t>(r.st_size));
    if (lt != rt) add(rel, "symlink target", printable(lt), printable(rt));
  }
  if (S_ISREG(l.st_mode)) compare_content(lparent.get(), lname, rparent.get(), rname, rel);
  if (opt_.xattrs && (!is_root || opt_.root_metadata)) {
    compare_xattrs(lparent.get(), lname, rparent.get(), rname, rel);
  }
  if (!S_ISDIR(l.st_mode)) {
    if (opt_.hard_links && (l.st_nlink > 1 || r.st_nlink > 1)) {
      left_links_.add(rel, l);
      right_links_.add(rel, r);
    }
    return;
  }
  descend(lparent, lname, [&](unique_fd& lchild) {
    descend(rparent, rname, [&](unique_fd& rchild) { compare_children(lchild, rchild, rel); });
  });
}

void comparer::compare_stat(const std::string& rel, const struct stat& l, const struct stat& r) {
  if (opt_.mode && (l.st_mode & 07777) != (r.st_mode & 07777)) {
    add(rel, "mode", octal(l.st_mode & 07777), octal(r.st_mode & 07777));
  }
  if (opt_.owner && l.st_uid != r.st_uid) {
    add(rel, "uid", std::to_string(l.st_uid), std::to_string(r.st_uid));
  }
  if (opt_.owner && l.st_gid != r.st_gid) {
    add(rel, "gid", std::to_string(l.st_gid), std::to_string(r.st_gid));
  }
  const bool is_dir = S_ISDIR(l.st_mode);
  if (opt_.size && !is_dir && l.st_size != r.st_size) {
    add(rel, "size", std::to_string(l.st_size), std::to_string(r.st_size));
  }
  if (opt_.mtime) compare_time(rel, "mtime", l.st_mtim, r.st_mtim);
  if (opt_.atime && (!is_dir || opt_.directory_atime)) {
    compare_time(rel, "atime", l.st_atim, r.st_atim);
  }
  if (opt_.rdev && (S_ISCHR(l.st_mode) || S_ISBLK(l.st_mode)) && l.st_rdev != r.st_rdev) {
    auto dev = [](dev_t d) { return std::to_string(major(d)) + ":" + std::to_string(minor(d)); };
    add(rel, "rdev", dev(l.st_rdev), dev(r.st_rdev));
  }
  if (opt_.sparseness && S_ISREG(l.st_mode)) {
    const std::uint64_t lbytes = static_cast<std::uint64_t>(l.st_blocks) * 512;
    const std::uint64_t rbytes = static_cast<std::uint64_t>(r.st_blocks) * 512;
    if (rbytes > lbytes + opt_.sparse_tolerance_bytes) {
      add(rel, "allocated bytes (sparseness)", std::to_string(lbytes), std::to_string(rbytes));
    }
  }
}

void comparer::compare_time(const std::string& rel, const char* what, const timespec& l,
                            const timespec& r) {
  if (l.tv_sec != r.tv_sec || l.tv_nsec != r.tv_nsec)
    add(rel, what, format_time(l), format_time(r));
}

void comparer::compare_content(int lparent, const std::string& lname, int rparent,
                               const std::string& rname, const std::string& rel) {
  if (!opt_.content) return;
  unique_fd lf(open_noatime(lparent, lname, O_RDONLY | O_NOFOLLOW));
  const int l_err = errno;
  unique_fd rf(open_noatime(rparent, rname, O_RDONLY | O_NOFOLLOW));
  const int r_err = errno;
  if (!lf.valid() || !rf.valid()) {
    add(rel, "content (open)", lf.valid() ? "ok" : errno_text(l_err),
        rf.valid() ? "ok" : errno_text(r_err));
    return;
  }
  // Buffers are the comparer's, allocated once: fresh megabyte buffers per file cost more in page
  // faults than the comparison itself.
  char* const lbuf = lbuf_.get();
  char* const rbuf = rbuf_.get();
  std::uint64_t offset = 0;
  for (;;) {
    // Regular files on local file systems return full reads until EOF, so equal files yield
    // equal chunk sizes; a short read on one side is a size or content difference.
    const ssize_t ln = ::read(lf.get(), lbuf, chunk);
    const ssize_t rn = ::read(rf.get(), rbuf, chunk);
    if (ln < 0 || rn < 0) {
      add(rel, "content (read)", ln < 0 ? "read error" : "ok", rn < 0 ? "read error" : "ok");
      return;
    }
    const std::size_t common = static_cast<std::size_t>(std::min(ln, rn));
    const auto mismatch = std::mismatch(lbuf, lbuf + common, rbuf);
    if (mismatch.first != lbuf + common || ln != rn) {
      const std::uint64_t at = offset + static_cast<std::uint64_t>(mismatch.first - lbuf);
      add(rel, "content", "first difference at byte " + std::to_string(at),
          "(length " + std::to_string(offset + static_cast<std::uint64_t>(ln)) + " vs " +
              std::to_string(offset + static_cast<std::uint64_t>(rn)) + " in this chunk)");
      return;
    }
    if (ln == 0) return;
    offset += static_cast<std::uint64_t>(ln);
  }
}

void comparer::compare_xattrs(int lparent, const std::string& lname, int rparent,
                              const std::string& rname, const std::string& rel) {
  xattr_list lx, rx;
  const unique_fd lp = open_path_at(lparent, lname);
  const unique_fd rp = open_path_at(rparent, rname);
  const std::error_code lec = read_xattrs(lp.get(), lx);
  const std::error_code rec = read_xattrs(rp.get(), rx);
  auto unsupported = [](std::error_code ec) { return ec == std::errc::not_supported; };
  // No xattr support reads as "no attributes": a copy to such a file system cannot keep them.
  if ((lec && !unsupported(lec)) || (rec && !unsupported(rec))) {
    add(rel, "xattrs (list)", lec ? lec.message() : "ok", rec ? rec.message() : "ok");
    return;
  }
  std::map<std::string, std::string> lmap(lx.begin(), lx.end()), rmap(rx.begin(), rx.end());
  for (const auto& [name, value] : lmap) {
    const auto it = rmap.find(name);
    if (it == rmap.end()) {
      add(rel, "xattr " + name, "'" + printable(value, 120) + "'", "(absent)");
    } else if (it->second != value) {
      add(rel, "xattr " + name, "'" + printable(value, 120) + "'",
          "'" + printable(it->second, 120) + "'");
    }
  }
  for (const auto& [name, value] : rmap) {
    if (lmap.count(name) == 0)
      add(rel, "xattr " + name, "(absent)", "'" + printable(value, 120) + "'");
  }
}

void comparer::compare_children(unique_fd& ldir, unique_fd& rdir, const std::string& rel) {
  const std::vector<std::string> lnames = list_dir(ldir.get());
  const std::vector<std::string> rnames = list_dir(rdir.get());
  auto child_rel = [&](const std::string& name) { return rel.empty() ? name : rel + "/" + name; };
  std::size_t i = 0, j = 0;
  while (i < lnames.size() || j < rnames.size()) {
    // Both lists are sorted: a merge walk finds names present on one side only.
    if (j == rnames.size() || (i < lnames.size() && lnames[i] < rnames[j])) {
      const std::string path = child_rel(lnames[i++]);
      if (opt_.ignore.count(path) == 0) add(path, "presence", "present", "missing");
    } else if (i == lnames.size() || rnames[j] < lnames[i]) {
      const std::string path = child_rel(rnames[j++]);
      if (opt_.ignore.count(path) == 0) add(path, "presence", "missing", "present");
    } else {
      const std::string& name = lnames[i];
      const std::string path = child_rel(name);
      if (opt_.ignore.count(path) == 0) compare_entry(ldir, name, rdir, name, path, false);
      ++i;
      ++j;
    }
  }
}

void comparer::compare_link_groups() {
  std::set<std::vector<std::string>> reported;
  for (const auto& [rel, key] : left_links_.inode_of) {
    (void)key;
    const std::vector<std::string> lgroup = left_links_.group(rel);
    const std::vector<std::string> rgroup = right_links_.group(rel);
    // One report per cluster of names involved, not one per name.
    std::vector<std::string> involved;
    std::set_union(lgroup.begin(), lgroup.end(), rgroup.begin(), rgroup.end(),
                   std::back_inserter(involved));
    if (lgroup != rgroup && reported.insert(involved).second) {
      add(rel, "hard-link group", join_names(lgroup), join_names(rgroup));
    }
  }
}

}  // namespace

std::vector<difference> compare_trees(const std::string& left, const std::string& right,
                                      const compare_options& options) {
  comparer c(options);
  run_on_deep_stack([&] { c.compare_roots(left, right); });
  return c.take();
}

std::string describe(const std::vector<difference>& diffs, const compare_options& options,
                     std::size_t max_shown) {
  if (diffs.empty()) return "no differences";
  std::string text = std::to_string(diffs.size()) + " difference(s) between " + options.left_label +
                     " and " + options.right_label + ":\n";
  for (std::size_t k = 0; k < diffs.size() && k < max_shown; ++k) {
    const difference& d = diffs[k];
    text += "  '" + printable(d.path) + "': " + d.attribute + ": " + options.left_label + "=" +
            d.left + " " + options.right_label + "=" + d.right + "\n";
  }
  if (diffs.size() > max_shown)
    text += "  ... and " + std::to_string(diffs.size() - max_shown) + " more\n";
  return text;
}

}  // namespace treecopy_test
