#include "pipeline/expr/expression.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <compare>
#include <limits>
#include <optional>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace sluice::expr {

ParseError::ParseError(size_t column, const std::string& message)
    : Error(ErrorCode::InvalidArgument, fmt::format("column {}: {}", column, message)), column_(column) {}

namespace {

// Bounds both the parser's recursion (parenthesis nesting) and the height of the tree that
// evaluation recurses through, so that hostile input cannot exhaust the stack.
constexpr uint32_t kMaxDepth = 256;

enum class Op : uint8_t {
  Literal, Field,
  Negate, Not, IsNull, IsNotNull,
  Add, Subtract, Multiply, Divide, Modulo,
  Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual,
  Contains, StartsWith, EndsWith,
  And, Or, In, NotIn, Call,
};

enum class Function : uint8_t { Lower, Upper, Length, Abs, Coalesce, Concat, ToInt, ToDouble, ToString };

struct Node {
  Op op = Op::Literal;
  Function function = Function::Lower;  // Call only
  uint32_t field = 0;                   // Field only: index into Program::fields
  uint32_t first_operand = 0;           // operands are Program::operands[first, first + count)
  uint32_t operand_count = 0;           // In and NotIn: the first operand is the needle
  uint32_t height = 1;                  // levels in this subtree, at most kMaxDepth
  Value literal;                        // Literal only
};

// 1-based character column of a byte offset: UTF-8 continuation bytes do not start a column.
size_t column_at(std::string_view text, size_t offset) {
  const auto prefix = text.substr(0, offset);
  return 1 + static_cast<size_t>(std::count_if(prefix.begin(), prefix.end(),
                                               [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

// Nodes are stored in post-order (operands before their operation), so the root is the last node.
struct Program {
  std::string text;
  std::vector<std::string> fields;
  std::vector<Node> nodes;
  std::vector<uint32_t> operands;
};

namespace {

// ---------------------------------------------------------------------------------------------
// Evaluation

// An evaluation intermediate: like Value, except that strings read from the row or from literals
// are borrowed, so that comparisons and string predicates never copy them.
using Scalar = std::variant<std::monostate, bool, int64_t, double, std::string_view, std::string>;

bool holds_null(const Scalar& scalar) { return std::holds_alternative<std::monostate>(scalar); }

std::optional<std::string_view> text_of(const Scalar& scalar) {
  if (const auto* view = std::get_if<std::string_view>(&scalar)) return *view;
  if (const auto* owned = std::get_if<std::string>(&scalar)) return std::string_view(*owned);
  return std::nullopt;
}

std::optional<double> number_of(const Scalar& scalar) {
  if (const auto* i = std::get_if<int64_t>(&scalar)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&scalar)) return *d;
  return std::nullopt;
}

Scalar borrow(const Value& value) {
  switch (type_of(value)) {
    case ValueType::Null: return std::monostate{};
    case ValueType::Bool: return std::get<bool>(value);
    case ValueType::Int: return std::get<int64_t>(value);
    case ValueType::Double: return std::get<double>(value);
    case ValueType::String: return std::string_view(std::get<std::string>(value));
  }
  return std::monostate{};
}

Value to_value(Scalar&& scalar) {
  if (const auto* b = std::get_if<bool>(&scalar)) return *b;
  if (const auto* i = std::get_if<int64_t>(&scalar)) return *i;
  if (const auto* d = std::get_if<double>(&scalar)) return *d;
  if (const auto* view = std::get_if<std::string_view>(&scalar)) return std::string(*view);
  if (auto* owned = std::get_if<std::string>(&scalar)) return std::move(*owned);
  return Value{};
}

template <typename T>
Scalar from_optional(const std::optional<T>& value) {
  if (value) return *value;
  return std::monostate{};
}

// Renders like sluice::to_display; nulls are skipped, as concat() wants.
void append_display(std::string& out, const Scalar& scalar) {
  if (holds_null(scalar)) return;
  if (const auto text = text_of(scalar)) {
    out += *text;
  } else {
    out += to_display(to_value(Scalar(scalar)));
  }
}

// Exact comparison of an int with a double; converting the int to double could round it.
std::partial_ordering order_int_double(int64_t i, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d >= 0x1p63) return std::partial_ordering::less;
  if (d < -0x1p63) return std::partial_ordering::greater;
  const auto whole = static_cast<int64_t>(d);  // in range here; truncates toward zero
  if (i != whole) return i <=> whole;
  return 0.0 <=> (d - static_cast<double>(whole));
}

// nullopt when either side is null or the two types do not compare (e.g. string against int).
std::optional<std::partial_ordering> order(const Scalar& left, const Scalar& right) {
  if (const auto* l = std::get_if<int64_t>(&left)) {
    if (const auto* r = std::get_if<int64_t>(&right)) return *l <=> *r;
    if (const auto* r = std::get_if<double>(&right)) return order_int_double(*l, *r);
    return std::nullopt;
  }
  if (const auto* l = std::get_if<double>(&left)) {
    if (const auto* r = std::get_if<double>(&right)) return *l <=> *r;
    if (const auto* r = std::get_if<int64_t>(&right)) return 0 <=> order_int_double(*r, *l);
    return std::nullopt;
  }
  if (const auto* l = std::get_if<bool>(&left)) {
    if (const auto* r = std::get_if<bool>(&right)) return *l <=> *r;
    return std::nullopt;
  }
  const auto l = text_of(left), r = text_of(right);
  if (l && r) return *l <=> *r;
  return std::nullopt;
}

bool is_comparison(Op op) { return op >= Op::Equal && op <= Op::GreaterEqual; }

// `a op b` as `b mirrored(op) a`.
Op mirrored(Op op) {
  switch (op) {
    case Op::Less: return Op::Greater;
    case Op::LessEqual: return Op::GreaterEqual;
    case Op::Greater: return Op::Less;
    case Op::GreaterEqual: return Op::LessEqual;
    default: return op;  // == and !=
  }
}

// The ints v for which the comparison `v op literal` holds: a range (each bound inclusive, so that
// no bound overflows) that they are inside or outside of.
struct IntValues {
  int64_t low;
  int64_t high;
  bool inside;
};
IntValues values_where(Op op, int64_t literal) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  switch (op) {
    case Op::Equal: return {literal, literal, true};
    case Op::NotEqual: return {literal, literal, false};
    case Op::Less: return {literal, kMax, false};
    case Op::LessEqual: return {kMin, literal, true};
    case Op::Greater: return {kMin, literal, false};
    default: return {literal, kMax, true};  // >=
  }
}

// Whether `ordering` satisfies the comparison `op`.
bool satisfies(Op op, std::partial_ordering ordering) {
  switch (op) {
    case Op::Equal: return ordering == 0;
    case Op::NotEqual: return ordering != 0;
    case Op::Less: return ordering < 0;
    case Op::LessEqual: return ordering <= 0;
    case Op::Greater: return ordering > 0;
    case Op::GreaterEqual: return ordering >= 0;
    default: return false;
  }
}

Scalar compare(Op op, const Scalar& left, const Scalar& right) {
  const auto ordering = order(left, right);
  if (!ordering || !is_comparison(op)) return std::monostate{};
  return satisfies(op, *ordering);
}

Scalar integer_arithmetic(Op op, int64_t left, int64_t right) {
  int64_t result = 0;
  switch (op) {
    case Op::Add:
      if (__builtin_add_overflow(left, right, &result)) return std::monostate{};
      return result;
    case Op::Subtract:
      if (__builtin_sub_overflow(left, right, &result)) return std::monostate{};
      return result;
    case Op::Multiply:
      if (__builtin_mul_overflow(left, right, &result)) return std::monostate{};
      return result;
    case Op::Divide:
      if (right == 0) return std::monostate{};
      return static_cast<double>(left) / static_cast<double>(right);
    case Op::Modulo:
      if (right == 0) return std::monostate{};
      // INT64_MIN % -1 is undefined behaviour in C++ even though the remainder is 0.
      return right == -1 ? int64_t{0} : left % right;
    default: return std::monostate{};
  }
}

Scalar arithmetic(Op op, const Scalar& left, const Scalar& right) {
  if (op == Op::Add) {
    const auto l = text_of(left), r = text_of(right);
    if (l && r) {
      std::string joined;
      joined.reserve(l->size() + r->size());
      return std::move(joined.append(*l).append(*r));
    }
  }
  const auto* left_int = std::get_if<int64_t>(&left);
  const auto* right_int = std::get_if<int64_t>(&right);
  if (left_int && right_int) return integer_arithmetic(op, *left_int, *right_int);
  const auto l = number_of(left), r = number_of(right);
  if (!l || !r) return std::monostate{};
  switch (op) {
    case Op::Add: return *l + *r;
    case Op::Subtract: return *l - *r;
    case Op::Multiply: return *l * *r;
    case Op::Divide:
      if (*r == 0) return std::monostate{};
      return *l / *r;
    default: return std::monostate{};  // Modulo is defined on ints only
  }
}

Scalar negate(const Scalar& operand) {
  if (const auto* i = std::get_if<int64_t>(&operand)) {
    int64_t result = 0;
    if (__builtin_sub_overflow(int64_t{0}, *i, &result)) return std::monostate{};
    return result;
  }
  if (const auto* d = std::get_if<double>(&operand)) return -*d;
  return std::monostate{};
}

Scalar logical_not(const Scalar& operand) {
  if (const auto* b = std::get_if<bool>(&operand)) return !*b;
  return std::monostate{};
}

Scalar string_predicate(Op op, const Scalar& subject, const Scalar& pattern) {
  const auto s = text_of(subject), p = text_of(pattern);
  if (!s || !p) return std::monostate{};
  switch (op) {
    case Op::Contains: return s->find(*p) != std::string_view::npos;
    case Op::StartsWith: return s->starts_with(*p);
    case Op::EndsWith: return s->ends_with(*p);
    default: return std::monostate{};
  }
}

// Truncates toward zero; nullopt when not finite or outside the int64 range.
std::optional<int64_t> truncate_to_int(double d) {
  if (!(d >= -0x1p63 && d < 0x1p63)) return std::nullopt;
  return static_cast<int64_t>(d);
}

Scalar to_int(const Scalar& operand) {
  if (std::holds_alternative<int64_t>(operand)) return operand;
  if (const auto* d = std::get_if<double>(&operand)) return from_optional(truncate_to_int(*d));
  if (const auto* b = std::get_if<bool>(&operand)) return int64_t{*b ? 1 : 0};
  if (const auto text = text_of(operand)) {
    if (const auto i = parse_int(*text)) return *i;
    if (const auto d = parse_double(*text)) return from_optional(truncate_to_int(*d));
  }
  return std::monostate{};
}

Scalar to_double(const Scalar& operand) {
  if (const auto number = number_of(operand)) return *number;
  if (const auto* b = std::get_if<bool>(&operand)) return *b ? 1.0 : 0.0;
  if (const auto text = text_of(operand)) return from_optional(parse_double(*text));
  return std::monostate{};
}

Scalar change_case(const Scalar& operand, Function function) {
  const auto text = text_of(operand);
  if (!text) return std::monostate{};
  std::string result(*text);
  for (char& c : result) {
    if (function == Function::Lower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (function == Function::Upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return result;
}

// Length in characters (UTF-8 code points), matching how error columns are counted.
Scalar length(const Scalar& operand) {
  const auto text = text_of(operand);
  if (!text) return std::monostate{};
  return static_cast<int64_t>(column_at(*text, text->size()) - 1);
}

Scalar absolute(const Scalar& operand) {
  if (const auto* i = std::get_if<int64_t>(&operand)) {
    if (*i == INT64_MIN) return std::monostate{};
    return *i < 0 ? -*i : *i;
  }
  if (const auto* d = std::get_if<double>(&operand)) return std::fabs(*d);
  return std::monostate{};
}

Scalar to_string(Scalar&& operand) {
  if (holds_null(operand) || text_of(operand)) return std::move(operand);
  return to_display(to_value(std::move(operand)));
}

// Walks the tree of one program against one row. Cheap to construct: it only holds references.
class Evaluator {
 public:
  Evaluator(const Program& program, std::span<const Value> row, std::span<const uint32_t> columns)
      : program_(program), row_(row), columns_(columns) {}

  Scalar eval_root() const { return eval(static_cast<uint32_t>(program_.nodes.size() - 1)); }

  Scalar eval(uint32_t index) const {
    const Node& node = program_.nodes[index];
    const auto operands = operands_of(node);
    switch (node.op) {
      case Op::Literal: return borrow(node.literal);
      case Op::Field: return borrow(row_[columns_[node.field]]);
      case Op::Negate: return negate(eval(operands[0]));
      case Op::Not: return logical_not(eval(operands[0]));
      case Op::IsNull: return holds_null(eval(operands[0]));
      case Op::IsNotNull: return !holds_null(eval(operands[0]));
      case Op::Add:
      case Op::Subtract:
      case Op::Multiply:
      case Op::Divide:
      case Op::Modulo: return arithmetic(node.op, eval(operands[0]), eval(operands[1]));
      case Op::Equal:
      case Op::NotEqual:
      case Op::Less:
      case Op::LessEqual:
      case Op::Greater:
      case Op::GreaterEqual: return compare(node.op, eval(operands[0]), eval(operands[1]));
      case Op::Contains:
      case Op::StartsWith:
      case Op::EndsWith: return string_predicate(node.op, eval(operands[0]), eval(operands[1]));
      case Op::And: return eval_and(operands);
      case Op::Or: return eval_or(operands);
      case Op::In:
      case Op::NotIn: return eval_in(operands, node.op == Op::In);
      case Op::Call: return call(node.function, operands);
    }
    return std::monostate{};
  }

 private:
  std::span<const uint32_t> operands_of(const Node& node) const {
    return std::span<const uint32_t>(program_.operands).subspan(node.first_operand, node.operand_count);
  }

  // SQL three-valued logic: a false operand decides AND; otherwise any operand that is not a
  // bool (null included) makes the result unknown. OR is the mirror image.
  Scalar eval_and(std::span<const uint32_t> operands) const {
    bool unknown = false;
    for (const uint32_t operand : operands) {
      const Scalar value = eval(operand);
      const auto* b = std::get_if<bool>(&value);
      if (b && !*b) return false;
      unknown |= b == nullptr;
    }
    if (unknown) return std::monostate{};
    return true;
  }

  Scalar eval_or(std::span<const uint32_t> operands) const {
    bool unknown = false;
    for (const uint32_t operand : operands) {
      const Scalar value = eval(operand);
      const auto* b = std::get_if<bool>(&value);
      if (b && *b) return true;
      unknown |= b == nullptr;
    }
    if (unknown) return std::monostate{};
    return false;
  }

  // Same as a chain of `needle = candidate` joined by OR (negated for NOT IN), so a null or
  // incomparable candidate makes a non-match unknown.
  Scalar eval_in(std::span<const uint32_t> operands, bool when_found) const {
    const Scalar needle = eval(operands[0]);
    if (holds_null(needle)) return std::monostate{};
    bool unknown = false;
    for (const uint32_t candidate : operands.subspan(1)) {
      const auto ordering = order(needle, eval(candidate));
      if (!ordering) {
        unknown = true;
      } else if (*ordering == 0) {
        return when_found;
      }
    }
    if (unknown) return std::monostate{};
    return !when_found;
  }

  Scalar call(Function function, std::span<const uint32_t> arguments) const {
    switch (function) {
      case Function::Lower:
      case Function::Upper: return change_case(eval(arguments[0]), function);
      case Function::Length: return length(eval(arguments[0]));
      case Function::Abs: return absolute(eval(arguments[0]));
      case Function::ToInt: return to_int(eval(arguments[0]));
      case Function::ToDouble: return to_double(eval(arguments[0]));
      case Function::ToString: return to_string(eval(arguments[0]));
      case Function::Coalesce:
        for (const uint32_t argument : arguments) {
          Scalar value = eval(argument);
          if (!holds_null(value)) return value;
        }
        return std::monostate{};
      case Function::Concat: {
        std::string joined;
        for (const uint32_t argument : arguments) append_display(joined, eval(argument));
        return joined;
      }
    }
    return std::monostate{};
  }

  const Program& program_;
  std::span<const Value> row_;
  std::span<const uint32_t> columns_;
};

// ---------------------------------------------------------------------------------------------
// Lexing

enum class TokenKind : uint8_t {
  End, Literal, Name, QuotedName,
  And, Or, Not, In, Is, Contains, StartsWith, EndsWith,
  LeftParen, RightParen, Comma, Plus, Minus, Star, Slash, Percent,
  Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual,
};

struct Token {
  TokenKind kind = TokenKind::End;
  std::string_view text;  // as written, for error messages
  size_t offset = 0;      // byte offset in the expression text
  Value value;            // Literal only
  std::string name;       // Name and QuotedName: the field or function name
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c) || c == '.'; }

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// The whole UTF-8 character at offset, so that messages never show half of one.
std::string_view character_at(std::string_view text, size_t offset) {
  size_t end = offset + 1;
  while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
  return text.substr(offset, end - offset);
}

std::string describe(const Token& token) {
  if (token.kind == TokenKind::End) return "the end of the expression";
  return fmt::format("'{}'", token.text);
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token next() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r')) {
      ++pos_;
    }
    const size_t start = pos_;
    if (start == text_.size()) return finish(TokenKind::End, start, start);
    const char c = text_[start];
    if (is_name_start(c)) return lex_name(start);
    if (c == '`') return lex_quoted_name(start);
    if (c == '\'' || c == '"') return lex_string(start);
    if (is_digit(c) || (c == '.' && start + 1 < text_.size() && is_digit(text_[start + 1]))) {
      return lex_number(start);
    }
    return lex_symbol(start);
  }

 private:
  [[noreturn]] void fail(size_t offset, const std::string& message) const {
    throw ParseError(column_at(text_, offset), message);
  }

  Token finish(TokenKind kind, size_t start, size_t end) {
    pos_ = end;
    Token token;
    token.kind = kind;
    token.text = text_.substr(start, end - start);
    token.offset = start;
    return token;
  }

  Token finish_literal(size_t start, size_t end, Value value) {
    Token token = finish(TokenKind::Literal, start, end);
    token.value = std::move(value);
    return token;
  }

  Token finish_name(TokenKind kind, size_t start, size_t end, std::string name) {
    Token token = finish(kind, start, end);
    token.name = std::move(name);
    return token;
  }

  Token lex_name(size_t start) {
    struct Keyword {
      std::string_view word;
      TokenKind kind;
    };
    static constexpr Keyword kKeywords[] = {
        {"and", TokenKind::And}, {"or", TokenKind::Or}, {"not", TokenKind::Not},
        {"in", TokenKind::In}, {"is", TokenKind::Is}, {"contains", TokenKind::Contains},
        {"startswith", TokenKind::StartsWith}, {"endswith", TokenKind::EndsWith},
    };
    size_t end = start;
    while (end < text_.size() && is_name_char(text_[end])) ++end;
    const std::string_view word = text_.substr(start, end - start);
    for (const auto& keyword : kKeywords) {
      if (equals_ignoring_case(word, keyword.word)) return finish(keyword.kind, start, end);
    }
    if (equals_ignoring_case(word, "true")) return finish_literal(start, end, true);
    if (equals_ignoring_case(word, "false")) return finish_literal(start, end, false);
    if (equals_ignoring_case(word, "null")) return finish_literal(start, end, Value{});
    return finish_name(TokenKind::Name, start, end, std::string(word));
  }

  // `any name`; a doubled backquote stands for one backquote inside the name.
  Token lex_quoted_name(size_t start) {
    std::string name;
    for (size_t pos = start + 1; pos < text_.size(); ++pos) {
      if (text_[pos] != '`') {
        name += text_[pos];
      } else if (pos + 1 < text_.size() && text_[pos + 1] == '`') {
        name += '`';
        ++pos;
      } else {
        if (name.empty()) fail(start, "empty field name");
        return finish_name(TokenKind::QuotedName, start, pos + 1, std::move(name));
      }
    }
    fail(start, "unterminated field name");
  }

  Token lex_string(size_t start) {
    const char quote = text_[start];
    std::string decoded;
    for (size_t pos = start + 1; pos < text_.size(); ++pos) {
      const char c = text_[pos];
      if (c == quote) return finish_literal(start, pos + 1, std::move(decoded));
      if (c != '\\') {
        decoded += c;
        continue;
      }
      if (pos + 1 == text_.size()) break;
      switch (text_[pos + 1]) {
        case '\\': decoded += '\\'; break;
        case '\'': decoded += '\''; break;
        case '"': decoded += '"'; break;
        case 'n': decoded += '\n'; break;
        case 't': decoded += '\t'; break;
        default: fail(pos, fmt::format("unknown escape '\\{}' in string", character_at(text_, pos + 1)));
      }
      ++pos;
    }
    fail(start, "unterminated string");
  }

  Token lex_number(size_t start) {
    size_t end = start;
    const auto skip_digits = [&] {
      while (end < text_.size() && is_digit(text_[end])) ++end;
    };
    skip_digits();
    bool is_double = false;
    if (end + 1 < text_.size() && text_[end] == '.' && is_digit(text_[end + 1])) {
      is_double = true;
      ++end;
      skip_digits();
    }
    if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      size_t exponent = end + 1;
      if (exponent < text_.size() && (text_[exponent] == '+' || text_[exponent] == '-')) ++exponent;
      if (exponent < text_.size() && is_digit(text_[exponent])) {
        is_double = true;
        end = exponent;
        skip_digits();
      }
    }
    if (end < text_.size() && is_name_char(text_[end])) {  // 12abc, 1.2.3, 1e, 1.
      while (end < text_.size() && is_name_char(text_[end])) ++end;
      fail(start, fmt::format("invalid number '{}'", text_.substr(start, end - start)));
    }
    const std::string_view spelling = text_.substr(start, end - start);
    const char* first = spelling.data();
    const char* last = spelling.data() + spelling.size();
    if (is_double) {
      double number = 0;
      if (std::from_chars(first, last, number).ec != std::errc()) {
        fail(start, fmt::format("number '{}' is out of range", spelling));
      }
      return finish_literal(start, end, number);
    }
    int64_t number = 0;
    if (std::from_chars(first, last, number).ec != std::errc()) {
      fail(start, fmt::format("integer '{}' is out of range", spelling));
    }
    return finish_literal(start, end, number);
  }

  Token lex_symbol(size_t start) {
    struct Symbol {
      std::string_view spelling;
      TokenKind kind;
    };
    // Two-character symbols first, so that "<=" is not read as "<" then "=".
    static constexpr Symbol kSymbols[] = {
        {"==", TokenKind::Equal}, {"!=", TokenKind::NotEqual}, {"<=", TokenKind::LessEqual},
        {">=", TokenKind::GreaterEqual}, {"&&", TokenKind::And}, {"||", TokenKind::Or},
        {"(", TokenKind::LeftParen}, {")", TokenKind::RightParen}, {",", TokenKind::Comma},
        {"+", TokenKind::Plus}, {"-", TokenKind::Minus}, {"*", TokenKind::Star},
        {"/", TokenKind::Slash}, {"%", TokenKind::Percent}, {"<", TokenKind::Less},
        {">", TokenKind::Greater}, {"=", TokenKind::Equal}, {"!", TokenKind::Not},
    };
    const std::string_view rest = text_.substr(start);
    for (const auto& symbol : kSymbols) {
      if (rest.starts_with(symbol.spelling)) return finish(symbol.kind, start, start + symbol.spelling.size());
    }
    const auto byte = static_cast<unsigned char>(text_[start]);
    if (byte < 0x20 || byte == 0x7f) fail(start, fmt::format("unexpected control character 0x{:02x}", byte));
    fail(start, fmt::format("unexpected character '{}'", character_at(text_, start)));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Parsing

struct FunctionInfo {
  std::string_view name;
  Function function;
  uint32_t min_arguments;
  uint32_t max_arguments;
};
constexpr uint32_t kVariadic = UINT32_MAX;
constexpr FunctionInfo kFunctions[] = {
    {"lower", Function::Lower, 1, 1},          {"upper", Function::Upper, 1, 1},
    {"length", Function::Length, 1, 1},        {"abs", Function::Abs, 1, 1},
    {"coalesce", Function::Coalesce, 1, kVariadic}, {"concat", Function::Concat, 1, kVariadic},
    {"to_int", Function::ToInt, 1, 1},         {"to_double", Function::ToDouble, 1, 1},
    {"to_string", Function::ToString, 1, 1},
};

std::optional<Op> comparison_op(TokenKind kind) {
  switch (kind) {
    case TokenKind::Equal: return Op::Equal;
    case TokenKind::NotEqual: return Op::NotEqual;
    case TokenKind::Less: return Op::Less;
    case TokenKind::LessEqual: return Op::LessEqual;
    case TokenKind::Greater: return Op::Greater;
    case TokenKind::GreaterEqual: return Op::GreaterEqual;
    case TokenKind::Contains: return Op::Contains;
    case TokenKind::StartsWith: return Op::StartsWith;
    case TokenKind::EndsWith: return Op::EndsWith;
    default: return std::nullopt;
  }
}

// `x not in (...)` and `x is not null` take the keyword only; `!` is a prefix operator.
bool is_word_not(const Token& token) { return token.kind == TokenKind::Not && token.text.size() == 3; }

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), lexer_(text) { current_ = lexer_.next(); }

  Program parse() && {
    if (current_.kind == TokenKind::End) fail(0, "expression is empty");
    parse_or();
    if (current_.kind == TokenKind::RightParen) fail(current_.offset, "unmatched ')'");
    if (current_.kind != TokenKind::End) {
      fail(current_.offset,
           fmt::format("expected an operator or the end of the expression, found {}", describe(current_)));
    }
    program_.text = std::string(text_);
    return std::move(program_);
  }

 private:
  [[noreturn]] void fail(size_t offset, const std::string& message) const {
    throw ParseError(column_at(text_, offset), message);
  }

  void advance() {
    previous_text_ = current_.text;
    current_ = lexer_.next();
  }

  uint32_t parse_or() {
    const size_t offset = current_.offset;
    std::vector<uint32_t> operands{parse_and()};
    while (current_.kind == TokenKind::Or) {
      advance();
      operands.push_back(parse_and());
    }
    return operands.size() == 1 ? operands[0] : add_operation(Op::Or, operands, offset);
  }

  uint32_t parse_and() {
    const size_t offset = current_.offset;
    std::vector<uint32_t> operands{parse_not()};
    while (current_.kind == TokenKind::And) {
      advance();
      operands.push_back(parse_not());
    }
    return operands.size() == 1 ? operands[0] : add_operation(Op::And, operands, offset);
  }

  // Prefix operators loop rather than recurse, so a long run of them cannot exhaust the stack.
  uint32_t parse_not() {
    const size_t offset = current_.offset;
    uint32_t negations = 0;
    for (; current_.kind == TokenKind::Not; advance()) ++negations;
    uint32_t operand = parse_predicate();
    for (; negations > 0; --negations) operand = add_operation(Op::Not, {&operand, 1}, offset);
    return operand;
  }

  uint32_t parse_predicate() {
    const uint32_t subject = parse_sum();
    const size_t offset = current_.offset;
    uint32_t result = 0;
    if (const auto op = comparison_op(current_.kind)) {
      advance();
      const uint32_t operands[] = {subject, parse_sum()};
      result = add_operation(*op, operands, offset);
    } else if (current_.kind == TokenKind::In) {
      advance();
      result = parse_in_list(subject, Op::In, offset);
    } else if (is_word_not(current_)) {
      advance();
      if (current_.kind != TokenKind::In) {
        fail(current_.offset, fmt::format("expected 'in' after 'not', found {}", describe(current_)));
      }
      advance();
      result = parse_in_list(subject, Op::NotIn, offset);
    } else if (current_.kind == TokenKind::Is) {
      advance();
      const bool negated = is_word_not(current_);
      if (negated) advance();
      if (current_.kind != TokenKind::Literal || !is_null(current_.value)) {
        fail(current_.offset, fmt::format("expected 'null' after '{}', found {}", negated ? "is not" : "is",
                                          describe(current_)));
      }
      advance();
      result = add_operation(negated ? Op::IsNotNull : Op::IsNull, {&subject, 1}, offset);
    } else {
      return subject;
    }
    if (comparison_op(current_.kind) || current_.kind == TokenKind::In || current_.kind == TokenKind::Is ||
        is_word_not(current_)) {
      fail(current_.offset, fmt::format("comparisons do not chain: '{}' follows another comparison; "
                                        "combine them with 'and' or use parentheses",
                                        current_.text));
    }
    return result;
  }

  uint32_t parse_in_list(uint32_t needle, Op op, size_t offset) {
    if (current_.kind != TokenKind::LeftParen) {
      fail(current_.offset, fmt::format("expected '(' after 'in', found {}", describe(current_)));
    }
    const size_t open = current_.offset;
    advance();
    std::vector<uint32_t> operands{needle, parse_nested()};
    while (current_.kind == TokenKind::Comma) {
      advance();
      operands.push_back(parse_nested());
    }
    close_paren(open, "the 'in' list");
    return add_operation(op, operands, offset);
  }

  uint32_t parse_sum() {
    uint32_t left = parse_product();
    while (current_.kind == TokenKind::Plus || current_.kind == TokenKind::Minus) {
      const Op op = current_.kind == TokenKind::Plus ? Op::Add : Op::Subtract;
      const size_t offset = current_.offset;
      advance();
      const uint32_t operands[] = {left, parse_product()};
      left = add_operation(op, operands, offset);
    }
    return left;
  }

  uint32_t parse_product() {
    uint32_t left = parse_unary();
    while (true) {
      Op op;
      if (current_.kind == TokenKind::Star) {
        op = Op::Multiply;
      } else if (current_.kind == TokenKind::Slash) {
        op = Op::Divide;
      } else if (current_.kind == TokenKind::Percent) {
        op = Op::Modulo;
      } else {
        return left;
      }
      const size_t offset = current_.offset;
      advance();
      const uint32_t operands[] = {left, parse_unary()};
      left = add_operation(op, operands, offset);
    }
  }

  uint32_t parse_unary() {
    const size_t offset = current_.offset;
    uint32_t negations = 0;
    for (; current_.kind == TokenKind::Minus; advance()) ++negations;
    uint32_t operand = parse_primary();
    for (; negations > 0; --negations) operand = add_operation(Op::Negate, {&operand, 1}, offset);
    return operand;
  }

  uint32_t parse_primary() {
    switch (current_.kind) {
      case TokenKind::Literal: {
        Node node;
        node.literal = std::move(current_.value);
        advance();
        return add_leaf(std::move(node));
      }
      case TokenKind::QuotedName: {
        const uint32_t field = add_field(current_.name);
        advance();
        return field;
      }
      case TokenKind::Name: {
        const Token name = current_;
        advance();
        if (current_.kind == TokenKind::LeftParen) return parse_call(name);
        return add_field(name.name);
      }
      case TokenKind::LeftParen: {
        const size_t open = current_.offset;
        advance();
        const uint32_t inner = parse_nested();
        close_paren(open, {});
        return inner;
      }
      default: {
        std::string message =
            previous_text_.empty() ? "expected a value" : fmt::format("expected a value after '{}'", previous_text_);
        if (current_.kind != TokenKind::End) message += fmt::format(", found {}", describe(current_));
        fail(current_.offset, message);
      }
    }
  }

  uint32_t parse_call(const Token& name) {
    const auto* function = std::find_if(std::begin(kFunctions), std::end(kFunctions),
                                        [&](const FunctionInfo& f) { return equals_ignoring_case(f.name, name.text); });
    if (function == std::end(kFunctions)) fail(name.offset, fmt::format("unknown function '{}'", name.text));
    const size_t open = current_.offset;
    advance();
    std::vector<uint32_t> arguments;
    if (current_.kind != TokenKind::RightParen) {
      arguments.push_back(parse_nested());
      while (current_.kind == TokenKind::Comma) {
        advance();
        arguments.push_back(parse_nested());
      }
    }
    close_paren(open, fmt::format("the arguments of '{}'", name.text));
    const size_t count = arguments.size();
    if (count < function->min_arguments || count > function->max_arguments) {
      const bool variadic = function->max_arguments == kVariadic;
      fail(name.offset, fmt::format("function '{}' takes {}{} argument{}, got {}", name.text,
                                    variadic ? "at least " : "", function->min_arguments,
                                    function->min_arguments == 1 ? "" : "s", count));
    }
    return add_operation(Op::Call, arguments, name.offset, function->function);
  }

  // An expression inside parentheses: the only place the parser recurses on the input.
  uint32_t parse_nested() {
    if (++nesting_ > kMaxDepth) fail(current_.offset, too_deep_message());
    const uint32_t node = parse_or();
    --nesting_;
    return node;
  }

  // list_name is empty for a parenthesized expression, where a comma is not allowed.
  void close_paren(size_t open, std::string_view list_name) {
    if (current_.kind == TokenKind::RightParen) return advance();
    const size_t open_column = column_at(text_, open);
    std::string message =
        list_name.empty()
            ? fmt::format("expected ')' to close the '(' at column {}", open_column)
            : fmt::format("expected ',' or ')' in {} opened at column {}", list_name, open_column);
    if (current_.kind != TokenKind::End) message += fmt::format(", found {}", describe(current_));
    fail(current_.offset, message);
  }

  static std::string too_deep_message() {
    return fmt::format("expression nests too deeply (more than {} levels)", kMaxDepth);
  }

  uint32_t add_leaf(Node node) {
    program_.nodes.push_back(std::move(node));
    return static_cast<uint32_t>(program_.nodes.size() - 1);
  }

  uint32_t add_field(const std::string& name) {
    const auto found = std::find(program_.fields.begin(), program_.fields.end(), name);
    Node node;
    node.op = Op::Field;
    node.field = static_cast<uint32_t>(found - program_.fields.begin());
    if (found == program_.fields.end()) program_.fields.push_back(name);
    return add_leaf(std::move(node));
  }

  // offset locates the operator for the nesting-depth error.
  uint32_t add_operation(Op op, std::span<const uint32_t> operands, size_t offset,
                         Function function = Function::Lower) {
    Node node;
    node.op = op;
    node.function = function;
    node.first_operand = static_cast<uint32_t>(program_.operands.size());
    node.operand_count = static_cast<uint32_t>(operands.size());
    bool constant = true;
    for (const uint32_t operand : operands) {
      const Node& child = program_.nodes[operand];
      node.height = std::max(node.height, child.height + 1);
      constant &= child.op == Op::Literal;
    }
    if (node.height > kMaxDepth) fail(offset, too_deep_message());
    program_.operands.insert(program_.operands.end(), operands.begin(), operands.end());
    const uint32_t index = add_leaf(std::move(node));
    return constant ? fold(index, operands) : index;
  }

  // Replaces an operation on literals by its value. Operands are added just before the operation
  // that uses them, so when they are all literals they are exactly the nodes from the smallest
  // operand index up to the operation, and its operand list is the tail of Program::operands.
  uint32_t fold(uint32_t index, std::span<const uint32_t> operands) {
    Node folded;
    folded.literal = to_value(Evaluator(program_, {}, {}).eval(index));
    program_.operands.resize(program_.nodes[index].first_operand);
    program_.nodes.resize(*std::min_element(operands.begin(), operands.end()));
    return add_leaf(std::move(folded));
  }

  std::string_view text_;
  Lexer lexer_;
  Token current_;
  std::string_view previous_text_;
  uint32_t nesting_ = 0;
  Program program_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public interface

Expression Expression::parse(std::string_view text) {
  return Expression(std::make_shared<const Program>(Parser(text).parse()));
}

BoundExpression Expression::bind(const Schema& schema) const {
  std::vector<uint32_t> columns;
  columns.reserve(program_->fields.size());
  for (const std::string& field : program_->fields) {
    const int column = schema.index_of(field);
    if (column < 0) {
      std::string available;
      for (const std::string& name : schema.names()) available += (available.empty() ? "" : ", ") + name;
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("expression '{}' references unknown field '{}'; available fields: {}", program_->text,
                              field, available.empty() ? "(none)" : available));
    }
    columns.push_back(static_cast<uint32_t>(column));
  }
  return BoundExpression(program_, std::move(columns));
}

const std::vector<std::string>& Expression::fields() const { return program_->fields; }

const std::string& Expression::text() const { return program_->text; }

BoundExpression::BoundExpression(std::shared_ptr<const Program> program, std::vector<uint32_t> columns)
    : program_(std::move(program)), columns_(std::move(columns)) {
  for (const uint32_t column : columns_) required_width_ = std::max<size_t>(required_width_, column + size_t{1});
  const Node& root = program_->nodes.back();
  if (!is_comparison(root.op)) return;
  const Node& left = program_->nodes[program_->operands[root.first_operand]];
  const Node& right = program_->nodes[program_->operands[root.first_operand + 1]];
  const bool literal_first = left.op == Op::Literal;
  const Node& field = literal_first ? right : left;
  const Node& literal = literal_first ? left : right;
  if (field.op == Op::Field && literal.op == Op::Literal && std::holds_alternative<int64_t>(literal.literal)) {
    const auto [low, high, inside] =
        values_where(literal_first ? mirrored(root.op) : root.op, std::get<int64_t>(literal.literal));
    int_range_ = IntRange{.column = columns_[field.field], .low = low, .high = high, .inside = inside};
  }
}

void BoundExpression::check_width(std::span<const Value> row) const {
  if (row.size() < required_width_) {
    throw Error(ErrorCode::Internal, fmt::format("expression '{}' reads column {} but the row has only {} values",
                                                 program_->text, required_width_ - 1, row.size()));
  }
}

Value BoundExpression::eval(std::span<const Value> row) const {
  check_width(row);
  return to_value(Evaluator(*program_, row, columns_).eval_root());
}

bool BoundExpression::evaluate_test(std::span<const Value> row) const {
  check_width(row);
  const Scalar result = Evaluator(*program_, row, columns_).eval_root();
  const auto* b = std::get_if<bool>(&result);
  return b != nullptr && *b;
}

}  // namespace sluice::expr
