#pragma once
// `project`: keeps only the listed fields, in the listed order, e.g. `fields: [country, status]`.
// A listed field that the input lacks fails the stream, naming it.
#include <string>
#include <utility>
#include <vector>

#include "config/node.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

struct ProjectConfig {
  std::vector<std::string> fields;

  static ProjectConfig from_yaml(const config::Node& node);
};

class ProjectStage : public TransformStage {
 public:
  explicit ProjectStage(ProjectConfig config) : config_(std::move(config)) {}
  void apply(RecordBatch& batch) const override;

 private:
  ProjectConfig config_;
};

void register_project(StageRegistry& registry);

}  // namespace sluice::pipeline
