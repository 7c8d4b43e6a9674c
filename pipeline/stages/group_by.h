#pragma once
// `group_by`: groups records by one or more key fields and computes aggregates per group
// (count, sum, mean, min, max, ...). The result is emitted at the end of the input, one row per
// group, sorted by key so that runs are reproducible.
#include <string>
#include <vector>

#include "config/node.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"
#include "pipeline/stages/aggregate_functions.h"

namespace sluice::pipeline {

struct AggregateSpec {
  std::string function;  // a name from aggregate_functions()
  std::string field;     // empty for count(*)
  std::string as;        // output column name
};

struct GroupByConfig {
  std::vector<std::string> keys;
  std::vector<AggregateSpec> aggregates;
  size_t max_groups = 1'000'000;  // bounds memory; more groups fail the stream (RESOURCE_EXHAUSTED)

  static GroupByConfig from_yaml(const config::Node& node);
};

class GroupByStage : public AggregateStage {
 public:
  explicit GroupByStage(GroupByConfig config);
  std::unique_ptr<Aggregator> start_stream() const override;
  const GroupByConfig& config() const { return config_; }

 private:
  GroupByConfig config_;
  std::vector<const AggregateFunction*> functions_;  // parallel to config_.aggregates
};

void register_group_by(StageRegistry& registry);

}  // namespace sluice::pipeline
