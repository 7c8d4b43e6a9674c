#include "pipeline/expr/expression.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

// Counts heap allocations so that tests can assert the evaluation hot path makes none.
namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

[[gnu::noinline]] void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
  throw std::bad_alloc();
}
// GCC pairs the replaced new/delete with malloc/free across inlining and warns; the pairing is
// exactly what is intended here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
[[gnu::noinline]] void operator delete(void* block) noexcept { std::free(block); }
[[gnu::noinline]] void operator delete(void* block, std::size_t) noexcept { std::free(block); }
// The nothrow forms too: ASan's own nothrow new (simdjson, in this binary through jsonl, uses it)
// would otherwise hand out blocks that the replaced delete above frees with free(), which ASan
// reports as an alloc-dealloc mismatch.
[[gnu::noinline]] void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
[[gnu::noinline]] void operator delete(void* block, const std::nothrow_t&) noexcept { std::free(block); }
#pragma GCC diagnostic pop

namespace sluice::expr {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Value Int(int64_t v) { return Value{v}; }
Value Dbl(double v) { return Value{v}; }
Value Str(std::string v) { return Value{std::move(v)}; }
Value Bool(bool v) { return Value{v}; }
const Value kNull{};

struct Field {
  std::string name;
  Value value;
};

// Parses, binds against the given fields (in order) and evaluates against their values.
Value eval(std::string_view text, const std::vector<Field>& fields = {}) {
  std::vector<std::string> names;
  std::vector<Value> row;
  for (const auto& field : fields) {
    names.push_back(field.name);
    row.push_back(field.value);
  }
  return Expression::parse(text).bind(Schema(names)).eval(row);
}

bool test(std::string_view text, const std::vector<Field>& fields = {}) {
  std::vector<std::string> names;
  std::vector<Value> row;
  for (const auto& field : fields) {
    names.push_back(field.name);
    row.push_back(field.value);
  }
  return Expression::parse(text).bind(Schema(names)).test(row);
}

// ----------------------------------------------------------------------------------------------
// Literals and names

TEST(ExpressionLiterals, Numbers) {
  EXPECT_EQ(eval("42"), Int(42));
  EXPECT_EQ(eval("0"), Int(0));
  EXPECT_EQ(eval("9223372036854775807"), Int(kMax));
  EXPECT_EQ(eval("2.5"), Dbl(2.5));
  EXPECT_EQ(eval(".5"), Dbl(0.5));
  EXPECT_EQ(eval("1e3"), Dbl(1000.0));
  EXPECT_EQ(eval("1.5E-2"), Dbl(0.015));
  EXPECT_EQ(eval("2e+1"), Dbl(20.0));
}

TEST(ExpressionLiterals, Strings) {
  EXPECT_EQ(eval("'hello'"), Str("hello"));
  EXPECT_EQ(eval("\"hello\""), Str("hello"));
  EXPECT_EQ(eval("''"), Str(""));
  EXPECT_EQ(eval(R"('it\'s')"), Str("it's"));
  EXPECT_EQ(eval(R"("say \"hi\"")"), Str("say \"hi\""));
  EXPECT_EQ(eval(R"('a\\b')"), Str("a\\b"));
  EXPECT_EQ(eval(R"('a\nb\tc')"), Str("a\nb\tc"));
  EXPECT_EQ(eval(R"('"' + "'")"), Str("\"'"));
  EXPECT_EQ(eval("'héllo'"), Str("héllo"));
}

TEST(ExpressionLiterals, KeywordsAreCaseInsensitive) {
  EXPECT_EQ(eval("true"), Bool(true));
  EXPECT_EQ(eval("FALSE"), Bool(false));
  EXPECT_EQ(eval("True"), Bool(true));
  EXPECT_EQ(eval("null"), kNull);
  EXPECT_EQ(eval("NULL"), kNull);
}

TEST(ExpressionNames, BareDottedAndBackquoted) {
  EXPECT_EQ(eval("x", {{"x", Int(7)}}), Int(7));
  EXPECT_EQ(eval("_x1", {{"_x1", Int(8)}}), Int(8));
  EXPECT_EQ(eval("user.id", {{"user", Int(1)}, {"user.id", Int(99)}}), Int(99));
  EXPECT_EQ(eval("`first name`", {{"first name", Str("Ada")}}), Str("Ada"));
  EXPECT_EQ(eval("`a-b` * 2", {{"a-b", Int(4)}}), Int(8));
  EXPECT_EQ(eval("`odd``name`", {{"odd`name", Int(3)}}), Int(3));
  // Keywords and function names become field names when backquoted.
  EXPECT_EQ(eval("`and` + `lower`", {{"and", Int(1)}, {"lower", Int(2)}}), Int(3));
  // A keyword inside a dotted name does not make the name a keyword.
  EXPECT_EQ(eval("null.count", {{"null.count", Int(5)}}), Int(5));
}

TEST(ExpressionNames, FieldsInFirstUseOrderWithoutDuplicates) {
  const auto expression = Expression::parse("b + a > c and a < `d e` or b = 1");
  EXPECT_EQ(expression.fields(), (std::vector<std::string>{"b", "a", "c", "d e"}));
  EXPECT_EQ(expression.text(), "b + a > c and a < `d e` or b = 1");
  EXPECT_TRUE(Expression::parse("1 + 2").fields().empty());
}

TEST(ExpressionNames, BindMapsFieldsToTheirColumns) {
  const auto bound = Expression::parse("b - a").bind(Schema({"a", "unused", "b"}));
  const std::vector<Value> row = {Int(10), Str("x"), Int(3)};
  EXPECT_EQ(bound.eval(row), Int(-7));
}

TEST(ExpressionNames, CopiesShareTheParsedExpression) {
  const auto original = Expression::parse("x * 2");
  const Expression copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(&copy.fields(), &original.fields());
  const std::vector<Value> row = {Int(21)};
  EXPECT_EQ(copy.bind(Schema({"x"})).eval(row), Int(42));
}

// ----------------------------------------------------------------------------------------------
// Comparisons

TEST(ExpressionComparison, EveryOperatorOnInts) {
  const std::vector<Field> row = {{"a", Int(3)}, {"b", Int(5)}};
  EXPECT_EQ(eval("a == b", row), Bool(false));
  EXPECT_EQ(eval("a = 3", row), Bool(true));
  EXPECT_EQ(eval("a != b", row), Bool(true));
  EXPECT_EQ(eval("a != 3", row), Bool(false));
  EXPECT_EQ(eval("a < b", row), Bool(true));
  EXPECT_EQ(eval("b < a", row), Bool(false));
  EXPECT_EQ(eval("a <= 3", row), Bool(true));
  EXPECT_EQ(eval("b <= 3", row), Bool(false));
  EXPECT_EQ(eval("b > a", row), Bool(true));
  EXPECT_EQ(eval("a > a", row), Bool(false));
  EXPECT_EQ(eval("a >= 3", row), Bool(true));
  EXPECT_EQ(eval("a >= b", row), Bool(false));
}

TEST(ExpressionComparison, IntsAndDoublesCompareNumerically) {
  EXPECT_EQ(eval("1 = 1.0"), Bool(true));
  EXPECT_EQ(eval("2.5 > 2"), Bool(true));
  EXPECT_EQ(eval("2 < 2.5"), Bool(true));
  EXPECT_EQ(eval("2 >= 2.5"), Bool(false));
  EXPECT_EQ(eval("-3 < -2.5"), Bool(true));
  EXPECT_EQ(eval("x = y", {{"x", Dbl(0.1)}, {"y", Dbl(0.1)}}), Bool(true));
  // Exact: 2^53 + 1 is not equal to the double 2^53, although converting it to double rounds.
  EXPECT_EQ(eval("9007199254740993 = 9007199254740992.0"), Bool(false));
  EXPECT_EQ(eval("9007199254740993 > 9007199254740992.0"), Bool(true));
  EXPECT_EQ(eval("9007199254740992.0 < 9007199254740993"), Bool(true));
  EXPECT_EQ(eval("9223372036854775807 < 1e19"), Bool(true));
  EXPECT_EQ(eval("-9223372036854775807 > -1e19"), Bool(true));
}

TEST(ExpressionComparison, NanIsUnordered) {
  const std::vector<Field> row = {{"n", Dbl(std::nan(""))}, {"i", Int(1)}};
  EXPECT_EQ(eval("n = n", row), Bool(false));
  EXPECT_EQ(eval("n != n", row), Bool(true));
  EXPECT_EQ(eval("n < i", row), Bool(false));
  EXPECT_EQ(eval("i >= n", row), Bool(false));
}

TEST(ExpressionComparison, StringsCompareLexicographically) {
  EXPECT_EQ(eval("'apple' < 'banana'"), Bool(true));
  EXPECT_EQ(eval("'apple' < 'apples'"), Bool(true));
  EXPECT_EQ(eval("'B' < 'a'"), Bool(true));  // bytewise, so uppercase sorts first
  EXPECT_EQ(eval("name = 'bob'", {{"name", Str("bob")}}), Bool(true));
  EXPECT_EQ(eval("name != 'bob'", {{"name", Str("bob")}}), Bool(false));
  EXPECT_EQ(eval("name >= 'bob'", {{"name", Str("bobby")}}), Bool(true));
}

TEST(ExpressionComparison, BoolsCompareWithBools) {
  EXPECT_EQ(eval("true = true"), Bool(true));
  EXPECT_EQ(eval("true != false"), Bool(true));
  EXPECT_EQ(eval("false < true"), Bool(true));
  EXPECT_EQ(eval("(1 < 2) = true"), Bool(true));
}

TEST(ExpressionComparison, IncompatibleTypesAndNullsGiveNull) {
  EXPECT_EQ(eval("'1' = 1"), kNull);
  EXPECT_EQ(eval("1 < 'a'"), kNull);
  EXPECT_EQ(eval("true = 1"), kNull);
  EXPECT_EQ(eval("'true' != true"), kNull);
  EXPECT_EQ(eval("null = null"), kNull);
  EXPECT_EQ(eval("x = 1", {{"x", kNull}}), kNull);
  EXPECT_EQ(eval("x != 1", {{"x", kNull}}), kNull);
  EXPECT_FALSE(test("x != 1", {{"x", kNull}}));
  EXPECT_FALSE(test("x = 1", {{"x", Str("1")}}));
}

// test() compares an int field with an int literal without the evaluator. It must agree with
// eval() (which always evaluates) for every comparison, either way round, and for cells of every
// type, ints at the limits, doubles and NaN among them.
TEST(ExpressionComparison, FieldAgainstIntLiteralTestsAsEvaluated) {
  const std::vector<Value> cells = {Int(0),     Int(399),   Int(400),          Int(401), Int(kMin),  Int(kMax),
                                    Dbl(400.0), Dbl(400.5), Dbl(std::nan("")), kNull,    Str("400"), Bool(true)};
  for (const std::string op : {"=", "==", "!=", "<", "<=", ">", ">="}) {
    for (const std::string literal : {"400", "-5", "9223372036854775807", "0"}) {
      for (const std::string& text : {"x " + op + " " + literal, literal + " " + op + " x"}) {
        for (const Value& cell : cells) {
          SCOPED_TRACE(text + " with x = " + to_display(cell));
          const Value evaluated = eval(text, {{"x", cell}});
          EXPECT_EQ(test(text, {{"x", cell}}), evaluated == Bool(true));
        }
      }
    }
  }
}

// ----------------------------------------------------------------------------------------------
// Boolean logic

struct TruthCase {
  Value left;
  Value right;
  Value expected_and;
  Value expected_or;
};

TEST(ExpressionLogic, ThreeValuedAndOr) {
  const Value T = Bool(true), F = Bool(false), N = kNull;
  const std::vector<TruthCase> cases = {
      {T, T, T, T}, {T, F, F, T}, {T, N, N, T}, {F, T, F, T}, {F, F, F, F},
      {F, N, F, N}, {N, T, N, T}, {N, F, F, N}, {N, N, N, N},
  };
  for (const auto& c : cases) {
    const std::vector<Field> row = {{"p", c.left}, {"q", c.right}};
    SCOPED_TRACE(sluice::to_display(c.left) + " ? " + sluice::to_display(c.right));
    EXPECT_EQ(eval("p and q", row), c.expected_and);
    EXPECT_EQ(eval("p && q", row), c.expected_and);
    EXPECT_EQ(eval("p AND q", row), c.expected_and);
    EXPECT_EQ(eval("p or q", row), c.expected_or);
    EXPECT_EQ(eval("p || q", row), c.expected_or);
    EXPECT_EQ(eval("p Or q", row), c.expected_or);
  }
}

TEST(ExpressionLogic, Not) {
  EXPECT_EQ(eval("not p", {{"p", Bool(true)}}), Bool(false));
  EXPECT_EQ(eval("NOT p", {{"p", Bool(false)}}), Bool(true));
  EXPECT_EQ(eval("!p", {{"p", Bool(false)}}), Bool(true));
  EXPECT_EQ(eval("not p", {{"p", kNull}}), kNull);
  EXPECT_EQ(eval("not not p", {{"p", Bool(true)}}), Bool(true));
  EXPECT_EQ(eval("not 5"), kNull);
}

TEST(ExpressionLogic, LongChainsAndNonBoolOperands) {
  EXPECT_EQ(eval("true and true and true and true"), Bool(true));
  EXPECT_EQ(eval("true and true and false and null"), Bool(false));
  EXPECT_EQ(eval("false or false or null or false"), kNull);
  EXPECT_EQ(eval("false or false or false"), Bool(false));
  EXPECT_EQ(eval("null or false or true"), Bool(true));
  // A non-bool operand is unknown: it cannot decide the result but keeps it from being certain.
  EXPECT_EQ(eval("5 and true"), kNull);
  EXPECT_EQ(eval("'x' and false"), Bool(false));
  EXPECT_EQ(eval("'x' or true"), Bool(true));
  EXPECT_EQ(eval("1 or false"), kNull);
}

TEST(ExpressionLogic, TestIsTrueOnlyForBoolTrue) {
  EXPECT_TRUE(test("true"));
  EXPECT_TRUE(test("x > 1", {{"x", Int(2)}}));
  EXPECT_FALSE(test("false"));
  EXPECT_FALSE(test("null"));
  EXPECT_FALSE(test("1"));
  EXPECT_FALSE(test("'true'"));
  EXPECT_FALSE(test("x", {{"x", Int(1)}}));
  EXPECT_FALSE(test("x > 1", {{"x", kNull}}));
}

// ----------------------------------------------------------------------------------------------
// IN, string predicates, null checks

TEST(ExpressionIn, MembershipWithSqlNullSemantics) {
  const std::vector<Field> row = {{"x", Int(2)}, {"y", Int(7)}, {"n", kNull}, {"s", Str("b")}};
  EXPECT_EQ(eval("x in (1, 2, 3)", row), Bool(true));
  EXPECT_EQ(eval("x IN (1, 3)", row), Bool(false));
  EXPECT_EQ(eval("x in (2)", row), Bool(true));
  EXPECT_EQ(eval("x not in (1, 3)", row), Bool(true));
  EXPECT_EQ(eval("x NOT IN (1, 2)", row), Bool(false));
  EXPECT_EQ(eval("x in (2.0)", row), Bool(true));
  EXPECT_EQ(eval("s in ('a', 'b')", row), Bool(true));
  EXPECT_EQ(eval("s in ('a', 'c')", row), Bool(false));
  // The list may hold expressions, including fields.
  EXPECT_EQ(eval("x in (y - 5, 100)", row), Bool(true));
  EXPECT_EQ(eval("y in (x * 3, x + 5)", row), Bool(true));
  // A null needle is unknown; a null or incomparable candidate only matters without a match.
  EXPECT_EQ(eval("n in (1, 2)", row), kNull);
  EXPECT_EQ(eval("n not in (1, 2)", row), kNull);
  EXPECT_EQ(eval("x in (1, null)", row), kNull);
  EXPECT_EQ(eval("x in (2, null)", row), Bool(true));
  EXPECT_EQ(eval("x not in (1, null)", row), kNull);
  EXPECT_EQ(eval("x not in (2, null)", row), Bool(false));
  EXPECT_EQ(eval("x in ('a', 'b')", row), kNull);
  EXPECT_EQ(eval("x in ('a', 2)", row), Bool(true));
}

TEST(ExpressionStrings, ContainsStartsWithEndsWith) {
  const std::vector<Field> row = {{"s", Str("hello world")}, {"n", kNull}, {"i", Int(12)}};
  EXPECT_EQ(eval("s contains 'lo w'", row), Bool(true));
  EXPECT_EQ(eval("s contains 'xyz'", row), Bool(false));
  EXPECT_EQ(eval("s contains ''", row), Bool(true));
  EXPECT_EQ(eval("s startswith 'hello'", row), Bool(true));
  EXPECT_EQ(eval("s startswith 'world'", row), Bool(false));
  EXPECT_EQ(eval("s endswith 'world'", row), Bool(true));
  EXPECT_EQ(eval("s endswith 'hello'", row), Bool(false));
  EXPECT_EQ(eval("s CONTAINS 'o' and s EndsWith 'd'", row), Bool(true));
  EXPECT_EQ(eval("s contains 'hello ' + 'w'", row), Bool(true));  // + binds tighter
  EXPECT_EQ(eval("n contains 'a'", row), kNull);
  EXPECT_EQ(eval("s startswith n", row), kNull);
  EXPECT_EQ(eval("i contains '1'", row), kNull);
  EXPECT_EQ(eval("s endswith 1", row), kNull);
}

TEST(ExpressionNullChecks, IsNullAndIsNotNull) {
  const std::vector<Field> row = {{"n", kNull}, {"x", Int(0)}, {"s", Str("")}};
  EXPECT_EQ(eval("n is null", row), Bool(true));
  EXPECT_EQ(eval("x is null", row), Bool(false));
  EXPECT_EQ(eval("s is null", row), Bool(false));
  EXPECT_EQ(eval("n is not null", row), Bool(false));
  EXPECT_EQ(eval("x IS NOT NULL", row), Bool(true));
  EXPECT_EQ(eval("x / 0 is null", row), Bool(true));
  EXPECT_EQ(eval("not n is null", row), Bool(false));
}

// ----------------------------------------------------------------------------------------------
// Arithmetic

TEST(ExpressionArithmetic, IntOperators) {
  const std::vector<Field> row = {{"a", Int(17)}, {"b", Int(5)}};
  EXPECT_EQ(eval("a + b", row), Int(22));
  EXPECT_EQ(eval("a - b", row), Int(12));
  EXPECT_EQ(eval("a * b", row), Int(85));
  EXPECT_EQ(eval("a % b", row), Int(2));
  EXPECT_EQ(eval("-a % b", row), Int(-2));  // C++ remainder: takes the dividend's sign
  EXPECT_EQ(eval("-a", row), Int(-17));
  EXPECT_EQ(eval("- -a", row), Int(17));
}

TEST(ExpressionArithmetic, DivisionAlwaysYieldsDouble) {
  EXPECT_EQ(eval("7 / 2"), Dbl(3.5));
  EXPECT_EQ(eval("8 / 2"), Dbl(4.0));
  EXPECT_EQ(eval("-7 / 2"), Dbl(-3.5));
  EXPECT_EQ(eval("1.5 / 0.5"), Dbl(3.0));
}

TEST(ExpressionArithmetic, DoubleOperandMakesDouble) {
  EXPECT_EQ(eval("1 + 0.5"), Dbl(1.5));
  EXPECT_EQ(eval("0.5 + 1"), Dbl(1.5));
  EXPECT_EQ(eval("3 - 0.5"), Dbl(2.5));
  EXPECT_EQ(eval("2 * 1.5"), Dbl(3.0));
  EXPECT_EQ(eval("-x", {{"x", Dbl(2.5)}}), Dbl(-2.5));
  EXPECT_EQ(eval("2.0 * 3"), Dbl(6.0));
}

TEST(ExpressionArithmetic, ModuloIsIntOnly) {
  EXPECT_EQ(eval("7.5 % 2"), kNull);
  EXPECT_EQ(eval("7 % 2.0"), kNull);
}

TEST(ExpressionArithmetic, DivisionAndModuloByZeroGiveNull) {
  const std::vector<Field> row = {{"a", Int(5)}, {"zero", Int(0)}, {"dzero", Dbl(0.0)}};
  EXPECT_EQ(eval("a / zero", row), kNull);
  EXPECT_EQ(eval("a % zero", row), kNull);
  EXPECT_EQ(eval("a / dzero", row), kNull);
  EXPECT_EQ(eval("1.5 / 0", row), kNull);
  EXPECT_EQ(eval("0 / 0", row), kNull);
}

TEST(ExpressionArithmetic, IntOverflowGivesNull) {
  const std::vector<Field> row = {{"max", Int(kMax)}, {"min", Int(kMin)}, {"minus_one", Int(-1)}};
  EXPECT_EQ(eval("max + 1", row), kNull);
  EXPECT_EQ(eval("max + 0", row), Int(kMax));
  EXPECT_EQ(eval("min - 1", row), kNull);
  EXPECT_EQ(eval("min + 1", row), Int(kMin + 1));
  EXPECT_EQ(eval("max * 2", row), kNull);
  EXPECT_EQ(eval("min * minus_one", row), kNull);
  EXPECT_EQ(eval("-min", row), kNull);
  EXPECT_EQ(eval("-max", row), Int(-kMax));
  EXPECT_EQ(eval("min % minus_one", row), Int(0));  // no overflow: the remainder is 0
  EXPECT_EQ(eval("min / minus_one", row), Dbl(9223372036854775808.0));
  EXPECT_EQ(eval("3037000500 * 3037000500"), kNull);
  EXPECT_EQ(eval("3037000499 * 3037000499"), Int(9223372030926249001));
}

TEST(ExpressionArithmetic, NullAndNonNumericOperandsGiveNull) {
  const std::vector<Field> row = {{"n", kNull}, {"x", Int(1)}, {"s", Str("2")}, {"b", Bool(true)}};
  EXPECT_EQ(eval("n + x", row), kNull);
  EXPECT_EQ(eval("x - n", row), kNull);
  EXPECT_EQ(eval("n * 2.0", row), kNull);
  EXPECT_EQ(eval("-n", row), kNull);
  EXPECT_EQ(eval("x + s", row), kNull);
  EXPECT_EQ(eval("s * 2", row), kNull);
  EXPECT_EQ(eval("b + 1", row), kNull);
  EXPECT_EQ(eval("-b", row), kNull);
  EXPECT_EQ(eval("-s", row), kNull);
  EXPECT_EQ(eval("s - s", row), kNull);
}

TEST(ExpressionArithmetic, PlusConcatenatesStrings) {
  const std::vector<Field> row = {{"first", Str("Ada")}, {"last", Str("Lovelace")}, {"n", kNull}};
  EXPECT_EQ(eval("first + ' ' + last", row), Str("Ada Lovelace"));
  EXPECT_EQ(eval("first + n", row), kNull);
  EXPECT_EQ(eval("first + 1", row), kNull);
}

// ----------------------------------------------------------------------------------------------
// Precedence

TEST(ExpressionPrecedence, ArithmeticBindsAsUsual) {
  EXPECT_EQ(eval("1 + 2 * 3"), Int(7));
  EXPECT_EQ(eval("(1 + 2) * 3"), Int(9));
  EXPECT_EQ(eval("10 - 4 - 3"), Int(3));  // left-associative
  EXPECT_EQ(eval("10 - (4 - 3)"), Int(9));
  EXPECT_EQ(eval("2 * 3 % 4"), Int(2));   // (2 * 3) % 4
  EXPECT_EQ(eval("2 * (3 % 4)"), Int(6));
  EXPECT_EQ(eval("20 % 7 * 2"), Int(12));  // (20 % 7) * 2
  EXPECT_EQ(eval("-2 * -3"), Int(6));
  EXPECT_EQ(eval("-(2 + 3)"), Int(-5));
  EXPECT_EQ(eval("8 / 2 / 2"), Dbl(2.0));
  EXPECT_EQ(eval("1 - -1"), Int(2));
}

TEST(ExpressionPrecedence, ComparisonBelowArithmetic) {
  EXPECT_EQ(eval("1 + 1 = 2"), Bool(true));
  EXPECT_EQ(eval("2 * 3 > 5 + 0"), Bool(true));
  EXPECT_EQ(eval("x + 1 in (3, 4)", {{"x", Int(2)}}), Bool(true));
  EXPECT_EQ(eval("x * 2 is null", {{"x", kNull}}), Bool(true));
}

TEST(ExpressionPrecedence, LogicOperators) {
  // not > and > or.
  EXPECT_EQ(eval("not true or true"), Bool(true));    // (not true) or true
  EXPECT_EQ(eval("not (true or true)"), Bool(false));
  EXPECT_EQ(eval("true or true and false"), Bool(true));  // true or (true and false)
  EXPECT_EQ(eval("(true or true) and false"), Bool(false));
  EXPECT_EQ(eval("false and false or true"), Bool(true));
  EXPECT_EQ(eval("not x = 1", {{"x", Int(1)}}), Bool(false));  // not (x = 1)
  EXPECT_EQ(eval("!x > 5 && x < 10", {{"x", Int(3)}}), Bool(true));
  EXPECT_EQ(eval("x > 1 and x < 5 or x = 10", {{"x", Int(10)}}), Bool(true));
  EXPECT_EQ(eval("x > 1 and (x < 5 or x = 10)", {{"x", Int(0)}}), Bool(false));
}

// ----------------------------------------------------------------------------------------------
// Functions

TEST(ExpressionFunctions, CaseAndLength) {
  const std::vector<Field> row = {{"s", Str("MiXeD 12")}, {"n", kNull}, {"i", Int(5)}};
  EXPECT_EQ(eval("lower(s)", row), Str("mixed 12"));
  EXPECT_EQ(eval("upper(s)", row), Str("MIXED 12"));
  EXPECT_EQ(eval("LOWER(s) = 'mixed 12'", row), Bool(true));
  EXPECT_EQ(eval("length(s)", row), Int(8));
  EXPECT_EQ(eval("length('')"), Int(0));
  EXPECT_EQ(eval("length('héllo')"), Int(5));  // characters, not bytes
  EXPECT_EQ(eval("lower(n)", row), kNull);
  EXPECT_EQ(eval("upper(i)", row), kNull);
  EXPECT_EQ(eval("length(n)", row), kNull);
  EXPECT_EQ(eval("length(i)", row), kNull);
}

TEST(ExpressionFunctions, Abs) {
  EXPECT_EQ(eval("abs(-5)"), Int(5));
  EXPECT_EQ(eval("abs(5)"), Int(5));
  EXPECT_EQ(eval("abs(-2.5)"), Dbl(2.5));
  EXPECT_EQ(eval("abs(x)", {{"x", Int(kMin)}}), kNull);
  EXPECT_EQ(eval("abs(null)"), kNull);
  EXPECT_EQ(eval("abs('3')"), kNull);
}

TEST(ExpressionFunctions, Coalesce) {
  const std::vector<Field> row = {{"n", kNull}, {"m", kNull}, {"x", Int(3)}};
  EXPECT_EQ(eval("coalesce(n, m, x, 9)", row), Int(3));
  EXPECT_EQ(eval("coalesce(n, 'fallback')", row), Str("fallback"));
  EXPECT_EQ(eval("coalesce(x)", row), Int(3));
  EXPECT_EQ(eval("coalesce(n, m)", row), kNull);
  EXPECT_EQ(eval("coalesce(n > 1, false)", row), Bool(false));
}

TEST(ExpressionFunctions, Concat) {
  const std::vector<Field> row = {{"s", Str("id-")}, {"i", Int(42)}, {"n", kNull}, {"b", Bool(true)}};
  EXPECT_EQ(eval("concat(s, i)", row), Str("id-42"));
  EXPECT_EQ(eval("concat(s, n, i, '/', b, '/', 2.5)", row), Str("id-42/true/2.5"));
  EXPECT_EQ(eval("concat(n)", row), Str(""));
  EXPECT_EQ(eval("concat(n, n, s)", row), Str("id-"));
}

TEST(ExpressionFunctions, Conversions) {
  EXPECT_EQ(eval("to_int('42')"), Int(42));
  EXPECT_EQ(eval("to_int('-7')"), Int(-7));
  EXPECT_EQ(eval("to_int('3.9')"), Int(3));
  EXPECT_EQ(eval("to_int(3.9)"), Int(3));
  EXPECT_EQ(eval("to_int(-3.9)"), Int(-3));
  EXPECT_EQ(eval("to_int(7)"), Int(7));
  EXPECT_EQ(eval("to_int(true)"), Int(1));
  EXPECT_EQ(eval("to_int('abc')"), kNull);
  EXPECT_EQ(eval("to_int(1e30)"), kNull);
  EXPECT_EQ(eval("to_int(null)"), kNull);
  EXPECT_EQ(eval("to_double('2.5')"), Dbl(2.5));
  EXPECT_EQ(eval("to_double(2)"), Dbl(2.0));
  EXPECT_EQ(eval("to_double(false)"), Dbl(0.0));
  EXPECT_EQ(eval("to_double('x')"), kNull);
  EXPECT_EQ(eval("to_double(null)"), kNull);
  EXPECT_EQ(eval("to_string(42)"), Str("42"));
  EXPECT_EQ(eval("to_string(2.5)"), Str("2.5"));
  EXPECT_EQ(eval("to_string(false)"), Str("false"));
  EXPECT_EQ(eval("to_string('same')"), Str("same"));
  EXPECT_EQ(eval("to_string(null)"), kNull);
  EXPECT_EQ(eval("to_int(s) + 1", {{"s", Str("41")}}), Int(42));
}

TEST(ExpressionFunctions, NamesAreCaseInsensitiveAndNest) {
  EXPECT_EQ(eval("Upper(Concat('a', Lower('B')))"), Str("AB"));
  EXPECT_EQ(eval("abs(to_int('-3') * 2) + length(upper('xy'))"), Int(8));
}

// ----------------------------------------------------------------------------------------------
// Binding and evaluation errors

TEST(ExpressionBind, UnknownFieldIsNamedWithTheAvailableFields) {
  const auto expression = Expression::parse("price > 10 and qty < 3");
  try {
    expression.bind(Schema({"price", "quantity", "sku"}));
    FAIL() << "bind should have thrown";
  } catch (const ParseError&) {
    FAIL() << "a bind failure is not a parse error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(std::string(error.what()),
              "expression 'price > 10 and qty < 3' references unknown field 'qty'; "
              "available fields: price, quantity, sku");
  }
}

TEST(ExpressionBind, UnknownFieldAgainstEmptySchema) {
  try {
    Expression::parse("`a b` = 1").bind(Schema(std::vector<std::string>{}));
    FAIL() << "bind should have thrown";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("unknown field 'a b'; available fields: (none)"), std::string::npos)
        << error.what();
  }
}

TEST(ExpressionBind, FieldNamesAreCaseSensitive) {
  EXPECT_THROW(Expression::parse("Price > 1").bind(Schema({"price"})), Error);
}

TEST(ExpressionBind, RowNarrowerThanTheSchemaIsRejected) {
  const auto bound = Expression::parse("b > 1").bind(Schema({"a", "b"}));
  const std::vector<Value> short_row = {Int(1)};
  EXPECT_THROW(bound.eval(short_row), Error);
  EXPECT_THROW(bound.test(short_row), Error);
}

// ----------------------------------------------------------------------------------------------
// Parse errors

struct ParseErrorCase {
  std::string text;
  size_t column;
  std::string message;  // what() without the "column N: " prefix
};

class ExpressionParseErrors : public ::testing::TestWithParam<ParseErrorCase> {};

TEST_P(ExpressionParseErrors, NameTheColumnAndWhatWasExpected) {
  const auto& expected = GetParam();
  try {
    Expression::parse(expected.text);
    FAIL() << "parsing should have failed";
  } catch (const ParseError& error) {
    EXPECT_EQ(error.column(), expected.column);
    EXPECT_EQ(std::string(error.what()), "column " + std::to_string(expected.column) + ": " + expected.message);
    EXPECT_EQ(error.code(), ErrorCode::InvalidArgument);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ExpressionParseErrors,
    ::testing::Values(
        ParseErrorCase{"", 1, "expression is empty"},
        ParseErrorCase{"   ", 1, "expression is empty"},
        ParseErrorCase{"price >= ", 10, "expected a value after '>='"},
        ParseErrorCase{"a = )", 5, "expected a value after '=', found ')'"},
        ParseErrorCase{"a + * b", 5, "expected a value after '+', found '*'"},
        ParseErrorCase{") = 1", 1, "expected a value, found ')'"},
        ParseErrorCase{"lowr(name)", 1, "unknown function 'lowr'"},
        ParseErrorCase{"x = 'abc", 5, "unterminated string"},
        ParseErrorCase{"x = \"ab\\", 5, "unterminated string"},
        ParseErrorCase{"a = \"x\\qy\"", 7, "unknown escape '\\q' in string"},
        ParseErrorCase{"`unterminated", 1, "unterminated field name"},
        ParseErrorCase{"`` = 1", 1, "empty field name"},
        ParseErrorCase{"(a + b", 7, "expected ')' to close the '(' at column 1"},
        ParseErrorCase{"(a + b c", 8, "expected ')' to close the '(' at column 1, found 'c'"},
        ParseErrorCase{"a + b)", 6, "unmatched ')'"},
        ParseErrorCase{"a b", 3, "expected an operator or the end of the expression, found 'b'"},
        ParseErrorCase{"a < b < c", 7,
                       "comparisons do not chain: '<' follows another comparison; "
                       "combine them with 'and' or use parentheses"},
        ParseErrorCase{"12abc > 1", 1, "invalid number '12abc'"},
        ParseErrorCase{"x > 1.", 5, "invalid number '1.'"},
        ParseErrorCase{"1.2.3", 1, "invalid number '1.2.3'"},
        ParseErrorCase{"99999999999999999999", 1, "integer '99999999999999999999' is out of range"},
        ParseErrorCase{"x < 1e999", 5, "number '1e999' is out of range"},
        ParseErrorCase{"x in 1, 2", 6, "expected '(' after 'in', found '1'"},
        ParseErrorCase{"x in (1, 2", 11, "expected ',' or ')' in the 'in' list opened at column 6"},
        ParseErrorCase{"x in ()", 7, "expected a value after '(', found ')'"},
        ParseErrorCase{"x not like 'a'", 7, "expected 'in' after 'not', found 'like'"},
        ParseErrorCase{"x ! in (1)", 3, "expected an operator or the end of the expression, found '!'"},
        ParseErrorCase{"x is 5", 6, "expected 'null' after 'is', found '5'"},
        ParseErrorCase{"x is not", 9, "expected 'null' after 'is not', found the end of the expression"},
        ParseErrorCase{"lower(a, b)", 1, "function 'lower' takes 1 argument, got 2"},
        ParseErrorCase{"coalesce()", 1, "function 'coalesce' takes at least 1 argument, got 0"},
        ParseErrorCase{"upper(a", 8, "expected ',' or ')' in the arguments of 'upper' opened at column 6"},
        ParseErrorCase{"a # b", 3, "unexpected character '#'"},
        ParseErrorCase{"a & b", 3, "unexpected character '&'"},
        ParseErrorCase{"a = \x01", 5, "unexpected control character 0x01"},
        // Columns count characters: 'é' takes two bytes but one column.
        ParseErrorCase{"'héllo' = @", 11, "unexpected character '@'"},
        ParseErrorCase{"x = é", 5, "unexpected character 'é'"}));

TEST(ExpressionParseErrorsDepth, DeepNestingIsRejectedNotOverflowed) {
  const std::string parens = std::string(300, '(') + "1" + std::string(300, ')');
  try {
    Expression::parse(parens);
    FAIL() << "parsing should have failed";
  } catch (const ParseError& error) {
    EXPECT_EQ(error.column(), 258u);  // the first token inside the 257th level
    EXPECT_NE(std::string(error.what()).find("nests too deeply"), std::string::npos) << error.what();
  }
  EXPECT_THROW(Expression::parse(std::string(100000, '-') + "x"), ParseError);
  EXPECT_THROW(Expression::parse(std::string(100000, '!') + "x"), ParseError);
  std::string sum = "x";
  for (int i = 0; i < 1000; ++i) sum += " + x";
  EXPECT_THROW(Expression::parse(sum), ParseError);

  // Within the limit, both forms work.
  EXPECT_EQ(eval(std::string(200, '(') + "1" + std::string(200, ')')), Int(1));
  EXPECT_EQ(eval(std::string(200, '-') + "x", {{"x", Int(3)}}), Int(3));
}

TEST(ExpressionParseErrorsDepth, LongAndOrChainsAreNotNested) {
  std::string chain = "x = 0";
  for (int i = 1; i < 2000; ++i) chain += " or x = " + std::to_string(i);
  EXPECT_TRUE(test(chain, {{"x", Int(1999)}}));
  EXPECT_FALSE(test(chain, {{"x", Int(2000)}}));
}

// ----------------------------------------------------------------------------------------------
// Runtime properties

TEST(ExpressionRuntime, NumericStringAndLogicWorkDoesNotAllocate) {
  const Schema schema({"price", "qty", "name", "flag", "missing", "ratio"});
  const std::vector<Value> row = {Int(120),  Int(3), Str("a rather long product name that is not inline"),
                                  Bool(true), kNull,  Dbl(0.25)};
  const std::vector<std::string> predicates = {
      "price * qty > 300 and not flag = false or missing is null",
      "(price + 5) % 7 = 6 && ratio * 4 >= 1.0",
      "name contains 'product' and name startswith 'a rather' and name endswith 'inline'",
      "name = 'a rather long product name that is not inline' or name < 'b'",
      "qty in (1, 2, 3) and price not in (1, 2) and missing is null",
      "abs(-price) = 120 and coalesce(missing, qty) = 3 and length(name) > 10",
      "to_int(ratio * 10) = 2 and to_double(qty) / 2 = 1.5",
  };
  for (const auto& text : predicates) {
    SCOPED_TRACE(text);
    const auto bound = Expression::parse(text).bind(schema);
    const size_t before = g_allocations.load();
    bool result = true;
    for (int i = 0; i < 100; ++i) result = result && bound.test(row);
    const Value value = bound.eval(row);
    EXPECT_EQ(g_allocations.load(), before);
    EXPECT_TRUE(result);
    EXPECT_EQ(value, Bool(true));
  }
  // Control: building a string does allocate, so the counter above is live.
  const auto lowered = Expression::parse("lower(name)").bind(schema);
  const size_t before = g_allocations.load();
  EXPECT_EQ(lowered.eval(row), Str("a rather long product name that is not inline"));
  EXPECT_GT(g_allocations.load(), before);
}

TEST(ExpressionRuntime, ConstantSubexpressionsFoldWithTheSameResults) {
  EXPECT_EQ(eval("1 / 0"), kNull);
  EXPECT_EQ(eval("'a' + 'b' + 'c'"), Str("abc"));
  EXPECT_EQ(eval("x + (2 * 3 - 1)", {{"x", Int(1)}}), Int(6));
  EXPECT_EQ(eval("x in (1 + 1, 3)", {{"x", Int(2)}}), Bool(true));
  EXPECT_EQ(eval("concat(upper('a'), 1 + 1)"), Str("A2"));
  EXPECT_EQ(eval("-9223372036854775807 - 1"), Int(kMin));
}

TEST(ExpressionRuntime, ConcurrentEvaluationOfOneBoundExpression) {
  const auto bound = Expression::parse("x * 2 + 1 > limit and lower(name) contains 'a'")
                         .bind(Schema({"x", "limit", "name"}));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t x = 0; x < 2000; ++x) {
        const std::vector<Value> row = {Int(x), Int(1000 + t), Str(x % 2 ? "BANANA" : "cherry")};
        const bool expected = x * 2 + 1 > 1000 + t && x % 2 == 1;
        if (bound.test(row) != expected) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ----------------------------------------------------------------------------------------------
// Randomized arithmetic against direct C++ computation

// A random int expression printed two ways, with its value computed directly (nullopt = null).
struct Generated {
  std::string minimal;        // only the parentheses precedence requires
  std::string parenthesized;  // every operation parenthesized
  std::optional<int64_t> value;
  int precedence;  // 1 for + -, 2 for * %, 3 for unary minus, 4 for a field or literal
};

class ArithmeticGenerator {
 public:
  ArithmeticGenerator(std::mt19937_64& random, const std::vector<int64_t>& row) : random_(random), row_(row) {}

  Generated generate(int depth) {
    const int choice = pick(0, depth == 0 ? 1 : 7);
    if (choice == 0) {
      const size_t field = static_cast<size_t>(pick(0, static_cast<int>(row_.size()) - 1));
      const std::string name = "f" + std::to_string(field);
      return {name, name, row_[field], 4};
    }
    if (choice == 1) {
      const std::string literal = std::to_string(pick(0, 100));
      return {literal, literal, std::stoll(literal), 4};
    }
    if (choice == 2) {
      const Generated operand = generate(depth - 1);
      std::optional<int64_t> value;
      int64_t negated = 0;
      if (operand.value && !__builtin_sub_overflow(int64_t{0}, *operand.value, &negated)) value = negated;
      // A space keeps "- -x" from reading as one token in a reader's eye; the lexer does not care.
      return {"- " + wrap(operand.minimal, operand.precedence < 3), "(-" + operand.parenthesized + ")", value, 3};
    }
    static constexpr char kOperators[] = {'+', '-', '*', '%', '+', '*'};
    const char op = kOperators[pick(0, 5)];
    const int precedence = op == '+' || op == '-' ? 1 : 2;
    const Generated left = generate(depth - 1);
    const Generated right = generate(depth - 1);
    const std::string symbol = std::string(" ") + op + " ";
    return {wrap(left.minimal, left.precedence < precedence) + symbol +
                wrap(right.minimal, right.precedence <= precedence),  // operators associate left
            "(" + left.parenthesized + symbol + right.parenthesized + ")", apply(op, left.value, right.value),
            precedence};
  }

 private:
  static std::string wrap(const std::string& text, bool needed) { return needed ? "(" + text + ")" : text; }

  static std::optional<int64_t> apply(char op, std::optional<int64_t> left, std::optional<int64_t> right) {
    if (!left || !right) return std::nullopt;
    int64_t result = 0;
    switch (op) {
      case '+':
        if (__builtin_add_overflow(*left, *right, &result)) return std::nullopt;
        return result;
      case '-':
        if (__builtin_sub_overflow(*left, *right, &result)) return std::nullopt;
        return result;
      case '*':
        if (__builtin_mul_overflow(*left, *right, &result)) return std::nullopt;
        return result;
      default:
        if (*right == 0) return std::nullopt;
        if (*right == -1) return 0;
        return *left % *right;
    }
  }

  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }

  std::mt19937_64& random_;
  const std::vector<int64_t>& row_;
};

TEST(ExpressionRandomized, IntArithmeticMatchesDirectComputation) {
  std::mt19937_64 random(20240611);
  const Schema schema({"f0", "f1", "f2", "f3"});
  const auto random_int = [&]() -> int64_t {
    switch (std::uniform_int_distribution<int>(0, 9)(random)) {
      case 0: return kMax - std::uniform_int_distribution<int64_t>(0, 3)(random);
      case 1: return kMin + std::uniform_int_distribution<int64_t>(0, 3)(random);
      case 2: return std::uniform_int_distribution<int64_t>(-1, 1)(random);
      case 3: return std::uniform_int_distribution<int64_t>(-4000000000, 4000000000)(random);
      default: return std::uniform_int_distribution<int64_t>(-50, 50)(random);
    }
  };
  int nulls = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    const std::vector<int64_t> ints = {random_int(), random_int(), random_int(), random_int()};
    const std::vector<Value> row(ints.begin(), ints.end());
    ArithmeticGenerator generator(random, ints);
    const Generated generated = generator.generate(std::uniform_int_distribution<int>(1, 5)(random));
    const Value expected = generated.value ? Int(*generated.value) : kNull;
    nulls += generated.value ? 0 : 1;
    SCOPED_TRACE("f0..f3 = " + std::to_string(ints[0]) + ", " + std::to_string(ints[1]) + ", " +
                 std::to_string(ints[2]) + ", " + std::to_string(ints[3]));
    EXPECT_EQ(Expression::parse(generated.minimal).bind(schema).eval(row), expected) << generated.minimal;
    EXPECT_EQ(Expression::parse(generated.parenthesized).bind(schema).eval(row), expected)
        << generated.parenthesized;
  }
  // The generator must exercise both outcomes for the comparison to mean anything.
  EXPECT_GT(nulls, 100);
  EXPECT_LT(nulls, 2900);
}

TEST(ExpressionRandomized, DivisionAndComparisonsMatchDirectComputation) {
  std::mt19937_64 random(7);
  const auto bound_divide = Expression::parse("a / b").bind(Schema({"a", "b"}));
  const auto bound_compare = Expression::parse("concat(a < b, a <= b, a = b, a != b, a > b, a >= b)")
                                 .bind(Schema({"a", "b"}));
  std::uniform_int_distribution<int64_t> distribution(-1000, 1000);
  for (int iteration = 0; iteration < 2000; ++iteration) {
    const int64_t a = distribution(random), b = distribution(random);
    const std::vector<Value> row = {Int(a), Int(b)};
    SCOPED_TRACE(std::to_string(a) + " vs " + std::to_string(b));
    EXPECT_EQ(bound_divide.eval(row), b == 0 ? kNull : Dbl(static_cast<double>(a) / static_cast<double>(b)));
    std::string expected;
    for (const bool outcome : {a < b, a <= b, a == b, a != b, a > b, a >= b}) expected += outcome ? "true" : "false";
    EXPECT_EQ(bound_compare.eval(row), Str(expected));
  }
}

}  // namespace
}  // namespace sluice::expr
