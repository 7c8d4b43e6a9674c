// keep_freed_memory_for_reuse, seen through glibc's own accounting in a fresh process (each check
// runs in a child started by re-running this executable, so no earlier allocation has moved
// glibc's adaptive thresholds): a freed 1 MiB block stays in the heap instead of going back to the
// kernel, which it does under glibc's defaults (the second test shows that this check can fail).
#include <malloc.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#include "core/process_memory.h"

namespace sluice {
namespace {

constexpr size_t kBlock = 1 << 20;

// Allocates, touches and frees a block; exits 0 if the heap still holds it as free memory.
[[noreturn]] void exit_with_whether_a_freed_block_is_kept() {
  void* volatile block = std::malloc(kBlock);  // volatile: the allocation must happen
  if (!block) std::_Exit(2);
  std::memset(block, 1, kBlock);
  std::free(block);
  std::_Exit(mallinfo2().fordblks >= kBlock ? 0 : 1);
}

bool exited_zero(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

class ProcessMemory : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "the sanitizers replace glibc's allocator";
#endif
    GTEST_FLAG_SET(death_test_style, "threadsafe");
  }
};

TEST_F(ProcessMemory, AFreedMegabyteStaysInTheHeapForReuse) {
  EXPECT_EXIT(
      {
        keep_freed_memory_for_reuse();
        exit_with_whether_a_freed_block_is_kept();
      },
      exited_zero, "");
}

TEST_F(ProcessMemory, UnderGlibcsDefaultsAFreedMegabyteGoesBackToTheKernel) {
  EXPECT_EXIT(
      exit_with_whether_a_freed_block_is_kept(), [](int status) { return !exited_zero(status); }, "");
}

}  // namespace
}  // namespace sluice
