#pragma once
// `filter`: keeps the records for which an expression is true, e.g.
//   where: status >= 400 and country in ('DE', 'FR')
// Records for which it is false or null are dropped (and counted as filtered).
// First in line after a parser that can (csv, jsonl), it is applied by the parser as it reads
// (row_predicate, Parser::keep_only), and the rows it drops are never built.
#include <string>

#include "config/node.h"
#include "pipeline/expr/expression.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

struct FilterConfig {
  std::string where;

  static FilterConfig from_yaml(const config::Node& node);
};

class FilterStage : public TransformStage {
 public:
  explicit FilterStage(const FilterConfig& config);  // throws expr::ParseError
  void apply(RecordBatch& batch) const override;
  std::optional<std::vector<std::string>> fields_read() const override { return predicate_.fields(); }
  const expr::Expression* row_predicate() const override { return &predicate_; }

 private:
  expr::Expression predicate_;
};

void register_filter(StageRegistry& registry);

}  // namespace sluice::pipeline
