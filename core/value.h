#pragma once
// Typed field values: what a parsed record holds and what results carry.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/number_text.h"  // parse_int, parse_double

namespace sluice {

// Index order matches ValueType; std::monostate is SQL-style NULL.
using Value = std::variant<std::monostate, bool, int64_t, double, std::string>;

enum class ValueType { Null = 0, Bool = 1, Int = 2, Double = 3, String = 4 };

inline ValueType type_of(const Value& v) { return static_cast<ValueType>(v.index()); }
inline bool is_null(const Value& v) { return v.index() == 0; }

std::string_view type_name(ValueType t);
// Parses "int", "double", "bool", "string" (and the aliases "integer", "float", "boolean").
std::optional<ValueType> parse_type_name(std::string_view name);

// Numeric view of ints and doubles (bools and strings are not numbers). Inline for the reason
// number_text.h gives: aggregates call it for every cell.
inline std::optional<double> as_double(const Value& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

// Human-readable rendering used by tables and error messages (NULL prints as "null").
std::string to_display(const Value& v);

// Strict conversions from text, used by parsers and casts (parse_int and parse_double are in
// number_text.h). Whole input must match.
std::optional<bool> parse_bool(std::string_view s);

// Best-effort typing of an untyped text field: int, then double, then bool, else string.
// An empty field is NULL.
Value infer_value(std::string_view s);

// Conversion to a declared type; nullopt when the text does not fit the type.
std::optional<Value> convert_text(std::string_view s, ValueType to);

// Total order for grouping and min/max: NULL < bool < numbers < string; ints and doubles compare
// numerically. Returns <0, 0, >0.
int compare_values(const Value& a, const Value& b);

// Values that compare equal hash alike. Inline fast paths for ints and strings, the usual group
// keys; the rest goes to the general forms in value.cpp.
struct ValueHash {
  size_t operator()(const Value& v) const noexcept {
    // An int a double holds exactly hashes as itself, which is what the general form gives it.
    constexpr int64_t kExactInDouble = int64_t{1} << 53;
    if (const auto* i = std::get_if<int64_t>(&v); i && *i >= -kExactInDouble && *i <= kExactInDouble) {
      return std::hash<int64_t>{}(*i);
    }
    return hash_any(v);
  }
  static size_t hash_any(const Value& v) noexcept;
};
struct ValueEqual {
  bool operator()(const Value& a, const Value& b) const noexcept {
    if (a.index() == b.index()) {
      if (const auto* i = std::get_if<int64_t>(&a)) return *i == *std::get_if<int64_t>(&b);
      if (const auto* s = std::get_if<std::string>(&a)) return *s == *std::get_if<std::string>(&b);
    }
    return compare_values(a, b) == 0;
  }
};

}  // namespace sluice
