#include "pipeline/stages/group_by.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "core/error.h"
#include "pipeline/stages/fields.h"
#include "pipeline/stages/group_table.h"

namespace sluice::pipeline {

namespace {

// Where the fields group_by reads are in one schema.
struct Columns {
  std::vector<size_t> keys;
  std::vector<int> values;  // per aggregate; -1: no field (count(*))
  int time = -1;            // -1: not a time window
};

// The Columns of the last schema seen (Grouping::columns): a stream's batches nearly always
// share one.
struct ColumnCache {
  SchemaPtr schema;  // held, so that its address cannot be reused by another schema
  Columns columns;
};

// What a record does to a table of groups, shared by the serial and the partitioned aggregator.
class Grouping {
 public:
  Grouping(const GroupByConfig& config, const std::vector<BoundAggregate>& aggregates)
      : config_(config), aggregates_(aggregates) {
    columns_ = config_.keys;
    for (const AggregateSpec& spec : config_.aggregates) columns_.push_back(spec.as);
  }

  bool windowed() const { return config_.window.type != WindowConfig::Type::Global; }

  Columns find_columns(const Schema& schema) const {
    Columns columns;
    for (const std::string& key : config_.keys) columns.keys.push_back(field_index(schema, key, "group_by key"));
    for (const AggregateSpec& spec : config_.aggregates) {
      const std::string& field = spec.args.field;
      columns.values.push_back(field.empty() ? -1 : static_cast<int>(field_index(schema, field, "group_by field")));
    }
    const std::string& time_field = config_.window.time_field;
    columns.time = time_field.empty() ? -1 : static_cast<int>(field_index(schema, time_field, "group_by window field"));
    return columns;
  }

  const Columns& columns(ColumnCache& cache, const SchemaPtr& schema) const {
    if (schema != cache.schema) cache = {schema, find_columns(*schema)};
    return cache.columns;
  }

  // Numeric aggregates accept numbers (finite ones, for sketches) and nulls; anything else rejects
  // the whole record, so that a record counts either fully or not at all.
  bool reject_unfit_values(RecordBatch& batch, size_t r, const Columns& columns) const {
    const auto row = batch.row(r);
    for (size_t a = 0; a < aggregates_.size(); ++a) {
      const AggregateFunction& function = *aggregates_[a].function;
      if (!function.numeric_only || columns.values[a] < 0) continue;
      const Value& v = row[static_cast<size_t>(columns.values[a])];
      const std::optional<double> number = as_double(v);
      if (is_null(v) || (number && (!function.finite_only || std::isfinite(*number)))) continue;
      const AggregateSpec& spec = config_.aggregates[a];
      batch.reject(r,
                   fmt::format("{} needs a {}number, got {} '{}'", spec.function, function.finite_only ? "finite " : "",
                               type_name(type_of(v)), to_display(v)),
                   spec.args.field);
      return true;
    }
    return false;
  }

  // The hash of the row's key, read where it stands in the row.
  static size_t key_hash(std::span<const Value> row, const Columns& columns) noexcept {
    size_t h = 0;
    for (size_t column : columns.keys) h = h * 1000003u ^ ValueHash {}(row[column]);
    return h;
  }

  GroupTable new_table() const { return GroupTable(config_.keys.size(), aggregates_); }

  // Adds the record to its group, which it creates if need be; `group_count` counts the groups of
  // every table against max_groups. `hash` is key_hash(row, columns).
  void add(GroupTable& groups, std::span<const Value> row, size_t hash, const Origin& origin, const Columns& columns,
           std::atomic<size_t>& group_count) const {
    const auto key_at = [&](size_t k) -> const Value& { return row[columns.keys[k]]; };
    std::optional<GroupTable::Accumulators> found = groups.find(hash, key_at);
    if (!found) {
      if (group_count.fetch_add(1, std::memory_order_relaxed) >= config_.max_groups) {
        throw Error(ErrorCode::ResourceExhausted,
                    fmt::format("group_by: more than {} groups (max_groups) at line {}", config_.max_groups,
                                origin.line));
      }
      found = groups.insert(hash, key_at);
    }
    const GroupTable::Accumulators accumulators = *found;
    try {
      for (size_t a = 0; a < accumulators.size(); ++a) {
        const int column = columns.values[a];
        accumulators[a]->add(column < 0 ? kNull : row[static_cast<size_t>(column)]);
      }
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("group_by: {} at line {}", e.what(), origin.line));
    }
  }

  // One row per group of all the tables (whose keys are disjoint), sorted by key.
  ResultBatch result_of(const std::vector<const GroupTable*>& tables, const Window& window) const {
    ResultBatch result;
    result.columns = columns_;
    result.windowed = windowed();
    result.window_start = window.start;  // the global window is [0, 0)
    result.window_end = window.end;
    std::vector<std::pair<std::span<const Value>, GroupTable::Accumulators>> groups;
    for (const GroupTable* table : tables) {
      table->for_each([&](std::span<const Value> key, GroupTable::Accumulators accumulators) {
        groups.emplace_back(key, accumulators);
      });
    }
    std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
      return std::lexicographical_compare(a.first.begin(), a.first.end(), b.first.begin(), b.first.end(),
                                          [](const Value& x, const Value& y) { return compare_values(x, y) < 0; });
    });
    for (const auto& [key, accumulators] : groups) {
      std::vector<Value> row(key.begin(), key.end());
      for (Accumulator* accumulator : accumulators) row.push_back(accumulator->result());
      result.rows.push_back(std::move(row));
    }
    return result;
  }

  static inline const Value kNull{};

 private:
  const GroupByConfig& config_;
  const std::vector<BoundAggregate>& aggregates_;  // parallel to config_.aggregates
  std::vector<std::string> columns_;  // the keys, then the aggregates
};

// Every record in input order: the form for windows, whose clock follows the input.
class GroupByAggregator : public Aggregator {
 public:
  GroupByAggregator(const GroupByConfig& config, const std::vector<BoundAggregate>& aggregates)
      : grouping_(config, aggregates), clock_(start_window_clock(config.window)) {
    // The global window reports even an empty input; real windows only exist once they have records.
    if (!grouping_.windowed()) open_window(Window{});
  }

  void consume(RecordBatch& batch, const Emit& emit) override {
    if (batch.rows() == 0) return;
    const Columns& columns = grouping_.columns(column_cache_, batch.schema);
    std::vector<char> keep(batch.rows(), 1);
    bool rejected = false;
    for (size_t r = 0; r < batch.rows(); ++r) {
      // Values first: a record the window clock has placed is counted as seen.
      const std::optional<Window> window =
          grouping_.reject_unfit_values(batch, r, columns) ? std::nullopt : place(batch, r, columns);
      if (!window) {
        keep[r] = 0;
        rejected = true;
        continue;
      }
      const auto row = batch.row(r);
      grouping_.add(open_window(*window).groups, row, Grouping::key_hash(row, columns), batch.origins[r], columns,
                    group_count_);
      // Per record, not per batch: complete windows leave at once, so the groups counted against
      // max_groups do not depend on how the input was chunked.
      emit_complete_windows(clock_->complete_until(), emit);
    }
    if (rejected) batch.keep_rows(keep);
  }

  void finish(const Emit& emit) override {
    for (auto& [start, open] : open_windows_) {
      open.window = clock_->at_finish(open.window);
      emit(grouping_.result_of({&open.groups}, open.window));
    }
    open_windows_.clear();
  }

 private:
  struct OpenWindow {
    Window window;
    GroupTable groups;
  };

  std::optional<Window> place(RecordBatch& batch, size_t r, const Columns& columns) {
    auto placed = clock_->place(columns.time < 0 ? Grouping::kNull : batch.row(r)[static_cast<size_t>(columns.time)]);
    if (auto* refusal = std::get_if<WindowRefusal>(&placed)) {
      batch.reject(r, std::move(refusal->reason), std::move(refusal->field));
      return std::nullopt;
    }
    return std::get<Window>(placed);
  }

  OpenWindow& open_window(const Window& window) {
    if (auto it = open_windows_.find(window.start); it != open_windows_.end()) return it->second;
    return open_windows_.emplace(window.start, OpenWindow{window, grouping_.new_table()}).first->second;
  }

  void emit_complete_windows(int64_t complete_until, const Emit& emit) {
    // Windows are keyed by start and all have the same size, so the complete ones come first.
    while (!open_windows_.empty() && open_windows_.begin()->second.window.end <= complete_until) {
      auto node = open_windows_.extract(open_windows_.begin());
      group_count_ -= node.mapped().groups.size();
      emit(grouping_.result_of({&node.mapped().groups}, node.mapped().window));
    }
  }

  Grouping grouping_;
  std::unique_ptr<WindowClock> clock_;
  ColumnCache column_cache_;
  std::map<int64_t, OpenWindow> open_windows_;  // by start
  std::atomic<size_t> group_count_{0};          // over all open windows, against max_groups
};

// The global window split by key: each partition holds the groups of the keys that hash to it.
class PartitionedGroupBy : public PartitionedAggregator {
 public:
  PartitionedGroupBy(const GroupByConfig& config, const std::vector<BoundAggregate>& aggregates, size_t partitions)
      : grouping_(config, aggregates) {
    partitions_.reserve(partitions);
    for (size_t p = 0; p < partitions; ++p) partitions_.push_back({{}, grouping_.new_table()});
  }

  // A row's route is its key's hash.
  void route(RecordBatch& batch, std::vector<uint64_t>& route_of_row) const override {
    route_of_row.clear();
    if (batch.rows() == 0) return;
    const Columns columns = grouping_.find_columns(*batch.schema);
    std::vector<char> keep(batch.rows(), 1);
    bool rejected = false;
    for (size_t r = 0; r < batch.rows(); ++r) {
      if (grouping_.reject_unfit_values(batch, r, columns)) {
        keep[r] = 0;
        rejected = true;
      }
    }
    if (rejected) batch.keep_rows(keep);
    route_of_row.resize(batch.rows());
    for (size_t r = 0; r < batch.rows(); ++r) route_of_row[r] = Grouping::key_hash(batch.row(r), columns);
  }

  void consume(size_t partition, const RecordBatch& batch, std::span<const uint64_t> route_of_row) override {
    Partition& part = partitions_[partition];
    if (batch.rows() == 0) return;
    const Columns& columns = grouping_.columns(part.columns, batch.schema);
    const uint64_t partitions = partitions_.size();
    for (size_t r = 0; r < batch.rows(); ++r) {
      const uint64_t hash = route_of_row[r];
      // The hash's high bits pick the partition (by multiplying, not dividing); the group table
      // mixes the hash again for its slots (GroupTable::home_of).
      const uint64_t high = (hash * 0x9E3779B97F4A7C15ull) >> 32;
      if ((high * partitions) >> 32 != partition) continue;
      grouping_.add(part.groups, batch.row(r), static_cast<size_t>(hash), batch.origins[r], columns, group_count_);
    }
  }

  void finish(const Emit& emit) override {
    std::vector<const GroupTable*> tables;
    for (const Partition& part : partitions_) tables.push_back(&part.groups);
    emit(grouping_.result_of(tables, Window{}));
  }

 private:
  struct alignas(64) Partition {  // one cache line apart: partitions are written by different threads
    ColumnCache columns;
    GroupTable groups;
  };

  Grouping grouping_;
  std::vector<Partition> partitions_;
  std::atomic<size_t> group_count_{0};  // over all partitions, against max_groups
};

size_t positive_count(const config::Node& value, std::string_view key) {
  const int64_t n = value.as_int();
  if (n <= 0) value.fail(fmt::format("{} must be positive", key));
  return static_cast<size_t>(n);
}

// The options an aggregate item may carry; each applies to the functions that declare it.
void set_option(AggregateArgs& args, AggregateOption option, const config::Node& value) {
  switch (option) {
    case AggregateOption::Quantile:
      args.quantile = value.as_double();
      if (!(args.quantile >= 0 && args.quantile <= 1)) value.fail("q must be between 0 and 1");
      return;
    case AggregateOption::RelativeAccuracy:
      args.relative_accuracy = value.as_double();
      // Finer accuracy costs proportionally more buckets (see ddsketch.h); 0.001 takes up to 20480.
      if (!(args.relative_accuracy >= 0.001 && args.relative_accuracy < 1)) {
        value.fail("relative_accuracy must be at least 0.001 and below 1");
      }
      return;
    case AggregateOption::K:
      args.k = positive_count(value, "k");
      return;
    case AggregateOption::MaxDistinct:
      args.max_distinct = positive_count(value, "max_distinct");
      return;
  }
}

std::string list_options(const std::vector<AggregateOption>& options) {
  std::string out;
  for (AggregateOption option : options) out += fmt::format("{}{}", out.empty() ? "" : ", ", option_key(option));
  return out;
}

AggregateSpec parse_aggregate(const config::Node& item) {
  static constexpr AggregateOption kOptions[] = {AggregateOption::Quantile, AggregateOption::RelativeAccuracy,
                                                 AggregateOption::K, AggregateOption::MaxDistinct};
  item.expect_keys({"fn", "field", "as", "q", "relative_accuracy", "k", "max_distinct"}, "an aggregate");
  const config::Node fn = item.require("fn", "an aggregate");
  AggregateSpec spec;
  spec.function = fn.as_string();
  const AggregateFunction* function = find_aggregate_function(spec.function);
  if (!function) {
    std::string known;
    for (const auto& f : aggregate_functions()) known += fmt::format("{}{}", known.empty() ? "" : ", ", f.name);
    fn.fail(fmt::format("unknown aggregate function '{}' (known: {})", spec.function, known));
  }
  spec.args.field = item.string_or("field", "");
  if (function->needs_field && spec.args.field.empty()) {
    item.fail(fmt::format("aggregate '{}' needs a `field`", spec.function));
  }
  const auto file = std::make_shared<const std::string>(item.file());
  for (const auto& entry : item.raw()) {
    const std::string key = entry.first.as<std::string>();
    const auto option = std::find_if(std::begin(kOptions), std::end(kOptions),
                                     [&](AggregateOption o) { return option_key(o) == key; });
    if (option == std::end(kOptions)) continue;
    if (std::find(function->options.begin(), function->options.end(), *option) == function->options.end()) {
      config::Node(entry.first, file)
          .fail(fmt::format("'{}' does not apply to aggregate '{}' ({})", key, spec.function,
                            function->options.empty() ? std::string("it takes no options")
                                                      : fmt::format("it takes: {}", list_options(function->options))));
    }
    set_option(spec.args, *option, config::Node(entry.second, file));
  }
  if (const auto required = function->required_option; required && !item.get(option_key(*required))) {
    item.fail(fmt::format("aggregate '{}' needs `{}`", spec.function, option_key(*required)));
  }
  // Quantiles are named by their percentage (p95_latency), so that several can share a field.
  const std::string name = function->required_option == AggregateOption::Quantile
                               ? fmt::format("p{:g}", spec.args.quantile * 100)
                               : spec.function;
  spec.as = item.string_or("as", spec.args.field.empty() ? name : fmt::format("{}_{}", name, spec.args.field));
  return spec;
}

}  // namespace

GroupByConfig GroupByConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "keys", "aggregates", "max_groups", "window"}, "stage 'group_by'");
  GroupByConfig config;
  if (auto keys = node.get("keys")) config.keys = keys->as_string_list();
  const config::Node aggregates = node.require("aggregates", "stage 'group_by'");
  for (const config::Node& item : aggregates.items()) config.aggregates.push_back(parse_aggregate(item));
  if (config.aggregates.empty()) aggregates.fail("group_by needs at least one aggregate");
  if (auto n = node.get("max_groups")) {
    const int64_t max_groups = n->as_int();
    if (max_groups <= 0) n->fail("max_groups must be positive");
    config.max_groups = static_cast<size_t>(max_groups);
  }
  if (auto window = node.get("window")) config.window = WindowConfig::from_yaml(*window);
  return config;
}

GroupByStage::GroupByStage(GroupByConfig config) : config_(std::move(config)) {
  for (const AggregateSpec& spec : config_.aggregates) {
    const AggregateFunction* function = find_aggregate_function(spec.function);
    if (!function) {
      throw Error(ErrorCode::InvalidArgument, fmt::format("unknown aggregate function '{}'", spec.function));
    }
    aggregates_.push_back({function, spec.args});
  }
}

std::unique_ptr<Aggregator> GroupByStage::start_stream() const {
  return std::make_unique<GroupByAggregator>(config_, aggregates_);
}

std::unique_ptr<PartitionedAggregator> GroupByStage::start_partitioned(size_t partitions) const {
  // Windows close as the input goes by, which needs every record in one place.
  if (config_.window.type != WindowConfig::Type::Global || partitions < 2) return nullptr;
  return std::make_unique<PartitionedGroupBy>(config_, aggregates_, partitions);
}

std::optional<std::vector<std::string>> GroupByStage::fields_read() const {
  std::vector<std::string> fields = config_.keys;
  for (const AggregateSpec& spec : config_.aggregates) {
    if (!spec.args.field.empty()) fields.push_back(spec.args.field);
  }
  if (!config_.window.time_field.empty()) fields.push_back(config_.window.time_field);
  return fields;
}

void register_group_by(StageRegistry& registry) {
  registry.add("group_by", StageKind::Aggregate, "group records by key fields and aggregate each group",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const GroupByStage>(GroupByConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
