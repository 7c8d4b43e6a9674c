#include "core/byte_masks.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/chunk_classifiers.h"

namespace sluice {
namespace {

using testing::runnable_classifiers;

TEST(ByteMasks, EveryClassifierMarksEachByteAsABytewiseReadingDoes) {
  std::mt19937 random(31);
  const std::string alphabet = "a,;\"\n\r\x80\xff";  // high bytes: signed compares must not matter
  for (int round = 0; round < 200; ++round) {
    const size_t chunks = 1 + random() % 8;
    std::string text(64 * chunks, ' ');
    for (char& c : text) c = alphabet[random() % alphabet.size()];
    const char delimiter = round % 2 ? ',' : ';';
    std::vector<ChunkMasks> expected(chunks);
    for (size_t c = 0; c < chunks; ++c) {
      bool odd = false;
      for (size_t i = 0; i < 64; ++i) {
        const char byte = text[64 * c + i];
        odd ^= byte == '"';
        expected[c].quotes |= uint64_t{byte == '"'} << i;
        expected[c].newlines |= uint64_t{byte == '\n'} << i;
        expected[c].delimiters |= uint64_t{byte == delimiter} << i;
        expected[c].quote_parity |= uint64_t{odd} << i;
      }
    }
    for (const auto& [name, classify] : runnable_classifiers()) {
      std::vector<ChunkMasks> masks(chunks);
      classify(text.data(), chunks, delimiter, masks.data());
      for (size_t c = 0; c < chunks; ++c) {
        SCOPED_TRACE(::testing::Message() << name << " round " << round << " chunk " << c);
        EXPECT_EQ(masks[c].quotes, expected[c].quotes);
        EXPECT_EQ(masks[c].newlines, expected[c].newlines);
        EXPECT_EQ(masks[c].delimiters, expected[c].delimiters);
        EXPECT_EQ(masks[c].quote_parity, expected[c].quote_parity);
      }
    }
  }
}

TEST(ByteMasks, TheFramerTakesTheWidestClassifierThisCpuRuns) {
  EXPECT_EQ(best_chunk_classifier(), runnable_classifiers().back().second);
}

}  // namespace
}  // namespace sluice
