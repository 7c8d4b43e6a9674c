#pragma once

namespace sluice {

// For programs that run pipelines (the gateway, `sluice run`, an embedding program) and for the
// benchmark's baseline servers, so that they are measured under the same allocator: glibc's
// defaults hand the chunks' and batches' memory back to the kernel as soon as it is freed (big
// blocks are mmapped, the heap is trimmed), and every chunk then faults it in again: 77k page
// faults and ~0.4 s of system time per 100 MB through the gateway. Keeping freed memory for reuse
// costs nothing above the peak that the stream budgets already bound, provided that all threads
// share one heap: by default glibc gives each thread its own (up to 8 per core), each keeps its own
// free memory, and a chunk freed by a pipeline worker cannot serve the next chunk that a gRPC
// thread receives, so the peak grows with the number of threads rather than with the budgets.
// A MALLOC_ARENA_MAX or glibc.malloc.arena_max set in the environment is left to rule.
// Process-wide, so it is the program's choice: call it once at the start of main, before any
// thread starts. Does nothing outside glibc.
void keep_freed_memory_for_reuse();

}  // namespace sluice
