#pragma once
// A small expression language over record fields: boolean predicates for the `filter` stage and
// computed values for the `compute` stage.
//
// Grammar (lowest precedence first; keywords and function names are case-insensitive):
//   expr      := and_expr (('or' | '||') and_expr)*
//   and_expr  := not_expr (('and' | '&&') not_expr)*
//   not_expr  := ('not' | '!')* predicate
//   predicate := sum [ ('==' | '=' | '!=' | '<' | '<=' | '>' | '>=') sum
//                    | ('contains' | 'startswith' | 'endswith') sum
//                    | ['not'] 'in' '(' expr (',' expr)* ')'
//                    | 'is' ['not'] 'null' ]            -- predicates do not chain
//   sum       := product (('+' | '-') product)*
//   product   := unary (('*' | '/' | '%') unary)*
//   unary     := '-'* primary
//   primary   := INT | DOUBLE | STRING | 'true' | 'false' | 'null'
//              | NAME | `quoted name` | function '(' [expr (',' expr)*] ')' | '(' expr ')'
//
// Evaluation never throws: type mismatches, null operands, overflow and division by zero all
// yield null, and logic is SQL three-valued.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/record.h"
#include "core/value.h"

namespace sluice::expr {

// Thrown by Expression::parse. column is 1-based within the expression text, counted in
// characters (UTF-8 code points), and is also the prefix of what().
class ParseError : public sluice::Error {
 public:
  ParseError(size_t column, const std::string& message);
  size_t column() const { return column_; }

 private:
  size_t column_;
};

struct Program;  // the parsed AST; defined in expression.cpp
class BoundExpression;

// Immutable after parse; copies share the AST, so they are cheap and safe across threads.
class Expression {
 public:
  static Expression parse(std::string_view text);

  // Resolves field names against a schema. Throws sluice::Error(InvalidArgument) naming the
  // unknown field and listing the schema's fields when a referenced field is not in the schema.
  BoundExpression bind(const sluice::Schema& schema) const;

  // Field names referenced, in first-use order, without duplicates.
  const std::vector<std::string>& fields() const;
  const std::string& text() const;

 private:
  explicit Expression(std::shared_ptr<const Program> program) : program_(std::move(program)) {}

  std::shared_ptr<const Program> program_;
};

// An expression whose field references are resolved to column positions of one schema.
// Evaluation is const and reads strings in place; it allocates only to build a string (lower,
// upper, concat, to_string, string +) and, in eval(), to return a string result.
class BoundExpression {
 public:
  // row must hold at least as many values as the bound schema has fields.
  sluice::Value eval(std::span<const sluice::Value> row) const;
  // Truthiness for filters: only bool true is true; null and every other value are false. Inline
  // for the usual filter's sake (see IntRange).
  bool test(std::span<const sluice::Value> row) const {
    if (int_range_ && int_range_->column < row.size()) {
      if (const auto* cell = std::get_if<int64_t>(&row[int_range_->column])) return int_range_->holds(*cell);
    }
    return evaluate_test(row);
  }

 private:
  friend class Expression;
  BoundExpression(std::shared_ptr<const Program> program, std::vector<uint32_t> columns);
  void check_width(std::span<const sluice::Value> row) const;

  bool evaluate_test(std::span<const sluice::Value> row) const;

  // Set when the whole expression compares a field with an integer literal (`status >= 400`, the
  // usual filter, either way round): test() then checks an int cell against the range of values
  // for which the comparison holds, or fails (`!=`, `<`, `>`), without the evaluator, which
  // still takes every other cell.
  struct IntRange {
    uint32_t column = 0;
    int64_t low = 0;     // inclusive
    int64_t high = 0;    // inclusive
    bool inside = true;  // whether the comparison holds inside the range or outside it
    bool holds(int64_t value) const { return (low <= value && value <= high) == inside; }
  };

  std::shared_ptr<const Program> program_;
  std::vector<uint32_t> columns_;  // column position of each entry of Expression::fields()
  size_t required_width_ = 0;      // 1 + the highest column read
  std::optional<IntRange> int_range_;
};

}  // namespace sluice::expr
