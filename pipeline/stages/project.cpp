#include "pipeline/stages/project.h"

#include "pipeline/stages/fields.h"

namespace sluice::pipeline {

ProjectConfig ProjectConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "fields"}, "stage 'project'");
  return ProjectConfig{field_name_list(node.require("fields", "stage 'project'"))};
}

void ProjectStage::apply(RecordBatch& batch) const {
  if (batch.rows() == 0) return;
  std::vector<size_t> columns;
  columns.reserve(config_.fields.size());
  for (const std::string& field : config_.fields) columns.push_back(field_index(*batch.schema, field, "project field"));
  select_columns(batch, columns);
}

void register_project(StageRegistry& registry) {
  registry.add("project", StageKind::Transform, "keep only the listed fields, in the listed order",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const ProjectStage>(ProjectConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
