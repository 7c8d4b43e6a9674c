#include "pipeline/stages/group_by.h"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "core/error.h"
#include "pipeline/stages/fields.h"

namespace sluice::pipeline {

namespace {

using Key = std::vector<Value>;

struct KeyHash {
  size_t operator()(const Key& key) const noexcept {
    size_t h = 0;
    for (const Value& v : key) h = h * 1000003u ^ ValueHash{}(v);
    return h;
  }
};
struct KeyEqual {
  bool operator()(const Key& a, const Key& b) const noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), ValueEqual{});
  }
};

class GroupByAggregator : public Aggregator {
 public:
  GroupByAggregator(const GroupByConfig& config, const std::vector<const AggregateFunction*>& functions)
      : config_(config), functions_(functions) {}

  void consume(RecordBatch& batch, const Emit&) override {
    if (batch.rows() == 0) return;
    bind(batch.schema);
    std::vector<char> keep(batch.rows(), 1);
    bool rejected = false;
    Key key(config_.keys.size());
    for (size_t r = 0; r < batch.rows(); ++r) {
      const auto row = batch.row(r);
      if (reject_non_numeric(batch, r)) {
        keep[r] = 0;
        rejected = true;
        continue;
      }
      for (size_t k = 0; k < key_columns_.size(); ++k) key[k] = row[key_columns_[k]];
      auto it = groups_.find(key);
      if (it == groups_.end()) {
        if (groups_.size() >= config_.max_groups) {
          throw Error(ErrorCode::ResourceExhausted,
                      fmt::format("group_by: more than {} groups (max_groups) at line {}", config_.max_groups,
                                  batch.origins[r].line));
        }
        it = groups_.emplace(key, new_group()).first;
      }
      auto& accumulators = it->second;
      for (size_t a = 0; a < accumulators.size(); ++a) {
        const int column = value_columns_[a];
        accumulators[a]->add(column < 0 ? kNull : row[static_cast<size_t>(column)]);
      }
    }
    if (rejected) batch.keep_rows(keep);
  }

  void finish(const Emit& emit) override {
    ResultBatch result;
    result.columns = config_.keys;
    for (const AggregateSpec& spec : config_.aggregates) result.columns.push_back(spec.as);
    std::vector<const std::pair<const Key, Group>*> sorted;
    sorted.reserve(groups_.size());
    for (const auto& entry : groups_) sorted.push_back(&entry);
    std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
      return std::lexicographical_compare(a->first.begin(), a->first.end(), b->first.begin(), b->first.end(),
                                          [](const Value& x, const Value& y) { return compare_values(x, y) < 0; });
    });
    for (const auto* entry : sorted) {
      std::vector<Value> row = entry->first;
      for (const auto& accumulator : entry->second) row.push_back(accumulator->result());
      result.rows.push_back(std::move(row));
    }
    emit(std::move(result));
  }

 private:
  using Group = std::vector<std::unique_ptr<Accumulator>>;
  static inline const Value kNull{};

  void bind(const SchemaPtr& schema_ptr) {
    if (schema_ptr == bound_schema_) return;
    const Schema& schema = *schema_ptr;
    key_columns_.clear();
    value_columns_.clear();
    for (const std::string& key : config_.keys) key_columns_.push_back(field_index(schema, key, "group_by key"));
    for (const AggregateSpec& spec : config_.aggregates) {
      const int column = spec.field.empty() ? -1 : static_cast<int>(field_index(schema, spec.field, "group_by field"));
      value_columns_.push_back(column);
    }
    bound_schema_ = schema_ptr;  // held, so the address cannot be reused by another schema
  }

  // Numeric aggregates accept numbers and nulls; anything else rejects the whole record, so that
  // a record counts either fully or not at all.
  bool reject_non_numeric(RecordBatch& batch, size_t r) {
    const auto row = batch.row(r);
    for (size_t a = 0; a < functions_.size(); ++a) {
      if (!functions_[a]->numeric_only || value_columns_[a] < 0) continue;
      const Value& v = row[static_cast<size_t>(value_columns_[a])];
      if (is_null(v) || as_double(v)) continue;
      batch.reject(r, fmt::format("{} needs a number, got {} '{}'", config_.aggregates[a].function,
                                  type_name(type_of(v)), to_display(v)),
                   config_.aggregates[a].field);
      return true;
    }
    return false;
  }

  Group new_group() const {
    Group group;
    for (size_t a = 0; a < functions_.size(); ++a) {
      group.push_back(functions_[a]->make(AggregateArgs{!config_.aggregates[a].field.empty()}));
    }
    return group;
  }

  const GroupByConfig& config_;
  const std::vector<const AggregateFunction*>& functions_;
  SchemaPtr bound_schema_;
  std::vector<size_t> key_columns_;
  std::vector<int> value_columns_;  // -1: no field (count(*))
  std::unordered_map<Key, Group, KeyHash, KeyEqual> groups_;
};

}  // namespace

GroupByConfig GroupByConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "keys", "aggregates", "max_groups"}, "stage 'group_by'");
  GroupByConfig config;
  if (auto keys = node.get("keys")) config.keys = keys->as_string_list();
  const config::Node aggregates = node.require("aggregates", "stage 'group_by'");
  for (const config::Node& item : aggregates.items()) {
    item.expect_keys({"fn", "field", "as"}, "an aggregate");
    const config::Node fn = item.require("fn", "an aggregate");
    AggregateSpec spec;
    spec.function = fn.as_string();
    const AggregateFunction* function = find_aggregate_function(spec.function);
    if (!function) {
      std::string known;
      for (const auto& f : aggregate_functions()) known += fmt::format("{}{}", known.empty() ? "" : ", ", f.name);
      fn.fail(fmt::format("unknown aggregate function '{}' (known: {})", spec.function, known));
    }
    spec.field = item.string_or("field", "");
    if (function->needs_field && spec.field.empty()) item.fail(fmt::format("aggregate '{}' needs a `field`", spec.function));
    spec.as = item.string_or("as", spec.field.empty() ? spec.function : fmt::format("{}_{}", spec.function, spec.field));
    config.aggregates.push_back(std::move(spec));
  }
  if (config.aggregates.empty()) aggregates.fail("group_by needs at least one aggregate");
  if (auto n = node.get("max_groups")) {
    const int64_t max_groups = n->as_int();
    if (max_groups <= 0) n->fail("max_groups must be positive");
    config.max_groups = static_cast<size_t>(max_groups);
  }
  return config;
}

GroupByStage::GroupByStage(GroupByConfig config) : config_(std::move(config)) {
  for (const AggregateSpec& spec : config_.aggregates) {
    const AggregateFunction* function = find_aggregate_function(spec.function);
    if (!function) throw Error(ErrorCode::InvalidArgument, fmt::format("unknown aggregate function '{}'", spec.function));
    functions_.push_back(function);
  }
}

std::unique_ptr<Aggregator> GroupByStage::start_stream() const {
  return std::make_unique<GroupByAggregator>(config_, functions_);
}

void register_group_by(StageRegistry& registry) {
  registry.add("group_by", StageKind::Aggregate, "group records by key fields and aggregate each group",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const GroupByStage>(GroupByConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
