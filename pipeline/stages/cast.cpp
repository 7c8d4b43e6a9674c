#include "pipeline/stages/cast.h"

#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "pipeline/stages/fields.h"

namespace sluice::pipeline {

namespace {

CastFailure parse_cast_failure(const config::Node& node) {
  return parse_keyword<CastFailure>(node, {{"reject", CastFailure::Reject}, {"null", CastFailure::Null}});
}

ValueType parse_target_type(const config::Node& node) {
  const std::string name = node.as_string();
  const auto type = parse_type_name(name);
  if (!type) node.fail(fmt::format("unknown type '{}' (expected int, double, bool or string)", name));
  return *type;
}

std::optional<int64_t> exact_int(double d) {
  // 2^63 is exact in a double; every integral double in [-2^63, 2^63) fits an int64_t.
  constexpr double kLimit = 9223372036854775808.0;
  if (std::trunc(d) != d || d < -kLimit || d >= kLimit) return std::nullopt;
  return static_cast<int64_t>(d);
}

template <typename T>
bool assign_if_converted(Value& value, const std::optional<T>& converted) {
  if (!converted) return false;
  value = *converted;
  return true;
}

// Converts `value` in place; false (leaving it as it was) when it does not fit `to`.
bool cast_in_place(Value& value, ValueType to) {
  const ValueType from = type_of(value);
  if (from == to || from == ValueType::Null) return true;
  if (to == ValueType::String) {
    value = to_display(value);
    return true;
  }
  if (const auto* text = std::get_if<std::string>(&value)) {
    switch (to) {
      case ValueType::Int: return assign_if_converted(value, parse_int(*text));
      case ValueType::Double: return assign_if_converted(value, parse_double(*text));
      case ValueType::Bool: return assign_if_converted(value, parse_bool(*text));
      default: return false;
    }
  }
  if (from == ValueType::Int && to == ValueType::Double) {
    value = static_cast<double>(std::get<int64_t>(value));
    return true;
  }
  if (from == ValueType::Double && to == ValueType::Int) {
    return assign_if_converted(value, exact_int(std::get<double>(value)));
  }
  return false;
}

}  // namespace

CastConfig CastConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "fields", "on_error"}, "stage 'cast'");
  CastFailure default_on_error = CastFailure::Reject;
  if (auto on_error = node.get("on_error")) default_on_error = parse_cast_failure(*on_error);
  const config::Node fields = node.require("fields", "stage 'cast'");
  CastConfig config;
  for (const auto& [name, spec] : fields.entries()) {
    CastField field{name, ValueType::String, default_on_error};
    if (spec.is_map()) {
      spec.expect_keys({"to", "on_error"}, fmt::format("the cast of '{}'", name));
      field.to = parse_target_type(spec.require("to", fmt::format("the cast of '{}'", name)));
      if (auto on_error = spec.get("on_error")) field.on_error = parse_cast_failure(*on_error);
    } else {
      field.to = parse_target_type(spec);
    }
    config.fields.push_back(std::move(field));
  }
  if (config.fields.empty()) fields.fail("expected at least one `field: type`");
  return config;
}

void CastStage::apply(RecordBatch& batch) const {
  if (batch.rows() == 0) return;
  std::vector<size_t> columns;
  for (const CastField& field : config_.fields) columns.push_back(field_index(*batch.schema, field.name, "cast field"));

  std::vector<char> keep(batch.rows(), 1);
  bool rejected = false;
  for (size_t r = 0; r < batch.rows(); ++r) {
    const auto row = batch.row(r);
    for (size_t f = 0; f < columns.size(); ++f) {
      const CastField& field = config_.fields[f];
      Value& value = row[columns[f]];
      if (cast_in_place(value, field.to)) continue;
      if (field.on_error == CastFailure::Null) {
        value = Value{};
        continue;
      }
      batch.reject(r, fmt::format("cannot cast {} to {}", quote_value(value), type_name(field.to)), field.name);
      keep[r] = 0;
      rejected = true;
      break;
    }
  }
  if (rejected) batch.keep_rows(keep);
}

void register_cast(StageRegistry& registry) {
  registry.add("cast", StageKind::Transform, "convert fields to int, double, bool or string",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const CastStage>(CastConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
