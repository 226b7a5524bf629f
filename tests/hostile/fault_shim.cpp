// A preloaded library (LD_PRELOAD) that makes the command's allocations or thread starts fail at a
// chosen point, so that a test can check what the copy does then without relying on where an
// address-space limit happens to bite. Loaded only by the tests that ask for it (alloc_faults).
//   TREECOPY_FAIL_ALLOC=k       the k-th allocation (malloc, calloc, realloc, aligned: operator new
//                               and oneTBB's tasks too) counted from the start returns null;
//   TREECOPY_FAIL_ALLOC_ALL=1   ... and every allocation after it, as under a memory limit;
//   TREECOPY_FAIL_THREAD=k      the k-th pthread_create and every one after fail with EAGAIN;
//   TREECOPY_FAULT_LOG=path     where the first failed allocation came from, written when it
//                               fails: "tbb" (oneTBB's code) or "other";
//   TREECOPY_COUNT_FILE=path    the number of allocations, thread starts and threads of oneTBB's
//                               own, written at exit.
// oneTBB's worker threads end the process when their start runs out of memory (a noexcept routine
// of oneTBB's): allocations that oneTBB's code makes on them never fail here, when oneTBB is a
// shared library and its code can be told apart. Its tasks, allocated by the threads of the copy
// that spawn them, still fail.
// oneTBB allocates its tasks with tbbmalloc when it can load it (memory from mmap, out of reach
// here): the shim refuses to load it, so that oneTBB falls back to malloc.
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {

std::atomic<long> allocations{0};
std::atomic<long> threads{0};
std::atomic<long> tbb_threads{0};
thread_local bool on_tbb_thread = false;  // started by oneTBB's code
long fail_alloc_at = 0;                   // 0: never
bool fail_alloc_all = false;
long fail_thread_at = 0;
const char* count_file = nullptr;
const char* fault_log = nullptr;
std::atomic<bool> logged{false};

long env_number(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::strtol(v, nullptr, 10) : 0;
}

__attribute__((constructor)) void read_settings() {
  fail_alloc_all = env_number("TREECOPY_FAIL_ALLOC_ALL") != 0;
  fail_thread_at = env_number("TREECOPY_FAIL_THREAD");
  count_file = std::getenv("TREECOPY_COUNT_FILE");
  fault_log = std::getenv("TREECOPY_FAULT_LOG");
  // Last: the allocations of the loader and of this constructor are not counted.
  fail_alloc_at = env_number("TREECOPY_FAIL_ALLOC");
  allocations.store(0);
}

__attribute__((destructor)) void write_count() {
  if (!count_file) return;
  char text[64];
  const int n = std::snprintf(text, sizeof text, "%ld %ld %ld\n", allocations.load(),
                              threads.load(), tbb_threads.load());
  const int fd = ::open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (::write(fd, text, static_cast<size_t>(n)) < 0) {
  }
  ::close(fd);
}

bool in_tbb(const void* code) {
  Dl_info info{};
  return code && ::dladdr(code, &info) != 0 && info.dli_fname &&
         std::strstr(info.dli_fname, "libtbb") != nullptr;
}

// Whether this allocation fails.
bool fails(const void* caller) {
  if (on_tbb_thread && in_tbb(caller)) return false;
  const long k = allocations.fetch_add(1, std::memory_order_relaxed) + 1;
  const bool fail =
      fail_alloc_at > 0 && (k == fail_alloc_at || (fail_alloc_all && k > fail_alloc_at));
  if (fail && fault_log && !logged.exchange(true)) {
    const int fd = ::open(fault_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      const char* what = in_tbb(caller) ? "tbb\n" : "other\n";
      if (::write(fd, what, std::strlen(what)) < 0) {
      }
      ::close(fd);
    }
  }
  return fail;
}

}  // namespace

extern "C" {

void* malloc(size_t size) {
  if (fails(__builtin_return_address(0))) return errno = ENOMEM, nullptr;
  return __libc_malloc(size);
}

void* calloc(size_t n, size_t size) {
  if (fails(__builtin_return_address(0))) return errno = ENOMEM, nullptr;
  return __libc_calloc(n, size);
}

void* realloc(void* p, size_t size) {
  if (size != 0 && fails(__builtin_return_address(0))) return errno = ENOMEM, nullptr;
  return __libc_realloc(p, size);
}

void* memalign(size_t align, size_t size) {
  if (fails(__builtin_return_address(0))) return errno = ENOMEM, nullptr;
  return __libc_memalign(align, size);
}

void* aligned_alloc(size_t align, size_t size) {
  if (fails(__builtin_return_address(0))) return errno = ENOMEM, nullptr;
  return __libc_memalign(align, size);
}

int posix_memalign(void** out, size_t align, size_t size) {
  if (fails(__builtin_return_address(0))) return ENOMEM;
  void* p = __libc_memalign(align, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

int pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  using create_fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static create_fn real = reinterpret_cast<create_fn>(::dlsym(RTLD_NEXT, "pthread_create"));
  const long k = threads.fetch_add(1, std::memory_order_relaxed) + 1;
  if (fail_thread_at > 0 && k >= fail_thread_at) return EAGAIN;
  if (!in_tbb(__builtin_return_address(0))) return real(t, attr, fn, arg);
  tbb_threads.fetch_add(1, std::memory_order_relaxed);
  // A thread of oneTBB's: marked before its routine runs.
  struct start {
    void* (*fn)(void*);
    void* arg;
  };
  auto* s = static_cast<start*>(__libc_malloc(sizeof(start)));
  if (!s) return EAGAIN;
  *s = {fn, arg};
  const int r = real(
      t, attr,
      [](void* p) -> void* {
        const start st = *static_cast<start*>(p);
        std::free(p);
        on_tbb_thread = true;
        return st.fn(st.arg);
      },
      s);
  if (r != 0) std::free(s);
  return r;
}

void* dlopen(const char* file, int mode) {
  using open_fn = void* (*)(const char*, int);
  static open_fn real = reinterpret_cast<open_fn>(::dlsym(RTLD_NEXT, "dlopen"));
  if (file && std::strstr(file, "tbbmalloc")) return nullptr;
  return real(file, mode);
}

}  // extern "C"
