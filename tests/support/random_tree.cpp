// build_random_tree(): a tree drawn from a seed. Only the generator's raw output is used (no
// std::*_distribution, whose results differ between standard libraries), so a seed names the same
// tree everywhere.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "tree_builder.hpp"
#include "tree_maker.hpp"

namespace treecopy_test {
namespace {

struct random_dir {
  std::string rel;
  int depth;
};

std::uint64_t below(std::mt19937_64& rng, std::uint64_t bound) {
  return bound == 0 ? 0 : rng() % bound;
}

std::string random_name(std::mt19937_64& rng, const std::string& prefix, int index) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789_-.";
  std::string name = prefix + std::to_string(index) + "_";
  const std::uint64_t length = 1 + below(rng, 12);
  for (std::uint64_t i = 0; i < length; ++i) name += alphabet[below(rng, sizeof alphabet - 1)];
  // Now and then a space or a byte that is not UTF-8, so those paths get exercised too.
  switch (below(rng, 10)) {
    case 0:
      name += " x";
      break;
    case 1:
      name += "\xe9";
      break;
    default:
      break;
  }
  return name;
}

std::size_t random_size(std::mt19937_64& rng, std::size_t max_size) {
  switch (below(rng, 10)) {
    case 0:
      return 0;
    case 1:
    case 2:
    case 3:
    case 4:
      return below(rng, 4096);
    case 5:
    case 6:
    case 7:
    case 8:
      return below(rng, 65536 < max_size ? 65536 : max_size + 1);
    default:
      return below(rng, max_size + 1);
  }
}

std::vector<random_dir> make_dirs(tree_maker& m, const random_tree_options& o) {
  static const mode_t modes[] = {0755, 0755, 0700, 0750, 0555, 0775, 02755};
  std::vector<random_dir> dirs{{"", 0}};
  for (int i = 0; i < o.directories; ++i) {
    const random_dir& parent = dirs[below(m.rng(), dirs.size())];
    if (parent.depth >= o.max_depth) continue;
    const std::string name = random_name(m.rng(), "d", i);
    const std::string rel = parent.rel.empty() ? name : parent.rel + "/" + name;
    m.dir(rel, modes[below(m.rng(), std::size(modes))]);
    dirs.push_back({rel, parent.depth + 1});
  }
  return dirs;
}

std::string in_dir(const random_dir& d, const std::string& name) {
  return d.rel.empty() ? name : d.rel + "/" + name;
}

}  // namespace

void build_random_tree(const std::string& root, const random_tree_options& o) {
  static const mode_t file_modes[] = {0644, 0644, 0600, 0755, 0444, 0640, 0700, 04755};
  tree_maker m(root, o.seed, o.time_base);
  const std::vector<random_dir> dirs = make_dirs(m, o);
  std::vector<std::string> files;
  for (int i = 0; i < o.files; ++i) {
    const std::string rel = in_dir(dirs[below(m.rng(), dirs.size())], random_name(m.rng(), "f", i));
    const std::size_t size = random_size(m.rng(), o.max_file_size);
    m.file(rel, m.random_bytes(size), file_modes[below(m.rng(), std::size(file_modes))]);
    files.push_back(rel);
  }
  if (o.links && !files.empty()) {
    for (int i = 0; i < o.files / 10; ++i) {
      const std::string rel =
          in_dir(dirs[below(m.rng(), dirs.size())], random_name(m.rng(), "s", i));
      m.symlink(rel, below(m.rng(), 2) ? files[below(m.rng(), files.size())] : "../dangling");
    }
    for (int i = 0; i < o.files / 15; ++i) {
      const std::string rel =
          in_dir(dirs[below(m.rng(), dirs.size())], random_name(m.rng(), "h", i));
      m.hardlink(files[below(m.rng(), files.size())], rel);
    }
    for (int i = 0; i < o.files / 50; ++i) {
      const std::string rel =
          in_dir(dirs[below(m.rng(), dirs.size())], random_name(m.rng(), "p", i));
      m.special(rel, S_IFIFO, 0644);
    }
  }
  m.finish();
}

}  // namespace treecopy_test
