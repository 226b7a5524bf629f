// Implementation of scratch directories (Boost.Filesystem for the temporary-name part) and
// capability probes.
#include "scratch.hpp"

#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <cstdlib>
#include <system_error>

#include "fd.hpp"
#include "tree_walk.hpp"

namespace treecopy_test {

namespace {

// $env when set, else `preferred` when it is a directory we may write in, else the system
// temporary directory.
std::string root_from(const char* env, const char* preferred) {
  if (const char* value = std::getenv(env); value != nullptr && *value != '\0') return value;
  boost::system::error_code ec;
  if (boost::filesystem::is_directory(preferred, ec) && ::access(preferred, W_OK | X_OK) == 0) {
    return preferred;
  }
  return boost::filesystem::temp_directory_path().string();
}

}  // namespace

std::string scratch_root() { return root_from("TREECOPY_TEST_SCRATCH", "/dev/shm"); }

std::string disk_scratch_root() { return root_from("TREECOPY_TEST_DISK_SCRATCH", "/var/tmp"); }

scratch_dir::scratch_dir(const std::string& label, const std::string& root_dir) {
  const boost::filesystem::path root = root_dir;
  // unique_path draws random hex digits; create_directory fails (returns false) on a collision,
  // in which case another name is tried.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const boost::filesystem::path candidate =
        root / boost::filesystem::unique_path("treecopy-" + label + "-%%%%-%%%%");
    if (boost::filesystem::create_directory(candidate)) {
      boost::filesystem::permissions(candidate, boost::filesystem::perms(0755));
      path_ = candidate.string();
      return;
    }
  }
  throw std::system_error(EEXIST, std::generic_category(), "no free scratch directory name");
}

scratch_dir::~scratch_dir() {
  if (std::getenv("TREECOPY_TEST_KEEP") != nullptr) return;
  try {
    remove_tree(path_);
  } catch (const std::exception&) {
    // Best effort, then the portable remover for whatever the fd walk could not handle.
    boost::system::error_code ec;
    boost::filesystem::remove_all(path_, ec);
  }
}

void scratch_dir::give_to(unsigned id) const {
  if (::chown(path_.c_str(), id, id) != 0) throw_errno("chown '" + path_ + "'");
}

bool running_as_root() { return ::geteuid() == 0; }

bool io_uring_works() {
  const char* env = std::getenv("TREECOPY_IO_URING");
  if (env && std::string(env) == "0") return false;
  io_uring_params p{};
  const long fd = ::syscall(__NR_io_uring_setup, 4, &p);
  if (fd < 0) return false;
  ::close(static_cast<int>(fd));
  return true;
}

std::optional<std::string> unprivileged_unavailable() {
  if (!running_as_root()) return "the test must run as root to switch to uid 65534";
  for (const char* dir : {"/usr/bin", "/bin", "/usr/sbin", "/sbin"}) {
    if (::access((std::string(dir) + "/setpriv").c_str(), X_OK) == 0) return std::nullopt;
  }
  return "setpriv (util-linux) is not installed";
}

std::string cli_path() {
#ifdef TREECOPY_CLI
  return TREECOPY_CLI;
#else
  return {};
#endif
}

}  // namespace treecopy_test
