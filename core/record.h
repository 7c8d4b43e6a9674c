#pragma once
// Records travel between stages in batches: one schema, row-major cells, and where each row came
// from in the input so that errors can name a line and byte offset.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/value.h"

namespace sluice {

class Schema {
 public:
  explicit Schema(std::vector<std::string> names);
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }
  // -1 when absent. Linear scan: schemas are small and lookups happen once per batch.
  int index_of(std::string_view name) const;

 private:
  std::vector<std::string> names_;
};
using SchemaPtr = std::shared_ptr<const Schema>;

// Position of a record in the stream's input: byte offset of its first byte, 1-based line number.
struct Origin {
  uint64_t offset = 0;
  uint64_t line = 0;
};

// A record that a stage could not accept, with the reason and the field at fault (if any).
struct Rejection {
  std::string reason;
  std::string field;
  Origin origin;
  std::string record;  // the offending input text (clipped), for dead letters
};

// The longest prefix of `text` of at most `max_bytes` that does not cut a UTF-8 character.
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);

struct RecordBatch {
  SchemaPtr schema;
  std::vector<Value> cells;    // rows() * width(), row-major
  std::vector<Origin> origins;  // one per row
  std::vector<Rejection> rejections;

  size_t width() const { return schema ? schema->size() : 0; }
  size_t rows() const { return origins.size(); }
  std::span<Value> row(size_t r) { return {cells.data() + r * width(), width()}; }
  std::span<const Value> row(size_t r) const { return {cells.data() + r * width(), width()}; }

  // Keeps only the rows whose flag is set, preserving order.
  void keep_rows(const std::vector<char>& keep) {
    keep_rows_if([&](size_t r) { return keep[r] != 0; });
  }
  // Keeps only the rows r for which keep(r) is true, preserving order, in one pass: keep(r) is
  // asked before row r moves, so it may read the row (r counts the rows as they were).
  template <typename Keep>
  void keep_rows_if(Keep&& keep) {
    const size_t w = width();
    const size_t n = rows();
    size_t out = 0;
    for (size_t r = 0; r < n; ++r) {
      if (!keep(r)) continue;
      if (out != r) {
        std::move(cells.begin() + r * w, cells.begin() + (r + 1) * w, cells.begin() + out * w);
        origins[out] = origins[r];
      }
      ++out;
    }
    cells.resize(out * w);
    origins.resize(out);
  }
  // Records a rejection for row r; the caller then drops the row (usually with keep_rows).
  void reject(size_t r, std::string reason, std::string field = {});

  // The heap memory the batch holds: its vectors as allocated, and the strings too long to be
  // kept inside their object. What the engine counts against a stream's in-flight budget.
  size_t memory_bytes() const;
};

// Aggregate output: a small table, plus the window it belongs to when windows are configured.
struct ResultBatch {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
  bool windowed = false;
  int64_t window_start = 0;  // inclusive; record index or event time, per the window kind
  int64_t window_end = 0;    // exclusive
};

}  // namespace sluice
