// Implementation of the fault-test helpers (see fault_support.hpp).
#include "fault_support.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "fd.hpp"
#include "scratch.hpp"
#include "tree_walk.hpp"

namespace treecopy_test::faults {

tmpfs_mount::tmpfs_mount(std::string dir, const std::string& options) : dir_(std::move(dir)) {
  if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir '" + dir_ + "'");
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    const int err = errno;
    ::rmdir(dir_.c_str());
    throw std::system_error(err, std::generic_category(), "mount tmpfs on '" + dir_ + "'");
  }
}

tmpfs_mount::~tmpfs_mount() {
  ::umount2(dir_.c_str(), MNT_DETACH);
  ::rmdir(dir_.c_str());
}

void tmpfs_mount::remount(bool read_only, const std::string& options) {
  const unsigned long flags =
      MS_REMOUNT | (read_only ? static_cast<unsigned long>(MS_RDONLY) : 0UL);
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", flags, options.c_str()) != 0) {
    throw_errno("remount '" + dir_ + "'");
  }
}

std::optional<std::string> mount_unavailable() {
  if (!running_as_root()) return "mounting a tmpfs needs root (CAP_SYS_ADMIN)";
  // A probe mount: containers may run as root without the capability.
  scratch_dir probe("mount-probe");
  const std::string dir = probe / "m";
  ::mkdir(dir.c_str(), 0755);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k") != 0) {
    return std::string("mount -t tmpfs is not permitted here: ") + std::strerror(errno);
  }
  ::umount2(dir.c_str(), MNT_DETACH);
  return std::nullopt;
}

process_result run_treecopy_limited(const std::vector<std::string>& args, int seconds,
                                    const process_options& options) {
  std::vector<std::string> argv{"timeout", "-k", "10", std::to_string(seconds), cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, options);
}

process_result run_quiet(std::vector<std::string> args, const process_options& options) {
  args.insert(args.begin(), "--progress=none");
  return run_treecopy_limited(args, 60, options);
}

std::string json_counts(const std::string& out) {
  const std::size_t at = out.find("\"entries\":");
  const std::size_t end = out.find(",\"bytes_per_second\"", at);
  return at == std::string::npos || end == std::string::npos ? out : out.substr(at, end - at);
}

std::string summary_counts(const std::string& err) {
  const std::size_t at = err.find(" entries (");
  if (at == std::string::npos) return err;
  const std::size_t begin = err.rfind(' ', at - 1) + 1;
  return err.substr(begin, err.find(" in ", at) - begin);
}

std::optional<std::string> sanitizer_runtime() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return "built with a sanitizer, whose runtime needs descriptors, threads and address space of "
         "its own";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return "built with a sanitizer, whose runtime needs descriptors, threads and address space of "
         "its own";
#endif
#endif
  return std::nullopt;
}

bool run_known_bugs() {
  const char* v = std::getenv("TREECOPY_RUN_KNOWN_BUGS");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

bool hung(const process_result& r) { return r.exit_code == 124 || r.signal == SIGKILL; }

process_options as_uid(unsigned id) {
  process_options o;
  o.run_as = id;
  return o;
}

process_options nofile(unsigned long limit) {
  process_options o;
  o.nofile_limit = limit;
  return o;
}

std::optional<std::string> unquote_name(std::string_view text, std::size_t& pos) {
  std::string out;
  bool any = false;
  while (pos < text.size()) {
    if (text[pos] == '\'') {  // '...': literal up to the next quote
      const auto end = text.find('\'', pos + 1);
      if (end == std::string_view::npos) return std::nullopt;
      out.append(text.substr(pos + 1, end - pos - 1));
      pos = end + 1;
    } else if (text.compare(pos, 2, "\\'") == 0) {  // \'
      out += '\'';
      pos += 2;
    } else if (text.compare(pos, 2, "$'") == 0) {  // $'...': C escapes
      pos += 2;
      for (;;) {
        if (pos >= text.size()) return std::nullopt;
        const char c = text[pos++];
        if (c == '\'') break;
        if (c != '\\') {
          out += c;
          continue;
        }
        if (pos >= text.size()) return std::nullopt;
        const char e = text[pos++];
        static const std::string letters = "abtnvfr", values = "\a\b\t\n\v\f\r";
        if (const auto k = letters.find(e); k != std::string::npos) {
          out += values[k];
        } else if (e >= '0' && e <= '7') {
          unsigned v = static_cast<unsigned>(e - '0');
          for (int i = 0; i < 2 && pos < text.size() && text[pos] >= '0' && text[pos] <= '7'; ++i)
            v = v * 8 + static_cast<unsigned>(text[pos++] - '0');
          out += static_cast<char>(v);
        } else {
          out += e;  // \\, \', \"
        }
      }
    } else {
      break;
    }
    any = true;
  }
  if (!any) return std::nullopt;
  return out;
}

std::vector<error_line> parse_error_lines(const std::string& err,
                                          std::vector<std::string>* malformed) {
  static const std::string prefix = "treecopy: cannot ";
  std::vector<error_line> out;
  for (const std::string& line : split_lines(err)) {
    if (line.rfind(prefix, 0) != 0) continue;
    // "<op words> <quoted path>: <reason>": the operation's words hold no quote.
    const auto open = line.find(" '", prefix.size());
    std::size_t pos = open + 1;
    std::optional<std::string> path;
    if (open != std::string::npos) path = unquote_name(line, pos);
    if (!path || line.compare(pos, 2, ": ") != 0 || pos + 2 >= line.size()) {
      if (malformed) malformed->push_back(line);
      continue;
    }
    out.push_back({line.substr(prefix.size(), open - prefix.size()), *path, line.substr(pos + 2)});
  }
  return out;
}

std::optional<std::string> read_file(const std::string& path) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) return std::nullopt;
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) return data;
    data.append(buf, static_cast<std::size_t>(n));
  }
}

std::string pattern_bytes(std::size_t size, unsigned seed) {
  std::string data(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (char& c : data) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return data;
}

bind_mount::bind_mount(const std::string& from, const std::string& on) : on_(on) {
  ok_ = ::mount(from.c_str(), on.c_str(), nullptr, MS_BIND, nullptr) == 0;
}

bind_mount::~bind_mount() {
  if (ok_) ::umount2(on_.c_str(), MNT_DETACH);
}

void write_pattern_file(const std::string& path, std::size_t size, unsigned seed) {
  const std::string data = pattern_bytes(size, seed);
  unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) throw_errno("create '" + path + "'");
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd.get(), data.data() + done, size - done);
    if (n < 0) throw_errno("write '" + path + "'");
    done += static_cast<std::size_t>(n);
  }
}

std::vector<std::string> regular_files(const std::string& root) {
  std::vector<std::string> out;
  walk_callbacks cb;
  cb.pre = [&](const walk_entry& e) {
    if (S_ISREG(e.st.st_mode)) out.push_back(e.rel_path);
    return true;
  };
  walk_tree(root, cb);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> incomplete_files(const std::string& src, const std::string& dst,
                                          std::size_t* complete) {
  std::vector<std::string> problems;
  std::size_t good = 0;
  for (const std::string& rel : regular_files(dst)) {
    const std::string s = src + "/" + rel, d = dst + "/" + rel;
    struct stat ss {
    }, ds{};
    if (::lstat(s.c_str(), &ss) != 0 || ::lstat(d.c_str(), &ds) != 0) {
      problems.push_back(rel + ": cannot stat source or copy");
      continue;
    }
    if (ss.st_size != ds.st_size) {
      problems.push_back(rel + ": size " + std::to_string(ds.st_size) + ", source has " +
                         std::to_string(ss.st_size));
      continue;
    }
    if (ss.st_mtim.tv_sec != ds.st_mtim.tv_sec || ss.st_mtim.tv_nsec != ds.st_mtim.tv_nsec) {
      problems.push_back(rel + ": mtime " + format_time(ds.st_mtim) + ", source has " +
                         format_time(ss.st_mtim) + " (a file presented without its final times)");
      continue;
    }
    if (read_file(s) != read_file(d)) {
      problems.push_back(rel + ": content differs from the source");
      continue;
    }
    ++good;
  }
  if (complete) *complete = good;
  return problems;
}

}  // namespace treecopy_test::faults
