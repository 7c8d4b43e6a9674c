#include "pipeline/stages/csv_reader.h"

#include <random>

#include <gtest/gtest.h>

namespace sluice::pipeline::csv_detail {
namespace {

// Reads `text` record by record with next() and with next_by_bytes(), as the parser does (blank
// lines skipped first), and requires the same fields, errors, positions and line counts.
void expect_readers_agree(std::string_view text, char delimiter) {
  CsvReader fast(text, delimiter);
  CsvReader by_bytes(text, delimiter);
  std::vector<CsvField> fast_fields;
  std::vector<CsvField> reference_fields;
  while (!by_bytes.at_end()) {
    ASSERT_EQ(fast.skip_blank_line(), by_bytes.skip_blank_line());
    if (by_bytes.at_end()) break;
    const size_t start = by_bytes.position();
    const auto fast_error = fast.next(fast_fields);
    const auto reference_error = by_bytes.next_by_bytes(reference_fields);
    ASSERT_EQ(fast_error, reference_error) << "record at " << start;
    ASSERT_EQ(fast_fields, reference_fields) << "record at " << start;
    ASSERT_EQ(fast.position(), by_bytes.position()) << "record at " << start;
    ASSERT_EQ(fast.newlines(), by_bytes.newlines()) << "record at " << start;
  }
  EXPECT_TRUE(fast.at_end());
}

TEST(CsvReader, TheWindowedReaderAgreesWithTheByteReaderOnRandomText) {
  // Few distinct bytes, so that quotes, doubled quotes, "\r\n", quotes after closing quotes,
  // quoted delimiters and newlines, and fields across the 32-byte windows all come up often; and
  // texts where quotes and record ends are rare, so that a window's first quote or end also lies
  // far into it, and fields span several windows.
  std::mt19937 random(20261205);
  const std::string dense = "ab,,\"\"\"\r\n\n;";
  const std::string sparse = std::string(40, 'a') + std::string(8, ',') + std::string(6, ';') + "\"\n\r";
  for (int i = 0; i < 20000; ++i) {
    const std::string& alphabet = i % 4 == 3 ? sparse : dense;
    std::string text(std::uniform_int_distribution<size_t>(1, i % 4 == 3 ? 400 : 120)(random), ' ');
    for (char& c : text) c = alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(random)];
    SCOPED_TRACE(text);
    expect_readers_agree(text, i % 2 ? ',' : ';');
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(CsvReader, ReadsWellFormedRecordsOfEveryShape) {
  const std::string text =
      "1700000000020,102,US,GET,\"/api/v1/search?q=a,b\",200,41.534,906,curl/7.88.1\n"
      "1,\"Mozilla/5.0 (Macintosh; Intel Mac OS X 13_4), \"\"Safari\"\"\"\r\n"
      "\"a\nb\",\"\",,x\r,\"q\"\r,last";
  CsvReader reader(text, ',');
  std::vector<CsvField> fields;
  ASSERT_EQ(reader.next(fields), std::nullopt);
  ASSERT_EQ(fields.size(), 9u);
  EXPECT_EQ(fields[4], (CsvField{"/api/v1/search?q=a,b", true, false}));
  EXPECT_EQ(fields[8], (CsvField{"curl/7.88.1"}));
  ASSERT_EQ(reader.next(fields), std::nullopt);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[1], (CsvField{"Mozilla/5.0 (Macintosh; Intel Mac OS X 13_4), \"\"Safari\"\"", true, true}));
  ASSERT_EQ(reader.next(fields), std::nullopt);
  EXPECT_EQ(fields, (std::vector<CsvField>{{"a\nb", true}, {"", true}, {""}, {"x\r"}, {"q", true}, {"last"}}));
  EXPECT_TRUE(reader.at_end());
  EXPECT_EQ(reader.newlines(), 3u);
}

TEST(CsvReader, MalformedRecordsAreExplainedAndSkippedToTheirEnd) {
  const std::string text = "a,b\"c,d\n\"open\" x,y\n\"unterminated,z";
  CsvReader reader(text, ',');
  std::vector<CsvField> fields;
  EXPECT_EQ(reader.next(fields), "field 2 has a quote inside an unquoted field");
  EXPECT_EQ(reader.next(fields), "unexpected character ' ' after the closing quote of field 1");
  EXPECT_EQ(fields.size(), 2u);
  EXPECT_EQ(reader.next(fields), "unterminated quoted field");
  EXPECT_TRUE(reader.at_end());
}

}  // namespace
}  // namespace sluice::pipeline::csv_detail
