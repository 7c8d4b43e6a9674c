#pragma once
// A pipeline: one parse stage, zero or more transforms, at most one aggregate, plus the policy for
// records that a stage rejects. Built once from its spec and shared by all streams that run it.
#include <map>
#include <string_view>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/node.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

// What happens to a record a stage cannot accept.
enum class ErrorPolicy {
  Skip,        // count it by reason and go on
  DeadLetter,  // count it and return it (with reason and input position) in the summary
  Fail,        // fail the stream with INVALID_ARGUMENT naming its line, offset and field
};

struct PipelineOptions {
  ErrorPolicy on_error = ErrorPolicy::Skip;
  size_t max_dead_letters = 1000;          // beyond this, dead letters are only counted
  // Reasons often quote the bad value, so a stream may bring any number of distinct ones: beyond
  // this many, rejections are counted under kOtherRejectionReasons (memory stays bounded).
  size_t max_rejection_reasons = 100;
  size_t max_record_bytes = 1 << 20;       // one record (e.g. a CSV row) may not be longer
  size_t parallelism = 0;                  // workers per parallel stage; 0 = all cores
};

inline constexpr std::string_view kOtherRejectionReasons = "(other reasons)";

struct Pipeline {
  std::string name;
  std::string description;
  PipelineOptions options;
  std::vector<std::string> stage_types;  // in order, as configured
  std::shared_ptr<const ParseStage> parse;
  std::vector<std::shared_ptr<const TransformStage>> transforms;
  std::shared_ptr<const AggregateStage> aggregate;  // null: the transformed records are the result
  // Every field a stage after the parser reads, when all of them can say and the result is an
  // aggregate (records as results show every field); nullopt otherwise. See Parser::read_only.
  std::optional<std::vector<std::string>> fields_read;

  const std::string& format() const { return stage_types.front(); }
};
using PipelinePtr = std::shared_ptr<const Pipeline>;
using PipelineMap = std::map<std::string, PipelinePtr, std::less<>>;

// Builds one pipeline from its YAML spec (a map with `stages:` and options); errors carry file:line:col.
PipelinePtr build_pipeline(const std::string& name, const config::Node& spec, const StageRegistry& registry);

// The `pipelines:` section of a config: a map of name -> spec.
PipelineMap build_pipelines(const config::Node& pipelines, const StageRegistry& registry);

}  // namespace sluice::pipeline
