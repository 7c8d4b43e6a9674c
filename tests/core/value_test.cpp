#include "core/value.h"

#include <bit>
#include <charconv>
#include <limits>
#include <random>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(Value, InferenceTriesIntThenDoubleThenBoolThenString) {
  EXPECT_EQ(infer_value("42"), Value{int64_t{42}});
  EXPECT_EQ(infer_value("-7"), Value{int64_t{-7}});
  EXPECT_EQ(infer_value("2.5"), Value{2.5});
  EXPECT_EQ(infer_value("1e3"), Value{1000.0});
  EXPECT_EQ(infer_value("true"), Value{true});
  EXPECT_EQ(infer_value("12ab"), Value{std::string("12ab")});
  EXPECT_TRUE(is_null(infer_value("")));
}

TEST(Value, StrictConversionRejectsPartialNumbers) {
  EXPECT_FALSE(parse_int("12 "));
  EXPECT_FALSE(parse_int("1.0"));
  EXPECT_FALSE(parse_int("99999999999999999999"));
  EXPECT_EQ(parse_int("+5"), 5);
  EXPECT_FALSE(parse_double("1.2.3"));
  EXPECT_FALSE(convert_text("abc", ValueType::Int));
  EXPECT_EQ(convert_text("3", ValueType::Double), Value{3.0});
}

TEST(Value, IntsAtTheEdgesOfTheDigitFastPath) {
  EXPECT_EQ(parse_int("999999999999999999"), int64_t{999'999'999'999'999'999});  // 18 digits
  EXPECT_EQ(parse_int("-999999999999999999"), int64_t{-999'999'999'999'999'999});
  EXPECT_EQ(parse_int("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parse_int("-9223372036854775808"), INT64_MIN);
  EXPECT_FALSE(parse_int("9223372036854775808"));
  EXPECT_EQ(parse_int("007"), 7);
  EXPECT_FALSE(parse_int("-"));
  EXPECT_FALSE(parse_int("--1"));
  EXPECT_FALSE(parse_int("+-1"));
  EXPECT_FALSE(parse_double("+-1.5"));
  EXPECT_EQ(parse_int("+7"), 7);
  EXPECT_EQ(parse_double("+2.5"), 2.5);
  EXPECT_FALSE(parse_int("12345678901234567x"));
  EXPECT_FALSE(parse_int("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"));
}

// Parses `text` as it lies after other bytes in a buffer, which the parser is told it may read
// (readable_before), as it does in a CSV block: a text of up to 8 bytes is then read as one word
// with some of those bytes in it. Each prefix is read in full, and only as much of it as the word
// needs; neither a prefix of digits, of points, nor of bytes above 0x7f may change the result.
template <typename Parse>
void expect_same_after_any_prefix(const std::string& text, Parse parse) {
  for (const std::string prefix : {"99999999", "........", "\xff\xff\xff\xff\xff\xff\xff\xff", "-0.-0.-0"}) {
    const std::string buffer = prefix + text;
    const std::string_view placed = std::string_view(buffer).substr(prefix.size());
    const size_t needed = text.size() < 8 ? 8 - text.size() : 0;
    for (const size_t readable : {prefix.size(), needed}) {
      const auto got = parse(placed, readable);
      const auto expected = parse(std::string_view(text), 0);
      EXPECT_EQ(got.has_value(), expected.has_value()) << prefix << "|" << text;
      if (got && expected) {
        EXPECT_EQ(std::bit_cast<uint64_t>(*got), std::bit_cast<uint64_t>(*expected)) << prefix << "|" << text;
      }
    }
  }
}
const auto parse_int_after = [](std::string_view s, size_t readable) { return parse_int(s, readable); };
const auto parse_double_after = [](std::string_view s, size_t readable) { return parse_double(s, readable); };

// parse_int's digit fast paths must give what from_chars gives: for every length up to 19 digits,
// every digit in every position, and a non-digit in every position.
TEST(Value, IntsOfEveryLengthAndAnyBadCharacterMatchFromChars) {
  const auto reference = [](const std::string& text) -> std::optional<int64_t> {
    int64_t out = 0;
    const char* first = text.data() + (!text.empty() && text[0] == '+');
    auto [ptr, ec] = std::from_chars(first, text.data() + text.size(), out);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
    return out;
  };
  for (size_t length = 1; length <= 19; ++length) {
    for (char digit = '0'; digit <= '9'; ++digit) {
      for (size_t at = 0; at < length; ++at) {
        std::string text(length, '7');
        text[at] = digit;
        for (const std::string& signed_text : {text, "-" + text, "+" + text}) {
          EXPECT_EQ(parse_int(signed_text), reference(signed_text)) << signed_text;
          expect_same_after_any_prefix(signed_text, parse_int_after);
        }
      }
    }
    for (const char bad : {'/', ':', ' ', '.', 'a', '\x80', '\xfa', '\xff', '\0'}) {
      for (size_t at = 0; at < length; ++at) {
        std::string text(length, '3');
        text[at] = bad;
        EXPECT_FALSE(parse_int(text)) << length << " " << at;
        EXPECT_FALSE(parse_int(std::string("12345678") + text, 8)) << length << " " << at;
        expect_same_after_any_prefix(text, parse_int_after);
      }
    }
  }
  EXPECT_EQ(parse_int("1700000000020"), int64_t{1'700'000'000'020});
  EXPECT_EQ(parse_int("12345678"), 12'345'678);
  EXPECT_EQ(parse_int("-1234567890123456"), int64_t{-1'234'567'890'123'456});
}

// parse_double's plain-decimal fast path must give from_chars's correctly rounded double, bit for
// bit: every digit count up to 17 (past the fast path's 15), every position of the point, signs,
// and malformed decimals next to it.
TEST(Value, DecimalsOfEveryShapeMatchFromChars) {
  const auto reference = [](const std::string& text) -> std::optional<double> {
    double out = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
    return out;
  };
  const auto same = [](std::optional<double> a, std::optional<double> b) {
    return a.has_value() == b.has_value() && (!a || std::bit_cast<uint64_t>(*a) == std::bit_cast<uint64_t>(*b));
  };
  std::mt19937_64 random(11);
  for (size_t digits = 1; digits <= 17; ++digits) {
    for (int sample = 0; sample < 200; ++sample) {
      std::string text;
      for (size_t i = 0; i < digits; ++i) text += static_cast<char>('0' + random() % 10);
      for (size_t point = 0; point <= digits; ++point) {
        std::string decimal = text;
        decimal.insert(point, ".");
        for (const std::string& signed_text : {decimal, "-" + decimal, text, "-" + text}) {
          EXPECT_TRUE(same(parse_double(signed_text), reference(signed_text))) << signed_text;
          expect_same_after_any_prefix(signed_text, parse_double_after);
        }
      }
    }
  }
  for (const std::string text : {"-0.0",  "0.1",     "0.3",    "41.534", "999999999999999.9",
                                 "1.2.3", "1..2",    "--1",    "-.",     ".",
                                 "-",     "1e3",     "1.5e-3", "0x1p3",  "inf",
                                 "nan",   "1 ",      " 1",     "1.-2",   "1./2",
                                 "1/.2",  "1.2/",    "12.",    ".12",    "1.\xae",
                                 "0.0",   "00.00000"}) {
    EXPECT_TRUE(same(parse_double(text), reference(text))) << text;
    expect_same_after_any_prefix(text, parse_double_after);
  }
  EXPECT_EQ(parse_double("+2.5"), 2.5);
}

TEST(Value, IntsAndDoublesCompareAndHashNumerically) {
  EXPECT_EQ(compare_values(Value{int64_t{2}}, Value{2.0}), 0);
  EXPECT_EQ(ValueHash{}(Value{int64_t{2}}), ValueHash{}(Value{2.0}));
  // Whatever path hashes them, values that compare equal hash alike: ints about 2^53, where
  // doubles stop holding every int, and at the limits.
  constexpr int64_t k53 = int64_t{1} << 53;
  for (const int64_t i : {k53 - 1, k53, k53 + 1, k53 + 2, -k53 - 1, -k53, std::numeric_limits<int64_t>::max(),
                          std::numeric_limits<int64_t>::min(), int64_t{0}, int64_t{-7}}) {
    for (const Value& other : {Value{static_cast<double>(i)}, Value{i}}) {
      SCOPED_TRACE(fmt::format("{} and {}", i, to_display(other)));
      EXPECT_EQ(ValueEqual{}(Value{i}, other), compare_values(Value{i}, other) == 0);
      if (ValueEqual{}(Value{i}, other)) {
        EXPECT_EQ(ValueHash{}(Value{i}), ValueHash{}(other));
      }
    }
  }
  EXPECT_TRUE(ValueEqual{}(Value{std::string("DE")}, Value{std::string("DE")}));
  EXPECT_FALSE(ValueEqual{}(Value{std::string("DE")}, Value{std::string("FR")}));
  EXPECT_FALSE(ValueEqual{}(Value{int64_t{1}}, Value{std::string("1")}));
  EXPECT_LT(compare_values(Value{int64_t{2}}, Value{2.5}), 0);
  EXPECT_LT(compare_values(Value{}, Value{false}), 0);
  EXPECT_LT(compare_values(Value{true}, Value{int64_t{0}}), 0);
  EXPECT_LT(compare_values(Value{int64_t{9}}, Value{std::string("0")}), 0);
  EXPECT_GT(compare_values(Value{std::string("b")}, Value{std::string("a")}), 0);
}

TEST(Value, DisplayIsPlain) {
  EXPECT_EQ(to_display(Value{}), "null");
  EXPECT_EQ(to_display(Value{0.5}), "0.5");
  EXPECT_EQ(to_display(Value{int64_t{-3}}), "-3");
  EXPECT_EQ(to_display(Value{std::string("x")}), "x");
}

}  // namespace
}  // namespace sluice
