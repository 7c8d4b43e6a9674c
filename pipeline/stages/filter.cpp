#include "pipeline/stages/filter.h"

#include <fmt/format.h>

namespace sluice::pipeline {

FilterConfig FilterConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "where"}, "stage 'filter'");
  const config::Node where = node.require("where", "stage 'filter'");
  FilterConfig config{where.as_string()};
  try {
    expr::Expression::parse(config.where);
  } catch (const expr::ParseError& e) {
    where.fail_at(e.column() - 1, fmt::format("in filter expression: {}", e.what()));
  }
  return config;
}

FilterStage::FilterStage(const FilterConfig& config) : predicate_(expr::Expression::parse(config.where)) {}

void FilterStage::apply(RecordBatch& batch) const {
  if (batch.rows() == 0) return;
  const expr::BoundExpression predicate = predicate_.bind(*batch.schema);
  batch.keep_rows_if([&](size_t r) { return predicate.test(batch.row(r)); });
}

void register_filter(StageRegistry& registry) {
  registry.add("filter", StageKind::Transform, "keep the records for which an expression is true",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const FilterStage>(FilterConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
