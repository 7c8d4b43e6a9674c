// Filter/compute expressions from untrusted text (the fuzz input is the expression). Parsing may
// only fail with ParseError, whose column lies within the text; binding may only fail with
// sluice::Error; evaluation never throws, whatever the values (extremes, NaN, nulls, UTF-8).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/record.h"
#include "pipeline/expr/expression.h"

namespace {

using namespace sluice;

[[noreturn]] void fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "fuzz_expression: %s for expression: %.*s\n", what, static_cast<int>(text.size()), text.data());
  std::abort();
}

size_t code_points(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

const Schema& schema() {
  static const Schema s({"i", "d", "s", "b", "n", "big", "small", "nan"});
  return s;
}

const std::vector<std::vector<Value>>& rows() {
  static const std::vector<std::vector<Value>> r = {
      {int64_t{3}, 2.5, std::string("abc"), true, Value{}, std::numeric_limits<int64_t>::max(),
       std::numeric_limits<int64_t>::min(), std::nan("")},
      {int64_t{0}, -0.0, std::string(""), false, Value{}, int64_t{-1}, int64_t{0},
       std::numeric_limits<double>::infinity()},
      {Value{}, Value{}, std::string("h\xC3\xA9llo \xF0\x9F\x98\x80"), Value{}, int64_t{7}, 1e308, -1e308,
       std::string("\xFF\xFE")},
  };
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<expr::Expression> expression;
  try {
    expression = expr::Expression::parse(text);
  } catch (const expr::ParseError& e) {
    if (e.column() < 1 || e.column() > code_points(text) + 1) fail("ParseError column out of range", text);
    if (std::string_view(e.what()).empty()) fail("ParseError without a message", text);
    return 0;
  }
  std::optional<expr::BoundExpression> bound;
  try {
    bound = expression->bind(schema());
  } catch (const Error& e) {
    if (std::string_view(e.what()).empty()) fail("bind error without a message", text);
    return 0;
  }
  for (const auto& row : rows()) {
    try {
      (void)bound->eval(row);
      (void)bound->test(row);
    } catch (...) {
      fail("evaluation threw", text);
    }
  }
  return 0;
}
