// Implementation of place.hpp.
#include "fs/place.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "fs/sys.hpp"

namespace treecopy::fs {

std::string real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> r(::realpath(path.c_str(), nullptr), &std::free);
  return r ? std::string(r.get()) : std::string();
}

std::string unescape_mountinfo(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      out += static_cast<char>(std::stoi(field.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::optional<place> place_of(int fd) {
  std::uint64_t mount = 0;
  if (mount_id(fd, mount)) return std::nullopt;
  std::string real = real_path("/proc/self/fd/" + std::to_string(fd));
  if (real.empty() || real[0] != '/') return std::nullopt;
  std::FILE* f = std::fopen("/proc/self/mountinfo", "re");
  if (!f) return std::nullopt;
  std::optional<place> found;
  char* line = nullptr;
  std::size_t cap = 0;
  while (!found && ::getline(&line, &cap, f) > 0) {
    std::istringstream in(line);
    std::string id, parent, dev, root, point;
    if (!(in >> id >> parent >> dev >> root >> point) || id != std::to_string(mount)) continue;
    root = unescape_mountinfo(root);
    point = unescape_mountinfo(point);
    std::string below;  // real, relative to the mount point
    if (point == "/")
      below = real;
    else if (real == point)
      below = "";
    else if (real.compare(0, point.size() + 1, point + "/") == 0)
      below = real.substr(point.size());
    else
      break;  // the mount point is hidden from this process's view: no answer
    found = place{dev, root == "/" ? (below.empty() ? "/" : below) : root + below};
  }
  std::free(line);
  std::fclose(f);
  return found;
}

bool place_within(const place& a, const place& b) {
  if (a.dev != b.dev) return false;
  return a.path == b.path || b.path == "/" ||
         (a.path.size() > b.path.size() && a.path.compare(0, b.path.size(), b.path) == 0 &&
          a.path[b.path.size()] == '/');
}

}  // namespace treecopy::fs
