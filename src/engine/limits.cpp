// Implementation of limits.hpp.
#include "engine/limits.hpp"

#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <vector>

#include "fs/sys.hpp"

namespace treecopy::engine {

long descriptor_limit() noexcept {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return -1;
  return static_cast<long>(rl.rlim_cur);
}

long open_descriptors(long below) noexcept {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  const int own = ::dirfd(d);
  long n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const long fd = std::strtol(e->d_name, nullptr, 10);
    if (fd != own && fd < below) ++n;
  }
  ::closedir(d);
  return n;
}

namespace {

bool below(int resource, rlim_t bound) noexcept {
  struct rlimit rl {};
  return ::getrlimit(resource, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < bound;
}

void* wait_for_release(void* gate) {
  auto* m = static_cast<pthread_mutex_t*>(gate);
  ::pthread_mutex_lock(m);
  ::pthread_mutex_unlock(m);
  return nullptr;
}

}  // namespace

unsigned startable_threads(unsigned wanted) noexcept {
  // root (CAP_SYS_RESOURCE) is not held to RLIMIT_NPROC; everyone is to RLIMIT_AS. The usual
  // RLIMIT_NPROC of tens of thousands guards against fork bombs and leaves a copy alone: probing
  // (a few milliseconds) is for the small limits that a copy can meet.
  constexpr rlim_t small_nproc = 16384;
  const bool nproc_small = fs::effective_uid() != 0 && below(RLIMIT_NPROC, small_nproc);
  if (wanted == 0 || (!nproc_small && !below(RLIMIT_AS, RLIM_INFINITY))) return wanted;
  pthread_attr_t attr;
  if (::pthread_attr_init(&attr) != 0) return 0;
  ::pthread_attr_setstacksize(&attr, worker_stack_size);
  pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
  ::pthread_mutex_lock(&gate);  // every probe thread waits here, so that all are alive at once
  std::vector<pthread_t> started;
  try {
    started.reserve(wanted);
  } catch (...) {
    ::pthread_mutex_unlock(&gate);
    ::pthread_attr_destroy(&attr);
    return 0;
  }
  for (unsigned i = 0; i < wanted; ++i) {
    pthread_t t;
    if (::pthread_create(&t, &attr, wait_for_release, &gate) != 0) break;
    started.push_back(t);
  }
  ::pthread_mutex_unlock(&gate);
  for (pthread_t t : started) ::pthread_join(t, nullptr);
  ::pthread_attr_destroy(&attr);
  return static_cast<unsigned>(started.size());
}

bool address_space_small() noexcept { return below(RLIMIT_AS, rlim_t{1} << 30); }

}  // namespace treecopy::engine
