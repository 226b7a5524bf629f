// Hand-off annotations for ThreadSanitizer. Debian's oneTBB is not built with TSan, so TSan cannot
// see that what a task's creator wrote before task_group::run() happens before the task runs; these
// calls state it. They compile to nothing outside TSan builds.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define TREECOPY_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TREECOPY_TSAN 1
#endif
#endif

#ifdef TREECOPY_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace treecopy::engine {

/// Called by the spawning thread just before task_group::run() for work about `key`.
inline void handoff_send([[maybe_unused]] const void* key) noexcept {
#ifdef TREECOPY_TSAN
  __tsan_release(const_cast<void*>(key));
#endif
}

/// Called first thing in the spawned task.
inline void handoff_receive([[maybe_unused]] const void* key) noexcept {
#ifdef TREECOPY_TSAN
  __tsan_acquire(const_cast<void*>(key));
#endif
}

}  // namespace treecopy::engine
