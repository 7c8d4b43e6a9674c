#include "pipeline/stages/compute.h"

#include <fmt/format.h>

#include "pipeline/stages/fields.h"

namespace sluice::pipeline {

ComputeConfig ComputeConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "field", "expr"}, "stage 'compute'");
  const config::Node field = node.require("field", "stage 'compute'");
  const config::Node expr = node.require("expr", "stage 'compute'");
  ComputeConfig config{field.as_string(), expr.as_string()};
  if (config.field.empty()) field.fail("the field name must not be empty");
  try {
    expr::Expression::parse(config.expr);
  } catch (const expr::ParseError& e) {
    expr.fail_at(e.column() - 1, fmt::format("in compute expression: {}", e.what()));
  }
  return config;
}

ComputeStage::ComputeStage(const ComputeConfig& config)
    : field_(config.field), expression_(expr::Expression::parse(config.expr)) {}

void ComputeStage::apply(RecordBatch& batch) const {
  if (batch.rows() == 0) return;
  // Bound before the field is added, so that an expression cannot read its own new column.
  const expr::BoundExpression expression = expression_.bind(*batch.schema);
  const size_t column = add_columns(batch, {field_}).front();
  for (size_t r = 0; r < batch.rows(); ++r) {
    const auto row = batch.row(r);
    row[column] = expression.eval(row);
  }
}

void register_compute(StageRegistry& registry) {
  registry.add("compute", StageKind::Transform, "set a field to the value of an expression",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const ComputeStage>(ComputeConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
