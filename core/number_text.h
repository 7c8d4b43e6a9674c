#pragma once
// Strict conversions of text to numbers, the parsers' hot path. The common shapes (plain digits,
// plain decimals) are read here, inline; anything else goes to from_chars in value.cpp.
//
// Inline on purpose: GCC 12 returns a std::optional from an out-of-line function by storing its
// flag byte to the stack and reloading it as part of an 8-byte word, a store-forwarding stall of
// about 15 cycles per call. In the CSV parser that stall was 14% of the benchmark's time; inlined,
// the optional stays in registers.
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace sluice {

namespace number_text_detail {
// The value of 8 ASCII digits, the first at the lowest address, read as one little-endian word;
// nullopt unless all 8 are digits. Each byte is a digit when its high nibble is 3 before and after
// adding 6 (a byte whose +6 carries into the next has a high nibble of F, which fails the first
// test). The digits are then combined in pairs, fours and eights by three multiplies.
inline std::optional<uint32_t> eight_digits(uint64_t word) {
  constexpr uint64_t kHighNibbles = 0xF0F0F0F0F0F0F0F0;
  if (((word & kHighNibbles) | (((word + 0x0606060606060606) & kHighNibbles) >> 4)) != 0x3333333333333333) {
    return std::nullopt;
  }
  word = ((word & 0x0F0F0F0F0F0F0F0F) * (1 + (10 << 8))) >> 8;
  word = ((word & 0x00FF00FF00FF00FF) * (1 + (100 << 16))) >> 16;
  return static_cast<uint32_t>(((word & 0x0000FFFF0000FFFF) * (1 + (10000ULL << 32))) >> 32);
}

inline uint64_t load_word(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

// The value of 8..16 digits, all within `digits`; nullopt unless all are digits. The first 8 are
// one word; the rest are the last 8 bytes with those already read set to '0'.
inline std::optional<uint64_t> eight_to_sixteen_digits(std::string_view digits) {
  const auto high = eight_digits(load_word(digits.data()));
  if (!high) return std::nullopt;
  const size_t rest = digits.size() - 8;
  if (rest == 0) return *high;
  const uint64_t read_already = rest == 8 ? 0 : ~uint64_t{0} >> (8 * rest);  // the low bytes of the last word
  const uint64_t tail =
      (load_word(digits.data() + digits.size() - 8) & ~read_already) | (0x3030303030303030 & read_already);
  const auto low = eight_digits(tail);
  if (!low) return std::nullopt;
  static constexpr uint64_t kPowersOfTen[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
  return *high * kPowersOfTen[rest] + *low;
}
// The bytes of `s` (1 to 8 of them) as eight_digits wants them: the word of the 8 bytes that end
// where `s` ends, those before `s` (which the caller must allow to be read) set to '0'.
inline uint64_t word_ending_with(std::string_view s) {
  const uint64_t before = s.size() == 8 ? 0 : ~uint64_t{0} >> (8 * s.size());  // the low bytes
  return (load_word(s.data() + s.size() - 8) & ~before) | (0x3030303030303030 & before);
}
// from_chars over the whole of `s` (an optional leading '+' allowed); nullopt unless all of it is
// the number.
std::optional<int64_t> int_from_chars(std::string_view s);
std::optional<double> double_from_chars(std::string_view s);
}  // namespace number_text_detail

// An optional sign and decimal digits, the whole text; nullopt for anything else or an overflow.
// `readable_before`: how many bytes before `s` may be read too (a field in the middle of its
// block); with 8 - s.size() of them, a text of up to 8 bytes is read as one word.
inline std::optional<int64_t> parse_int(std::string_view s, size_t readable_before = 0) {
  if constexpr (std::endian::native == std::endian::little) {
    if (s.size() - 1 < 8 && readable_before + s.size() >= 8) {
      if (const auto value = number_text_detail::eight_digits(number_text_detail::word_ending_with(s))) return *value;
    }
  }
  // An optional '-' and at most 18 digits cannot overflow; anything else takes from_chars.
  const bool negative = !s.empty() && s.front() == '-';
  const std::string_view digits = s.substr(negative ? 1 : 0);
  if constexpr (std::endian::native == std::endian::little) {
    if (digits.size() >= 8 && digits.size() <= 16) {
      if (const auto value = number_text_detail::eight_to_sixteen_digits(digits)) {
        return negative ? -static_cast<int64_t>(*value) : static_cast<int64_t>(*value);
      }
      return number_text_detail::int_from_chars(s);  // not plain digits: '+', or not a number
    }
  }
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
  return number_text_detail::int_from_chars(s);
}

// A decimal number, the whole text ("1.5", "-2", "1e3", "inf" as from_chars reads them).
// `readable_before` as for parse_int.
inline std::optional<double> parse_double(std::string_view s, size_t readable_before = 0) {
  // A plain decimal ("-12.345": an optional '-', digits, an optional '.' followed by digits) of at
  // most 15 digits is m / 10^k with m and 10^k exact doubles, so one division rounds it correctly
  // (Clinger's fast path), as from_chars would.
  static constexpr double kPowersOfTen[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                            1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  if constexpr (std::endian::native == std::endian::little) {
    // Up to 8 bytes of digits with at most one point between two of them, read as one word: the
    // point (its byte found as the lowest zero byte of word ^ "........") is taken out by moving
    // the bytes below it up one, and the digits are read as one number.
    if (s.size() - 1 < 8 && readable_before + s.size() >= 8) {
      const uint64_t word = number_text_detail::word_ending_with(s);
      const uint64_t x = word ^ 0x2E2E2E2E2E2E2E2E;
      const uint64_t points = (x - 0x0101010101010101) & ~x & 0x8080808080808080;
      if (points == 0) {
        if (const auto value = number_text_detail::eight_digits(word)) return static_cast<double>(*value);
      } else {
        const unsigned point = static_cast<unsigned>(std::countr_zero(points)) / 8;
        if (point > 8 - s.size() && point < 7) {  // a digit on either side
          const uint64_t up_to_point = (uint64_t{1} << (8 * (point + 1))) - 1;
          const uint64_t digits = (((word << 8) | 0x30) & up_to_point) | (word & ~up_to_point);
          if (const auto value = number_text_detail::eight_digits(digits)) {
            return static_cast<double>(*value) / kPowersOfTen[7 - point];
          }
        }
      }
    }
  }
  const bool negative = !s.empty() && s.front() == '-';
  const std::string_view body = s.substr(negative ? 1 : 0);
  if (body.size() <= 16) {
    // One pass finds the point and reads the digits (a search for the point first was a memchr
    // call per number).
    uint64_t mantissa = 0;
    size_t point = std::string_view::npos;
    bool plain = true;
    for (size_t i = 0; i < body.size(); ++i) {
      const unsigned digit = static_cast<unsigned char>(body[i]) - unsigned{'0'};
      if (digit <= 9) {
        mantissa = mantissa * 10 + digit;
      } else if (body[i] == '.' && point == std::string_view::npos) {
        point = i;
      } else {
        plain = false;
        break;
      }
    }
    const size_t digits = body.size() - (point == std::string_view::npos ? 0 : 1);
    if (plain && point != 0 && point + 1 != body.size() && digits != 0 && digits <= 15) {
      const size_t fraction_digits = point == std::string_view::npos ? 0 : body.size() - point - 1;
      const double value = static_cast<double>(mantissa) / kPowersOfTen[fraction_digits];
      return negative ? -value : value;
    }
  }
  return number_text_detail::double_from_chars(s);
}

}  // namespace sluice
