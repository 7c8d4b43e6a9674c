#pragma once

namespace sluice {

// For programs that run pipelines (the gateway, `sluice run`, an embedding program): glibc's
// defaults hand the chunks' and batches' memory back to the kernel as soon as it is freed (big
// blocks are mmapped, the heap is trimmed), and every chunk then faults it in again: 77k page
// faults and ~0.4 s of system time per 100 MB through the gateway. Keeping freed memory for reuse
// costs nothing above the peak that the stream budgets already bound. Process-wide, so it is the
// program's choice: call it once at the start of main. Does nothing outside glibc.
void keep_freed_memory_for_reuse();

}  // namespace sluice
