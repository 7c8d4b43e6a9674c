#include "core/cpu_scheduling.h"

#include <cerrno>
#include <cstring>

#if defined(__linux__)
#include <sched.h>
#endif

namespace sluice {

std::optional<std::string> use_cpu_scheduling(CpuScheduling policy) {
#if defined(__linux__)
  const sched_param priority{};  // the only priority of both policies
  if (sched_setscheduler(0, policy == CpuScheduling::Batch ? SCHED_BATCH : SCHED_OTHER, &priority) != 0) {
    return std::strerror(errno);
  }
  return std::nullopt;
#else
  if (policy == CpuScheduling::Normal) return std::nullopt;
  return "SCHED_BATCH is Linux's";
#endif
}

}  // namespace sluice
