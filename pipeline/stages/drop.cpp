#include "pipeline/stages/drop.h"

#include "pipeline/stages/fields.h"

namespace sluice::pipeline {

DropConfig DropConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "fields"}, "stage 'drop'");
  return DropConfig{field_name_list(node.require("fields", "stage 'drop'"))};
}

void DropStage::apply(RecordBatch& batch) const {
  if (batch.rows() == 0) return;
  std::vector<char> dropped(batch.width(), 0);
  for (const std::string& field : config_.fields) dropped[field_index(*batch.schema, field, "drop field")] = 1;
  std::vector<size_t> kept;
  for (size_t column = 0; column < batch.width(); ++column) {
    if (!dropped[column]) kept.push_back(column);
  }
  select_columns(batch, kept);
}

void register_drop(StageRegistry& registry) {
  registry.add("drop", StageKind::Transform, "remove the listed fields",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const DropStage>(DropConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
