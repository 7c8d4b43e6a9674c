// RecordBatch::memory_bytes, what a stream's in-flight budget counts for a parsed batch.
#include "core/record.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

RecordBatch batch_of(size_t rows, const Value& cell) {
  RecordBatch batch;
  batch.schema = std::make_shared<const Schema>(std::vector<std::string>{"a", "b"});
  for (size_t r = 0; r < rows; ++r) {
    batch.cells.push_back(cell);
    batch.cells.push_back(Value{int64_t(r)});
    batch.origins.push_back({r * 10, r + 1});
  }
  return batch;
}

TEST(RecordBatch, MemoryCountsTheCellsAndOriginsAsAllocated) {
  EXPECT_EQ(RecordBatch{}.memory_bytes(), 0u);
  RecordBatch batch = batch_of(100, Value{1.5});
  EXPECT_EQ(batch.memory_bytes(), batch.cells.capacity() * sizeof(Value) + batch.origins.capacity() * sizeof(Origin));
  batch.cells.reserve(1000);  // capacity held, not size, is what the batch costs
  EXPECT_GE(batch.memory_bytes(), 1000 * sizeof(Value));
}

TEST(RecordBatch, MemoryCountsTheTextOfLongStringsAndOfRejections) {
  const size_t short_strings = batch_of(100, Value{std::string("US")}).memory_bytes();
  EXPECT_EQ(short_strings, batch_of(100, Value{int64_t(7)}).memory_bytes());  // kept inside the Value
  const size_t long_strings = batch_of(100, Value{std::string(1000, 'x')}).memory_bytes();
  EXPECT_GE(long_strings, short_strings + 100 * 1000);

  RecordBatch batch = batch_of(10, Value{});
  const size_t before = batch.memory_bytes();
  batch.reject(3, std::string(500, 'r'), "a");
  EXPECT_GE(batch.memory_bytes(), before + sizeof(Rejection) + 500);
}

}  // namespace
}  // namespace sluice
