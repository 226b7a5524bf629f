// Linked only into the fully static command (TREECOPY_STATIC_CLI, cmake/static_cli.cmake): a
// dynamic loader that loads nothing.
//
// Why: oneTBB looks for optional shared libraries when its pool starts (libtbbmalloc, libirml,
// libiomp5) and uses its own code when they are absent. In a static program, glibc's dlopen would
// still load them, and with them a second libc.so beside the static one (two mallocs, two stdio
// states): these definitions take the place of glibc's, so oneTBB takes its fallbacks at once.
// Nothing else in the command loads a library (no NSS, iconv or plugins).
#include <dlfcn.h>

extern "C" {

void* dlopen(const char* /*file*/, int /*mode*/) noexcept { return nullptr; }

void* dlsym(void* /*handle*/, const char* /*name*/) noexcept { return nullptr; }

int dlclose(void* /*handle*/) noexcept { return -1; }

char* dlerror() noexcept {
  static char message[] = "treecopy is linked statically: it loads no shared library";
  return message;
}

int dladdr(const void* /*address*/, Dl_info* /*info*/) noexcept { return 0; }

}  // extern "C"
