#pragma once
// Stage factories registered by name (the `type:` of a stage in YAML). The built-in stages are
// registered by builtin(); embedding programs can add their own to a registry of theirs.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/node.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

enum class StageKind { Parse, Transform, Aggregate };
std::string_view stage_kind_name(StageKind kind);

class StageRegistry {
 public:
  // Builds a stage from its options node: the stage's whole map, so a factory's expect_keys
  // must list "type" along with its own keys.
  using Factory = std::function<StagePtr(const config::Node& options)>;

  struct Entry {
    StageKind kind;
    std::string summary;
    Factory factory;
  };

  void add(std::string name, StageKind kind, std::string summary, Factory factory);
  const Entry* find(std::string_view name) const;
  const std::map<std::string, Entry, std::less<>>& entries() const { return entries_; }

  // A registry holding every built-in stage.
  static StageRegistry with_builtins();

 private:
  std::map<std::string, Entry, std::less<>> entries_;
};

// Registers each built-in stage; one line per stage in registry.cpp.
void register_builtin_stages(StageRegistry& registry);

}  // namespace sluice::pipeline
