#include "core/byte_scan.h"

#include <algorithm>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace sluice {
namespace {

// Texts of every length around the 16-byte steps, and long enough to pass the 255-step tally flush.
std::string random_text(std::mt19937& rng, size_t size) {
  static constexpr char kAlphabet[] = "ab,\n\"x";
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string text(size, ' ');
  for (char& c : text) c = kAlphabet[pick(rng)];
  return text;
}

TEST(ByteScan, CountNewlinesMatchesACountOfEveryByte) {
  std::mt19937 rng(7);
  for (size_t size : {0, 1, 15, 16, 17, 31, 33, 4079, 4080, 4081, 4096, 10000, 70000}) {
    const std::string text = random_text(rng, size);
    EXPECT_EQ(count_newlines(text), static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'))) << size;
  }
  EXPECT_EQ(count_newlines(std::string(70000, '\n')), 70000u);  // every tally at its limit
}

TEST(ByteScan, FindFirstOf3MatchesTheFirstHitFromEveryStart) {
  std::mt19937 rng(11);
  const std::string text = random_text(rng, 300) + std::string(40, 'z');
  for (size_t from = 0; from <= text.size(); ++from) {
    const size_t hit = text.find_first_of(",\n\"", from);
    EXPECT_EQ(find_first_of3(text, from, ',', '\n', '"'), hit == std::string::npos ? text.size() : hit) << from;
  }
}

}  // namespace
}  // namespace sluice
