#include "pipeline/registry.h"

#include "pipeline/stages/cast.h"
#include "pipeline/stages/compute.h"
#include "pipeline/stages/csv_parse.h"
#include "pipeline/stages/drop.h"
#include "pipeline/stages/filter.h"
#include "pipeline/stages/group_by.h"
#include "pipeline/stages/jsonl_parse.h"
#include "pipeline/stages/lines_parse.h"
#include "pipeline/stages/project.h"
#include "pipeline/stages/regex_extract.h"
#include "pipeline/stages/rename.h"

namespace sluice::pipeline {

std::string_view stage_kind_name(StageKind kind) {
  switch (kind) {
    case StageKind::Parse: return "parse";
    case StageKind::Transform: return "transform";
    case StageKind::Aggregate: return "aggregate";
  }
  return "?";
}

void StageRegistry::add(std::string name, StageKind kind, std::string summary, Factory factory) {
  entries_.insert_or_assign(std::move(name), Entry{kind, std::move(summary), std::move(factory)});
}

const StageRegistry::Entry* StageRegistry::find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

StageRegistry StageRegistry::with_builtins() {
  StageRegistry registry;
  register_builtin_stages(registry);
  return registry;
}

void register_builtin_stages(StageRegistry& registry) {
  register_csv_parse(registry);
  register_filter(registry);
  register_group_by(registry);
  register_jsonl_parse(registry);
  register_lines_parse(registry);
  register_project(registry);
  register_rename(registry);
  register_drop(registry);
  register_cast(registry);
  register_compute(registry);
  register_regex_extract(registry);
}

}  // namespace sluice::pipeline
