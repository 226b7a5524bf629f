// build_full_tree(), continued: sparse files, special files, empty directories, awkward names
// and a path longer than PATH_MAX.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "scratch.hpp"
#include "tree_builder.hpp"
#include "tree_maker.hpp"

namespace treecopy_test {
namespace {

void add_sparse(tree_maker& m) {
  m.dir("sparse");
  constexpr off_t mib = 1 << 20;
  m.sparse_file(full_tree::sparse_file, 64 * mib, {16 * mib, 16 * mib + 65536, 40 * mib});
  m.sparse_file("sparse/all_hole", 8 * mib, {});
  m.sparse_file("sparse/data_then_hole", 32 * mib, {0});
}

void add_special(tree_maker& m, build_report& report, bool privileged) {
  m.dir(full_tree::special_dir);
  m.special("special/fifo", S_IFIFO, 0640);
  m.special("special/fifo_odd_mode", S_IFIFO, 0604);
  m.special("special/socket", S_IFSOCK, 0755);
  if (!privileged || !running_as_root()) {
    report.missing.push_back("devices: not running as root");
    return;
  }
  try {
    m.special("special/char_dev", S_IFCHR, 0666, makedev(1, 3));
    m.special("special/block_dev", S_IFBLK, 0660, makedev(7, 200));
    m.special("special/big_numbers", S_IFCHR, 0600, makedev(4000, 70000));
    report.devices = true;
  } catch (const std::system_error& e) {
    report.missing.push_back(std::string("devices: ") + e.what());
  }
}

void add_empty(tree_maker& m) {
  m.dir("empty");
  m.dir("empty/nested");
  m.dir("empty/nested/deeper");
  m.dir("empty_read_only", 0555);
}

void add_names(tree_maker& m) {
  m.dir("names");
  const char* files[] = {"with space",    "new\nline", "bad\xff\xfe utf8", "tab\there",
                         "-leading-dash", ".hidden",   "caf\xc3\xa9",      "back\\slash",
                         "*?[glob]",      "'quotes\"", "trailing space ",  "\x01control"};
  for (const char* name : files) m.file(std::string("names/") + name, name);
  m.file("names/" + std::string(255, 'n'), "a name of 255 bytes");
  m.dir("names/dir with space");
  m.file("names/dir with space/x y", "inside");
  m.dir("names/dir\nnewline\xff");
  m.file("names/dir\nnewline\xff/\xe9", "inside");
  m.symlink("names/link\nname", "new\nline");
}

// Directories of 200-byte names, 30 deep: paths past 6000 bytes, built one level at a time
// relative to the parent's descriptor (path-based calls fail past PATH_MAX).
void add_long_path(tree_maker& m) {
  m.dir(full_tree::long_path_dir);
  unique_fd dir = open_dir_at(m.root_fd(), full_tree::long_path_dir);
  for (int level = 0; level < 30; ++level) {
    std::string name = "level" + std::to_string(level) + "_";
    name.resize(200, 'L');
    m.dir(name, 0755, {}, dir.get());
    if (level % 10 == 9)
      m.file("file_at_" + std::to_string(level), "deep", 0640, {}, {}, dir.get());
    dir = open_dir_at(dir.get(), name);
  }
  m.file("deep_file", m.random_bytes(10000), 0600, {}, {}, dir.get());
  m.symlink("deep_link", "deep_file", {}, dir.get());
  m.special("deep_fifo", S_IFIFO, 0644, 0, dir.get());
  m.hardlink("files/page", "deep_hard_link", -1, dir.get());
  m.dir("deep_dir", 0755, {}, dir.get());
}

}  // namespace

namespace detail {

void add_full_tree_rest(tree_maker& m, build_report& report, bool privileged) {
  add_sparse(m);
  add_special(m, report, privileged);
  add_empty(m);
  add_names(m);
  add_long_path(m);
}

}  // namespace detail
}  // namespace treecopy_test
