#pragma once
// The three kinds of stage a pipeline is made of. A stage object is built once from its typed
// config and shared by every stream that runs the pipeline; per-stream state lives in the objects
// that start_stream() returns.
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/framing.h"
#include "core/record.h"

namespace sluice::expr {
class Expression;
}

namespace sluice::pipeline {

// Per-stream parser. prepare() sees every block serially and in input order (so it can take a
// header); parse() then runs concurrently on different blocks and must not mutate shared state.
class Parser {
 public:
  virtual ~Parser() = default;
  virtual void prepare(Block& block) { (void)block; }
  // Returns how many records it read: the rows and rejections it added to `out`, and the records
  // a predicate given to keep_only() dropped.
  virtual size_t parse(const Block& block, RecordBatch& out) const = 0;
  // Called before the first block when nothing downstream reads fields other than `names`: the
  // parser may then leave the other fields null, or out of its rows, where that cannot change
  // which records it rejects (a typed field is still checked). Building values nobody reads is
  // most of parsing.
  virtual void read_only(const std::vector<std::string>& names) { (void)names; }
  // Called before the first block, after read_only(), when the first transform only drops rows
  // (TransformStage::row_predicate). A parser that returns true keeps only the records for which
  // `predicate` is true, as that transform would, and the engine then skips the transform: the
  // rows it would drop are never built. The records the parser rejects must stay the same.
  virtual bool keep_only(const expr::Expression& predicate) {
    (void)predicate;
    return false;
  }
};

class ParseStage {
 public:
  virtual ~ParseStage() = default;
  virtual Framing framing() const = 0;
  virtual std::unique_ptr<Parser> start_stream() const = 0;
};

// Stateless record transform; apply() runs concurrently on different batches.
class TransformStage {
 public:
  virtual ~TransformStage() = default;
  virtual void apply(RecordBatch& batch) const = 0;
  // The only fields apply() reads, if it can say so (and passes every other field through
  // untouched); nullopt: it may read or reshape any field.
  virtual std::optional<std::vector<std::string>> fields_read() const { return std::nullopt; }
  // For a transform that only drops rows, and keeps those for which this predicate is true (a
  // filter): the predicate, which a parser may apply instead (Parser::keep_only). Else null.
  virtual const expr::Expression* row_predicate() const { return nullptr; }
};

using Emit = std::function<void(ResultBatch&&)>;

// Per-stream aggregation state; consume() is called serially, in input order.
class Aggregator {
 public:
  virtual ~Aggregator() = default;
  // May reject records (batch.reject + drop the row); the engine then applies the error policy.
  virtual void consume(RecordBatch& batch, const Emit& emit) = 0;
  virtual void finish(const Emit& emit) = 0;
};

// Per-stream aggregation state split by key into partitions that run concurrently, for aggregates
// whose result does not depend on how records of different keys interleave: every record of one key
// goes to the same partition, and each partition sees its records in input order, so the result is
// the one Aggregator would give.
class PartitionedAggregator {
 public:
  virtual ~PartitionedAggregator() = default;
  // Concurrent, on batches in any order: rejects the records consume() could not take (batch.reject
  // + drop the row) and sets the route of every remaining row: a value of the aggregator's own
  // (group_by's is the key's hash), from which consume() tells the row's partition.
  virtual void route(RecordBatch& batch, std::vector<uint64_t>& route_of_row) const = 0;
  // Serial for each partition, in input order; different partitions run concurrently. Must not
  // reject records; may throw Error (e.g. a limit), which fails the stream.
  virtual void consume(size_t partition, const RecordBatch& batch, std::span<const uint64_t> route_of_row) = 0;
  // Once every partition has consumed all the input.
  virtual void finish(const Emit& emit) = 0;
};

class AggregateStage {
 public:
  virtual ~AggregateStage() = default;
  virtual std::unique_ptr<Aggregator> start_stream() const = 0;
  // nullptr when the aggregate needs every record in one place (e.g. windows that close in input
  // order); the engine then runs start_stream()'s Aggregator.
  virtual std::unique_ptr<PartitionedAggregator> start_partitioned(size_t partitions) const {
    (void)partitions;
    return nullptr;
  }
  // As TransformStage::fields_read: the only fields the aggregate reads; nullopt: any.
  virtual std::optional<std::vector<std::string>> fields_read() const { return std::nullopt; }
};

using StagePtr = std::variant<std::shared_ptr<const ParseStage>, std::shared_ptr<const TransformStage>,
                              std::shared_ptr<const AggregateStage>>;

}  // namespace sluice::pipeline
