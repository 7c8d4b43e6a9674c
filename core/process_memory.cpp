#include "core/process_memory.h"

#include <cstdlib>  // defines __GLIBC__ on glibc, which the test below needs

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sluice {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 4 << 20);   // blocks up to a 4 MiB message come from the heap
  mallopt(M_TRIM_THRESHOLD, 64 << 20);  // a heap keeps up to 64 MiB free before shrinking
#endif
}

}  // namespace sluice
