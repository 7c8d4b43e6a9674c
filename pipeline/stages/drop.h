#pragma once
// `drop`: removes the listed fields, e.g. `fields: [user_agent]`; the others keep their order.
// A listed field that the input lacks fails the stream, naming it.
#include <string>
#include <utility>
#include <vector>

#include "config/node.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

struct DropConfig {
  std::vector<std::string> fields;

  static DropConfig from_yaml(const config::Node& node);
};

class DropStage : public TransformStage {
 public:
  explicit DropStage(DropConfig config) : config_(std::move(config)) {}
  void apply(RecordBatch& batch) const override;

 private:
  DropConfig config_;
};

void register_drop(StageRegistry& registry);

}  // namespace sluice::pipeline
