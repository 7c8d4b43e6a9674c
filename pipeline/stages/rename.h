#pragma once
// `rename`: renames fields, e.g. `fields: {latency_ms: latency, bytes: size}`. The renames apply
// together, so `{a: b, b: a}` swaps two names. An old name the input lacks, or a new name that
// another field already has, fails the stream.
#include <string>
#include <utility>
#include <vector>

#include "config/node.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

struct RenameConfig {
  std::vector<std::pair<std::string, std::string>> renames;  // old name, new name; in config order

  static RenameConfig from_yaml(const config::Node& node);
};

class RenameStage : public TransformStage {
 public:
  explicit RenameStage(RenameConfig config) : config_(std::move(config)) {}
  void apply(RecordBatch& batch) const override;

 private:
  RenameConfig config_;
};

void register_rename(StageRegistry& registry);

}  // namespace sluice::pipeline
