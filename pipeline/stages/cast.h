#pragma once
// `cast`: converts fields to another type, e.g.
//   fields: {status: int, latency: {to: double, on_error: null}, ok: bool, id: string}
//   on_error: reject        # the default for fields that do not set their own
// Conversions: anything to string via its display text; int, double and bool from strings by
// strict parsing; int to double; double to int only when integral. Bools and numbers do not
// convert into each other. Null stays null. A value that does not convert either rejects the
// record (`reject`, the default) or becomes null (`null`).
#include <string>
#include <utility>
#include <vector>

#include "config/node.h"
#include "core/value.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

enum class CastFailure { Reject, Null };

struct CastField {
  std::string name;
  ValueType to = ValueType::String;
  CastFailure on_error = CastFailure::Reject;
};

struct CastConfig {
  std::vector<CastField> fields;  // in config order

  static CastConfig from_yaml(const config::Node& node);
};

class CastStage : public TransformStage {
 public:
  explicit CastStage(CastConfig config) : config_(std::move(config)) {}
  void apply(RecordBatch& batch) const override;

 private:
  CastConfig config_;
};

void register_cast(StageRegistry& registry);

}  // namespace sluice::pipeline
