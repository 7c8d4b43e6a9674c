#include "pipeline/stages/rename.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "pipeline/stages/fields.h"

namespace sluice::pipeline {

RenameConfig RenameConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "fields"}, "stage 'rename'");
  const config::Node fields = node.require("fields", "stage 'rename'");
  RenameConfig config;
  for (const auto& [old_name, new_name_node] : fields.entries()) {
    std::string new_name = new_name_node.as_string();
    const bool taken = std::any_of(config.renames.begin(), config.renames.end(),
                                   [&](const auto& rename) { return rename.second == new_name; });
    if (taken) new_name_node.fail(fmt::format("two fields would be renamed to '{}'", new_name));
    config.renames.emplace_back(old_name, std::move(new_name));
  }
  if (config.renames.empty()) fields.fail("expected at least one `old: new` pair");
  return config;
}

void RenameStage::apply(RecordBatch& batch) const {
  if (batch.rows() == 0) return;
  const Schema& input = *batch.schema;
  std::vector<std::string> names = input.names();
  for (const auto& [old_name, new_name] : config_.renames) {
    names[field_index(input, old_name, "rename field")] = new_name;
  }
  for (const auto& [old_name, new_name] : config_.renames) {
    if (std::count(names.begin(), names.end(), new_name) > 1) {
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("rename of '{}' to '{}' gives two fields named '{}'", old_name, new_name, new_name));
    }
  }
  batch.schema = std::make_shared<const Schema>(std::move(names));
}

void register_rename(StageRegistry& registry) {
  registry.add("rename", StageKind::Transform, "rename fields",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const RenameStage>(RenameConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
