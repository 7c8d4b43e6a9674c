#pragma once
// The functions group_by can compute per group. Each group holds one Accumulator per configured
// aggregate (see group_table.h); add() sees the field's value (null when the record lacks it or for
// count(*)).
//
// Memory per group: constant for count, sum, mean, min, max, first and last; for the quantile
// sketches, at most 2048 counters per sign at the default accuracy (more for finer, ddsketch.h) and
// up to 256 values waiting to be added; one entry per distinct value for
// count_distinct and top_k, which count exactly and so are capped by `max_distinct`.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/value.h"
#include "pipeline/stages/ddsketch.h"

namespace sluice::pipeline {

class Accumulator {
 public:
  virtual ~Accumulator() = default;
  // May throw Error(ResourceExhausted) when the group outgrows a limit of the function.
  virtual void add(const Value& value) = 0;
  // Not const: an accumulator may keep the latest values aside and fold them in here.
  virtual Value result() = 0;
};

// Per-aggregate parameters from the config; each function reads the ones it declares.
struct AggregateArgs {
  std::string field;  // empty for count(*)
  double quantile = 0.5;                                          // `q`
  double relative_accuracy = DDSketch::kDefaultRelativeAccuracy;  // quantile sketches
  size_t k = 3;                                                   // top_k
  size_t max_distinct = 100'000;                                  // count_distinct, top_k
};

// The optional config keys of an aggregate item, beyond fn, field and as.
enum class AggregateOption { Quantile, RelativeAccuracy, K, MaxDistinct };
std::string_view option_key(AggregateOption option);

// How a function's accumulator is built in storage the caller provides: `size` bytes aligned to
// `alignment` (at most what `operator new` guarantees), so that a group's accumulators can share
// one allocation.
struct AccumulatorBuilder {
  size_t size = 0;
  size_t alignment = 1;
  std::function<Accumulator*(void* where, const AggregateArgs&)> build;
};

struct AggregateFunction {
  std::string_view name;
  std::string_view summary;
  bool needs_field = true;    // count may go without one (counts records)
  bool numeric_only = false;  // non-null inputs that are not numbers make the record rejected
  bool finite_only = false;   // ... and so do infinities and NaN (a sketch has no bucket for them)
  std::vector<AggregateOption> options = {};  // the optional keys this function accepts
  std::optional<AggregateOption> required_option = {};
  AccumulatorBuilder accumulator;
};

const AggregateFunction* find_aggregate_function(std::string_view name);
const std::vector<AggregateFunction>& aggregate_functions();

// One configured aggregate: its function and arguments.
struct BoundAggregate {
  const AggregateFunction* function;
  AggregateArgs args;
};

}  // namespace sluice::pipeline
