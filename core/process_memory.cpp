#include "core/process_memory.h"

#include <cstdlib>  // defines __GLIBC__ on glibc, which the test below needs
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sluice {
#if defined(__GLIBC__)
namespace {

bool environment_sets_arena_count() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  return std::getenv("MALLOC_ARENA_MAX") != nullptr ||
         (tunables != nullptr && std::strstr(tunables, "glibc.malloc.arena_max") != nullptr);
}

}  // namespace
#endif

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 4 << 20);   // blocks up to a 4 MiB message come from the heap
  mallopt(M_TRIM_THRESHOLD, 64 << 20);  // a heap keeps up to 64 MiB free before shrinking
  if (!environment_sets_arena_count()) mallopt(M_ARENA_MAX, 1);
#endif
}

}  // namespace sluice
