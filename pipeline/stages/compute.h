#pragma once
// `compute`: sets a field to the value of an expression, e.g.
//   field: kib
//   expr: bytes / 1024
// The field is added after the others, or replaced in place when the input already has it (the
// expression still sees the old value). The expression language is in pipeline/expr/expression.h;
// evaluation never fails, so type mismatches and division by zero give null.
#include <string>

#include "config/node.h"
#include "pipeline/expr/expression.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

struct ComputeConfig {
  std::string field;
  std::string expr;

  static ComputeConfig from_yaml(const config::Node& node);
};

class ComputeStage : public TransformStage {
 public:
  explicit ComputeStage(const ComputeConfig& config);  // throws expr::ParseError
  void apply(RecordBatch& batch) const override;

 private:
  std::string field_;
  expr::Expression expression_;
};

void register_compute(StageRegistry& registry);

}  // namespace sluice::pipeline
