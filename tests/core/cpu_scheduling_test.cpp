#include "core/cpu_scheduling.h"

#include <sched.h>

#include <thread>

#include <gtest/gtest.h>

namespace sluice {
namespace {

// The policy of a thread started by the calling one.
int policy_of_a_new_thread() {
  int policy = -1;
  std::thread([&] { policy = sched_getscheduler(0); }).join();
  return policy;
}

// On a thread of its own, so that the test process's threads keep their policy.
TEST(CpuScheduling, BatchHoldsForTheThreadAndTheThreadsItStarts) {
  std::thread([] {
    ASSERT_EQ(use_cpu_scheduling(CpuScheduling::Batch), std::nullopt);
    EXPECT_EQ(sched_getscheduler(0), SCHED_BATCH);
    EXPECT_EQ(policy_of_a_new_thread(), SCHED_BATCH);
    ASSERT_EQ(use_cpu_scheduling(CpuScheduling::Normal), std::nullopt);
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
    EXPECT_EQ(policy_of_a_new_thread(), SCHED_OTHER);
  }).join();
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
}

}  // namespace
}  // namespace sluice
