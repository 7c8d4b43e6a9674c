#pragma once
// The functions group_by can compute per group. Each group holds one Accumulator per configured
// aggregate; add() sees the field's value (null when the record lacks it or for count(*)).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/value.h"

namespace sluice::pipeline {

class Accumulator {
 public:
  virtual ~Accumulator() = default;
  virtual void add(const Value& value) = 0;
  virtual Value result() const = 0;
};

// Per-aggregate parameters from the config.
struct AggregateArgs {
  bool has_field = false;
};

struct AggregateFunction {
  std::string_view name;
  std::string_view summary;
  bool needs_field;   // count may go without one (counts records)
  bool numeric_only;  // non-null inputs that are not numbers make the record rejected
  std::function<std::unique_ptr<Accumulator>(const AggregateArgs&)> make;
};

const AggregateFunction* find_aggregate_function(std::string_view name);
const std::vector<AggregateFunction>& aggregate_functions();

}  // namespace sluice::pipeline
