#pragma once
// `group_by`: groups records by one or more key fields and computes aggregates per group
// (count, sum, mean, quantiles, top_k, ...; see aggregate_functions.h). Results have one row per
// group, sorted by key so that runs are reproducible. Without `window:` one result comes at the
// end of the input; with a window (see windows.h) each window's result is emitted as soon as the
// window is complete, while the input is still streaming in.
//
// Memory: max_groups bounds the groups of all open windows together (one window without
// `window:`); more fail the stream with RESOURCE_EXHAUSTED.
//
// Concurrency: without a window the engine splits the groups by key over partitions that run in
// parallel (PartitionedAggregator), each seeing its keys' records in input order, so the results
// are exactly those of one serial pass. Windows close as the input goes by, so a windowed group_by
// sees every record in one serial pass.
#include <string>
#include <vector>

#include "config/node.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"
#include "pipeline/stages/aggregate_functions.h"
#include "pipeline/stages/windows.h"

namespace sluice::pipeline {

struct AggregateSpec {
  std::string function;  // a name from aggregate_functions()
  std::string as;        // output column name
  AggregateArgs args;    // the input field and the function's options
};

struct GroupByConfig {
  std::vector<std::string> keys;
  std::vector<AggregateSpec> aggregates;
  size_t max_groups = 1'000'000;  // over all open windows; more groups fail the stream (RESOURCE_EXHAUSTED)
  WindowConfig window;

  static GroupByConfig from_yaml(const config::Node& node);
};

class GroupByStage : public AggregateStage {
 public:
  explicit GroupByStage(GroupByConfig config);
  std::unique_ptr<Aggregator> start_stream() const override;
  // Without a window, records are split by key over the partitions.
  std::unique_ptr<PartitionedAggregator> start_partitioned(size_t partitions) const override;
  std::optional<std::vector<std::string>> fields_read() const override;
  const GroupByConfig& config() const { return config_; }

 private:
  GroupByConfig config_;
  std::vector<BoundAggregate> aggregates_;  // parallel to config_.aggregates
};

void register_group_by(StageRegistry& registry);

}  // namespace sluice::pipeline
