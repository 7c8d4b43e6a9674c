// keep_freed_memory_for_reuse, seen through glibc's own accounting in a fresh process (each check
// runs in a child started by re-running this executable, so no earlier allocation has moved
// glibc's adaptive thresholds): a freed 1 MiB block stays in the heap instead of going back to the
// kernel, which it does under glibc's defaults (the second test shows that this check can fail),
// and a second thread allocates from the same heap as the first instead of from one of its own.
#include <malloc.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>

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

// Allocates in this thread and in a second one, both blocks alive at once (a thread that has exited
// hands its heap on to the next one); exits with the number of heaps that malloc_info reports.
[[noreturn]] void exit_with_the_heap_count_after_two_threads_allocate() {
  void* volatile mine = std::malloc(kBlock);
  void* volatile theirs = nullptr;
  std::thread([&] { theirs = std::malloc(kBlock); }).join();
  char* report = nullptr;
  size_t length = 0;
  FILE* out = open_memstream(&report, &length);
  if (!mine || !theirs || !out || malloc_info(0, out) != 0) std::_Exit(100);
  std::fclose(out);
  const std::string_view text(report, length);
  int heaps = 0;
  for (size_t at = text.find("<heap nr="); at != std::string_view::npos; at = text.find("<heap nr=", at + 1)) ++heaps;
  std::_Exit(heaps);
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

TEST_F(ProcessMemory, TwoThreadsAllocateFromOneHeap) {
  EXPECT_EXIT(
      {
        keep_freed_memory_for_reuse();
        exit_with_the_heap_count_after_two_threads_allocate();
      },
      ::testing::ExitedWithCode(1), "");
}

TEST_F(ProcessMemory, AnArenaCountFromTheEnvironmentIsLeftToRule) {
  EXPECT_EXIT(
      {
        setenv("MALLOC_ARENA_MAX", "8", 1);  // as if the program had been started with it
        keep_freed_memory_for_reuse();
        exit_with_the_heap_count_after_two_threads_allocate();
      },
      ::testing::ExitedWithCode(2), "");
}

TEST_F(ProcessMemory, UnderGlibcsDefaultsAFreedMegabyteGoesBackToTheKernel) {
  EXPECT_EXIT(
      exit_with_whether_a_freed_block_is_kept(), [](int status) { return !exited_zero(status); }, "");
}

}  // namespace
}  // namespace sluice
