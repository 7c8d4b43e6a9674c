#pragma once
// Aggregates from the catalogue (pipeline/stages/aggregate_functions.h), for tests.
#include <stdexcept>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "pipeline/stages/aggregate_functions.h"

namespace sluice::testing {

// The catalogue's function of that name with these arguments; the field defaults to "v".
inline pipeline::BoundAggregate bound(std::string_view function, pipeline::AggregateArgs args = {}) {
  const pipeline::AggregateFunction* f = pipeline::find_aggregate_function(function);
  if (!f) throw std::runtime_error(fmt::format("no function {}", function));
  if (args.field.empty()) args.field = "v";
  return {f, std::move(args)};
}

}  // namespace sluice::testing
