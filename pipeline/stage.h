#pragma once
// The three kinds of stage a pipeline is made of. A stage object is built once from its typed
// config and shared by every stream that runs the pipeline; per-stream state lives in the objects
// that start_stream() returns.
#include <functional>
#include <memory>
#include <variant>

#include "core/framing.h"
#include "core/record.h"

namespace sluice::pipeline {

// Per-stream parser. prepare() sees every block serially and in input order (so it can take a
// header); parse() then runs concurrently on different blocks and must not mutate shared state.
class Parser {
 public:
  virtual ~Parser() = default;
  virtual void prepare(Block& block) { (void)block; }
  virtual void parse(const Block& block, RecordBatch& out) const = 0;
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

class AggregateStage {
 public:
  virtual ~AggregateStage() = default;
  virtual std::unique_ptr<Aggregator> start_stream() const = 0;
};

using StagePtr = std::variant<std::shared_ptr<const ParseStage>, std::shared_ptr<const TransformStage>,
                              std::shared_ptr<const AggregateStage>>;

}  // namespace sluice::pipeline
