#pragma once
// The scheduling policy of a process that streams data through threads of its own (the gateway,
// the benchmark's baseline servers).
#include <optional>
#include <string>

namespace sluice {

enum class CpuScheduling {
  Normal,  // the default policy (SCHED_OTHER): a thread that wakes may preempt a running one
  // SCHED_BATCH: a thread that wakes waits for a CPU to come free, or for the running thread's
  // turn to end, rather than preempting it. Measured (README, "Operating the gateway"): with both
  // cores busy, the gateway's gRPC threads, woken for every few received messages, preempted the
  // pipeline's workers thousands of times per stream; as batch threads they do not.
  Batch,
};

// Sets the calling thread's policy; threads it starts afterwards inherit it. Process-wide when
// called at the start of main, before any thread starts. Returns why it failed (say, a seccomp
// filter), or nullopt. Outside Linux, only Normal succeeds.
std::optional<std::string> use_cpu_scheduling(CpuScheduling policy);

}  // namespace sluice
