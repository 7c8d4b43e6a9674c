#include "pipeline/pipeline.h"

#include <fmt/format.h>

namespace sluice::pipeline {

namespace {

ErrorPolicy parse_error_policy(const config::Node& node) {
  const std::string s = node.as_string();
  if (s == "skip") return ErrorPolicy::Skip;
  if (s == "dead_letter") return ErrorPolicy::DeadLetter;
  if (s == "fail") return ErrorPolicy::Fail;
  node.fail(fmt::format("on_error must be skip, dead_letter or fail, got '{}'", s));
}

std::string known_stage_names(const StageRegistry& registry) {
  std::string names;
  for (const auto& [name, entry] : registry.entries()) names += fmt::format("{}{}", names.empty() ? "" : ", ", name);
  return names;
}

std::optional<std::vector<std::string>> fields_read_after_parse(const Pipeline& pipeline) {
  if (!pipeline.aggregate) return std::nullopt;
  std::optional<std::vector<std::string>> fields = pipeline.aggregate->fields_read();
  for (const auto& transform : pipeline.transforms) {
    if (!fields) return std::nullopt;
    const auto more = transform->fields_read();
    if (!more) return std::nullopt;
    fields->insert(fields->end(), more->begin(), more->end());
  }
  return fields;
}

// A count option where 0 means something (none, or "all cores"); negative values are config errors.
size_t non_negative_or(const config::Node& spec, std::string_view key, size_t fallback) {
  const auto n = spec.get(key);
  if (!n) return fallback;
  const int64_t value = n->as_int();
  if (value < 0) n->fail(fmt::format("{} must not be negative", key));
  return static_cast<size_t>(value);
}

}  // namespace

PipelinePtr build_pipeline(const std::string& name, const config::Node& spec, const StageRegistry& registry) {
  spec.expect_keys({"description", "on_error", "max_dead_letters", "max_rejection_reasons", "max_record_bytes",
                    "parallelism", "stages"},
                   fmt::format("pipeline '{}'", name));
  auto pipeline = std::make_shared<Pipeline>();
  pipeline->name = name;
  pipeline->description = spec.string_or("description", "");
  if (auto n = spec.get("on_error")) pipeline->options.on_error = parse_error_policy(*n);
  pipeline->options.max_dead_letters = non_negative_or(spec, "max_dead_letters", pipeline->options.max_dead_letters);
  if (auto n = spec.get("max_rejection_reasons")) {
    const int64_t reasons = n->as_int();
    if (reasons <= 0) n->fail("max_rejection_reasons must be positive");
    pipeline->options.max_rejection_reasons = static_cast<size_t>(reasons);
  }
  if (auto n = spec.get("max_record_bytes")) {
    pipeline->options.max_record_bytes = n->as_bytes();
    if (pipeline->options.max_record_bytes == 0) n->fail("max_record_bytes must be positive");
  }
  pipeline->options.parallelism = non_negative_or(spec, "parallelism", pipeline->options.parallelism);

  const config::Node stages = spec.require("stages", fmt::format("pipeline '{}'", name));
  const std::vector<config::Node> items = stages.items();
  if (items.empty()) stages.fail(fmt::format("pipeline '{}' has no stages", name));

  for (size_t i = 0; i < items.size(); ++i) {
    const config::Node& item = items[i];
    item.expect_map(fmt::format("stage {} of pipeline '{}'", i + 1, name));
    const config::Node type_node = item.require("type", fmt::format("stage {} of pipeline '{}'", i + 1, name));
    const std::string type = type_node.as_string();
    const StageRegistry::Entry* entry = registry.find(type);
    if (!entry) type_node.fail(fmt::format("unknown stage type '{}' (known: {})", type, known_stage_names(registry)));

    const bool first = i == 0;
    const bool last = i + 1 == items.size();
    if (first != (entry->kind == StageKind::Parse)) {
      type_node.fail(first ? fmt::format("the first stage must parse the input (e.g. csv), got {} stage '{}'",
                                         stage_kind_name(entry->kind), type)
                           : fmt::format("parse stage '{}' can only be the first stage", type));
    }
    if (entry->kind == StageKind::Aggregate && !last) {
      type_node.fail(fmt::format("aggregate stage '{}' must be the last stage", type));
    }

    StagePtr stage = entry->factory(item);
    std::visit(
        [&](auto&& s) {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, std::shared_ptr<const ParseStage>>) pipeline->parse = s;
          if constexpr (std::is_same_v<T, std::shared_ptr<const TransformStage>>) pipeline->transforms.push_back(s);
          if constexpr (std::is_same_v<T, std::shared_ptr<const AggregateStage>>) pipeline->aggregate = s;
        },
        stage);
    pipeline->stage_types.push_back(type);
  }
  pipeline->fields_read = fields_read_after_parse(*pipeline);
  return pipeline;
}

PipelineMap build_pipelines(const config::Node& pipelines, const StageRegistry& registry) {
  PipelineMap out;
  for (const auto& [name, spec] : pipelines.entries()) out.emplace(name, build_pipeline(name, spec, registry));
  if (out.empty()) pipelines.fail("no pipelines are configured");
  return out;
}

}  // namespace sluice::pipeline
