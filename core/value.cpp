#include "core/value.h"

#include <charconv>
#include <cmath>
#include <functional>

#include <fmt/format.h>

namespace sluice {

std::string_view type_name(ValueType t) {
  switch (t) {
    case ValueType::Null: return "null";
    case ValueType::Bool: return "bool";
    case ValueType::Int: return "int";
    case ValueType::Double: return "double";
    case ValueType::String: return "string";
  }
  return "?";
}

std::optional<ValueType> parse_type_name(std::string_view name) {
  if (name == "int" || name == "integer" || name == "int64") return ValueType::Int;
  if (name == "double" || name == "float" || name == "number") return ValueType::Double;
  if (name == "bool" || name == "boolean") return ValueType::Bool;
  if (name == "string" || name == "str") return ValueType::String;
  return std::nullopt;
}

std::string to_display(const Value& v) {
  switch (type_of(v)) {
    case ValueType::Null: return "null";
    case ValueType::Bool: return std::get<bool>(v) ? "true" : "false";
    case ValueType::Int: return std::to_string(std::get<int64_t>(v));
    case ValueType::Double: return fmt::format("{}", std::get<double>(v));
    case ValueType::String: return std::get<std::string>(v);
  }
  return {};
}

namespace number_text_detail {
namespace {
template <typename Number>
std::optional<Number> from_chars_whole(std::string_view s) {
  if (s.empty()) return std::nullopt;
  const char* first = s.data();
  if (*first == '+') {
    ++first;
    if (first != s.data() + s.size() && *first == '-') return std::nullopt;  // "+-1" is no number
  }
  Number out{};
  auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), out);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return out;
}
}  // namespace

std::optional<int64_t> int_from_chars(std::string_view s) { return from_chars_whole<int64_t>(s); }
std::optional<double> double_from_chars(std::string_view s) { return from_chars_whole<double>(s); }
}  // namespace number_text_detail

std::optional<bool> parse_bool(std::string_view s) {
  if (s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "false" || s == "FALSE" || s == "False") return false;
  return std::nullopt;
}

Value infer_value(std::string_view s) {
  if (s.empty()) return Value{};
  const char c = s.front();
  if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') {
    if (auto i = parse_int(s)) return *i;
    if (auto d = parse_double(s)) return *d;
  } else if (auto b = parse_bool(s)) {
    return *b;
  }
  return std::string(s);
}

std::optional<Value> convert_text(std::string_view s, ValueType to) {
  switch (to) {
    case ValueType::Null: return Value{};
    case ValueType::String: return Value{std::string(s)};
    case ValueType::Int:
      if (auto i = parse_int(s)) return Value{*i};
      return std::nullopt;
    case ValueType::Double:
      if (auto d = parse_double(s)) return Value{*d};
      return std::nullopt;
    case ValueType::Bool:
      if (auto b = parse_bool(s)) return Value{*b};
      return std::nullopt;
  }
  return std::nullopt;
}

namespace {
int rank(ValueType t) {
  switch (t) {
    case ValueType::Null: return 0;
    case ValueType::Bool: return 1;
    case ValueType::Int:
    case ValueType::Double: return 2;
    case ValueType::String: return 3;
  }
  return 4;
}
template <typename T>
int three_way(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}
}  // namespace

int compare_values(const Value& a, const Value& b) {
  const ValueType ta = type_of(a), tb = type_of(b);
  if (rank(ta) != rank(tb)) return rank(ta) < rank(tb) ? -1 : 1;
  switch (ta) {
    case ValueType::Null: return 0;
    case ValueType::Bool: return three_way(std::get<bool>(a), std::get<bool>(b));
    case ValueType::String: {
      const int c = std::get<std::string>(a).compare(std::get<std::string>(b));
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case ValueType::Int:
    case ValueType::Double:
      if (ta == ValueType::Int && tb == ValueType::Int)
        return three_way(std::get<int64_t>(a), std::get<int64_t>(b));
      return three_way(*as_double(a), *as_double(b));
  }
  return 0;
}

size_t ValueHash::hash_any(const Value& v) noexcept {
  switch (type_of(v)) {
    case ValueType::Null: return 0x9e3779b97f4a7c15ULL;
    case ValueType::Bool: return std::hash<bool>{}(std::get<bool>(v));
    case ValueType::String: return std::hash<std::string>{}(std::get<std::string>(v));
    case ValueType::Int:
    case ValueType::Double: {
      // Equal ints and doubles must hash alike because they compare equal.
      const double d = *as_double(v);
      if (d == std::floor(d) && std::abs(d) < 9.2e18) return std::hash<int64_t>{}(static_cast<int64_t>(d));
      return std::hash<double>{}(d);
    }
  }
  return 0;
}

}  // namespace sluice
