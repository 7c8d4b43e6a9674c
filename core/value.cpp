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

std::optional<double> as_double(const Value& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&v)) return *d;
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

std::optional<int64_t> parse_int(std::string_view s) {
  // Fast path for the common case, an optional '-' and at most 18 digits (which cannot overflow);
  // anything else takes from_chars below.
  const bool negative = !s.empty() && s.front() == '-';
  const std::string_view digits = s.substr(negative ? 1 : 0);
  if (!digits.empty() && digits.size() <= 18) {
    uint64_t value = 0;  // unsigned: a non-digit may make it wrap before the check below
    bool all_digits = true;
    for (const char c : digits) {
      const unsigned digit = static_cast<unsigned char>(c) - unsigned{'0'};
      all_digits &= digit <= 9;
      value = value * 10 + digit;
    }
    if (all_digits) return negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  }
  if (s.empty()) return std::nullopt;
  const char* first = s.data();
  if (*first == '+') ++first;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), out);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return out;
}

namespace {
// A plain decimal ("-12.345": an optional '-', digits, an optional '.' followed by digits) of at
// most 15 digits is m / 10^k with m and 10^k exact doubles, so one division rounds it correctly
// (Clinger's fast path), as from_chars would. Anything else is nullopt, for from_chars to read.
std::optional<double> parse_plain_decimal(std::string_view s) {
  static constexpr double kPowersOfTen[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                            1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  const bool negative = !s.empty() && s.front() == '-';
  s.remove_prefix(negative ? 1 : 0);
  const size_t point = s.find('.');
  const size_t digits = s.size() - (point == std::string_view::npos ? 0 : 1);
  if (point == 0 || point + 1 == s.size() || digits == 0 || digits > 15) return std::nullopt;
  uint64_t mantissa = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == point) continue;
    const unsigned digit = static_cast<unsigned char>(s[i]) - unsigned{'0'};
    if (digit > 9) return std::nullopt;
    mantissa = mantissa * 10 + digit;
  }
  const size_t fraction_digits = point == std::string_view::npos ? 0 : s.size() - point - 1;
  const double value = static_cast<double>(mantissa) / kPowersOfTen[fraction_digits];
  return negative ? -value : value;
}
}  // namespace

std::optional<double> parse_double(std::string_view s) {
  if (auto value = parse_plain_decimal(s)) return value;
  if (s.empty()) return std::nullopt;
  const char* first = s.data();
  if (*first == '+') ++first;
  double out = 0;
  auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), out);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return out;
}

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

size_t ValueHash::operator()(const Value& v) const noexcept {
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
