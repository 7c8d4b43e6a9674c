#include "pipeline/stages/csv_parse.h"

#include <optional>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pipeline/expr/expression.h"
#include "support/pipeline_harness.h"

namespace sluice::pipeline {
namespace {

using sluice::testing::all_rows;
using sluice::testing::columns_of;
using sluice::testing::expect_same_rows_and_rejections;
using sluice::testing::parse_block;
using sluice::testing::parse_keeping;
using sluice::testing::Parsed;
using sluice::testing::parsed_then_filtered;
using sluice::testing::pipeline_from_yaml;
using sluice::testing::run_chunked;
using sluice::testing::start_parser;

// A pass-through pipeline: csv only, so the parsed records are the result.
PipelinePtr csv_pipeline(const std::string& options = "", const std::string& policy = "skip") {
  return pipeline_from_yaml("on_error: " + policy + "\nstages:\n  - type: csv\n" + options);
}

TEST(CsvParse, QuotedFieldsEscapesAndEmbeddedNewlinesForEveryChunkSize) {
  const std::string input =
      "\xEF\xBB\xBFid,text,n\r\n"
      "1,\"a, b\",10\r\n"
      "2,\"say \"\"hi\"\"\",20\n"
      "3,\"two\nlines\",\n"
      "4,plain,40";
  const auto pipeline = csv_pipeline("    types: {id: int, n: int}\n");
  for (size_t chunk : {1, 2, 3, 7, 64, 4096}) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, input, chunk);
    ASSERT_EQ(run.results.size() > 0, true);
    EXPECT_EQ(run.results[0].columns, (std::vector<std::string>{"id", "text", "n"}));
    const auto rows = all_rows(run.results);
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0][1], Value{std::string("a, b")});
    EXPECT_EQ(rows[1][1], Value{std::string("say \"hi\"")});
    EXPECT_EQ(rows[2][1], Value{std::string("two\nlines")});
    EXPECT_TRUE(is_null(rows[2][2]));
    EXPECT_EQ(rows[3][2], Value{int64_t{40}});
    EXPECT_EQ(run.summary.counters.records_in, 4u);
  }
}

TEST(CsvParse, QuotedMultiByteTextWithNewlinesSurvivesEveryChunkSplit) {
  // é is 2 bytes, € 3 and 𝄞 4; every chunk size from 1 to the whole input cuts the input at each
  // possible byte, so inside each character and each quoted newline.
  const std::string input =
      "id,text\r\n"
      "1,\"caf\xC3\xA9\nlatt\xC3\xA9, \"\"\xE2\x82\xAC" "5\"\"\"\r\n"
      "2,\"\xF0\x9D\x84\x9E\r\n\xF0\x9D\x84\x9E\"\n"
      "3,\xE2\x82\xAC\n";
  const std::vector<std::string> expected = {"caf\xC3\xA9\nlatt\xC3\xA9, \"\xE2\x82\xAC" "5\"",
                                             "\xF0\x9D\x84\x9E\r\n\xF0\x9D\x84\x9E", "\xE2\x82\xAC"};
  const auto pipeline = csv_pipeline("    types: {id: int}\n");
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    SCOPED_TRACE(chunk);
    const auto rows = all_rows(run_chunked(pipeline, input, chunk).results);
    ASSERT_EQ(rows.size(), expected.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i][0], Value{static_cast<int64_t>(i + 1)});
      EXPECT_EQ(std::get<std::string>(rows[i][1]), expected[i]);
    }
  }
}

// Records of every shape the reader tells apart (plain fields longer and shorter than its 32-byte
// windows, quoted ones with delimiters, "" and newlines, empty fields, CRLF and LF), written from
// fields the test chose, so the expected rows are known without parsing; with the default
// delimiter and two others.
TEST(CsvParse, RandomRecordsOfEveryShapeGiveBackTheirFieldsForManyChunkSizes) {
  std::mt19937 random(7);
  const auto pick = [&](size_t n) { return static_cast<size_t>(random() % n); };
  for (const char delimiter : {',', '\t', '|'}) {
    SCOPED_TRACE(std::string("delimiter ") + delimiter);
    const std::string plain_chars = "abcxyz0189 ._-/;:";
    const std::string quoted_chars = std::string("ab ,\n\"\r9") + delimiter;
    std::string input = fmt::format("a{0}b{0}c{0}d\n", delimiter);
    std::vector<std::vector<Value>> expected;
    for (int record = 0; record < 400; ++record) {
      std::vector<Value>& row = expected.emplace_back();
      for (int field = 0; field < 4; ++field) {
        if (field > 0) input += delimiter;
        std::string text;
        const size_t length = pick(4) == 0 ? 0 : pick(40);
        if (pick(5) == 0) {
          for (size_t i = 0; i < length; ++i) text += quoted_chars[pick(quoted_chars.size())];
          input += '"';
          for (char c : text) input += c == '"' ? std::string("\"\"") : std::string(1, c);
          input += '"';
          row.emplace_back(text);
        } else {
          for (size_t i = 0; i < length; ++i) text += plain_chars[pick(plain_chars.size())];
          input += text;
          row.push_back(text.empty() ? Value{} : Value{text});
        }
      }
      input += pick(3) == 0 ? "\r\n" : "\n";
    }
    input.pop_back();  // the last record ends the input without its '\n' (a '\r' may be left)
    if (input.back() == '\r') input.pop_back();
    const std::string quoted_delimiter = delimiter == '\t' ? "\"\\t\"" : fmt::format("\"{}\"", delimiter);
    const auto pipeline = csv_pipeline("    delimiter: " + quoted_delimiter + "\n", "fail");
    for (size_t chunk : {1, 2, 15, 16, 17, 33, 64, 1000, 65536}) {
      SCOPED_TRACE(chunk);
      EXPECT_EQ(all_rows(run_chunked(pipeline, input, chunk).results), expected);
    }
  }
}

TEST(CsvParse, WrongFieldCountAndBadTypesAreRejectedWithLineAndField) {
  const std::string input = "a,b\n1,2\n3\nx,4\n5,6\n";
  const auto run = run_chunked(csv_pipeline("    types: {a: int}\n", "dead_letter"), input, 3);
  EXPECT_EQ(all_rows(run.results).size(), 2u);
  const auto& c = run.summary.counters;
  EXPECT_EQ(c.records_in, 4u);
  EXPECT_EQ(c.records_rejected, 2u);
  ASSERT_EQ(run.summary.dead_letters.size(), 2u);
  EXPECT_EQ(run.summary.dead_letters[0].origin.line, 3u);
  EXPECT_EQ(run.summary.dead_letters[0].origin.offset, 8u);
  EXPECT_EQ(run.summary.dead_letters[0].reason, "expected 2 fields, got 1");
  EXPECT_EQ(run.summary.dead_letters[1].field, "a");
  EXPECT_EQ(run.summary.dead_letters[1].record, "x,4");
  EXPECT_EQ(run.summary.dead_letters[1].origin.line, 4u);
}

TEST(CsvParse, FailPolicyFailsTheStreamNamingLineOffsetAndField) {
  const std::string input = "a,b\n1,2\nx,4\n";
  try {
    run_chunked(csv_pipeline("    types: {a: int}\n", "fail"), input, 5);
    FAIL() << "expected the stream to fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    const std::string m = e.what();
    EXPECT_NE(m.find("line 3"), std::string::npos) << m;
    EXPECT_NE(m.find("offset 8"), std::string::npos) << m;
    EXPECT_NE(m.find("field 'a'"), std::string::npos) << m;
  }
}

TEST(CsvParse, DeclaredColumnsWithoutHeaderAndCustomDelimiter) {
  const auto run = run_chunked(csv_pipeline("    header: false\n    columns: [k, v]\n    delimiter: \"\\t\"\n"
                                            "    infer_types: true\n"),
                               "x\t1\ny\t2.5\n", 4);
  const auto rows = all_rows(run.results);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1], Value{int64_t{1}});
  EXPECT_EQ(rows[1][1], Value{2.5});
}

TEST(CsvParse, BlankLinesAreSkippedAndDuplicateHeaderFails) {
  EXPECT_EQ(all_rows(run_chunked(csv_pipeline(), "a\n\n1\n\r\n2\n", 2).results).size(), 2u);
  EXPECT_THROW(run_chunked(csv_pipeline(), "a,a\n1,2\n", 64), Error);
}

TEST(CsvParse, BlankLinesBeforeTheHeaderAreSkippedWhateverTheChunks) {
  // With 1-byte chunks the blank lines are blocks of their own, parsed while the header's block
  // is still being prepared (run under TSan, this covers that race).
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{64}}) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(csv_pipeline("    types: {b: int}\n"), "\n\r\n\na,b\nx,1\ny,2\n", chunk);
    EXPECT_EQ(columns_of(run.results), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(all_rows(run.results), (std::vector<std::vector<Value>>{{Value{std::string("x")}, Value{int64_t{1}}},
                                                                      {Value{std::string("y")}, Value{int64_t{2}}}}));
  }
}

TEST(CsvParse, MalformedQuotingIsRejectedNotGuessed) {
  const auto run = run_chunked(csv_pipeline("", "dead_letter"), "a,b\n\"x\"y,1\nab\"c,2\nok,3\n", 64);
  EXPECT_EQ(all_rows(run.results).size(), 1u);
  EXPECT_EQ(run.summary.counters.records_rejected, 2u);
}

// Found by fuzz_parse: after a closing quote followed by junk the reader skipped to the next
// '\n', ignoring the quoted field that opens after the next delimiter, which the framer honours.
// Records then ended elsewhere than the framer's blocks, and the results changed with the chunking.
TEST(CsvParse, JunkAfterAClosingQuoteEndsTheRecordWhereTheFramerDoes) {
  const std::string input = "a,b,c\n\"x\"y,\"1\nok,2\n\",3\nlast,4,5\n";
  const auto pipeline = csv_pipeline("", "dead_letter");
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, input, chunk);
    EXPECT_EQ(all_rows(run.results), (std::vector<std::vector<Value>>{
                                         {Value{std::string("last")}, Value{std::string("4")}, Value{std::string("5")}}}));
    ASSERT_EQ(run.summary.dead_letters.size(), 1u);
    EXPECT_EQ(run.summary.dead_letters[0].origin.line, 2u);
    EXPECT_EQ(run.summary.dead_letters[0].record, "\"x\"y,\"1\nok,2\n\",3");
  }
}

TEST(CsvParse, AQuotedHeaderFieldAfterAByteOrderMarkParsesForEveryChunkSize) {
  const std::string input = "\xEF\xBB\xBF\"a\nb\",c\n1,2\n3,4\n";
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(csv_pipeline(), input, chunk);
    ASSERT_FALSE(run.results.empty());
    EXPECT_EQ(run.results[0].columns, (std::vector<std::string>{"a\nb", "c"}));
    EXPECT_EQ(all_rows(run.results).size(), 2u);
  }
}

TEST(CsvParse, LineNumbersCountNewlinesInsideQuotedFields) {
  const std::string input = "a,b\n1,\"x\ny\nz\"\n2,\"\"\n\n3,\"w\r\n\"\nbad\n4,ok\n";
  for (size_t chunk : {1, 5, 4096}) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(csv_pipeline("", "dead_letter"), input, chunk);
    ASSERT_EQ(run.summary.dead_letters.size(), 1u);
    EXPECT_EQ(run.summary.dead_letters[0].origin.line, 9u);
    EXPECT_EQ(all_rows(run.results).size(), 4u);
  }
}

RecordBatch parse_reading_only(const PipelinePtr& pipeline, const std::vector<std::string>& read, std::string text) {
  return parse_keeping(pipeline, read, std::nullopt, std::move(text)).batch;
}

// Parser::read_only: the rows hold only the fields read downstream; a typed field nothing reads
// still rejects bad text, and the rejection names it.
TEST(CsvParse, RowsHoldOnlyTheFieldsReadButUnreadTypedFieldsAreStillChecked) {
  const auto pipeline = csv_pipeline("    types: {n: int, m: double}\n", "dead_letter");
  const RecordBatch batch =
      parse_reading_only(pipeline, {"n", "kept"}, "kept,dropped,n,m\nx,y,1,2.5\nx,y,2,oops\nx,y,oops,1\nz,,3,\n");
  EXPECT_EQ(batch.schema->names(), (std::vector<std::string>{"kept", "n"}));
  ASSERT_EQ(batch.rows(), 2u);
  EXPECT_EQ(batch.row(0)[0], Value{std::string("x")});
  EXPECT_EQ(batch.row(0)[1], Value{int64_t{1}});
  EXPECT_EQ(batch.row(1)[0], Value{std::string("z")});
  EXPECT_EQ(batch.row(1)[1], Value{int64_t{3}});
  EXPECT_EQ(batch.origins[1].line, 5u);
  ASSERT_EQ(batch.rejections.size(), 2u);
  EXPECT_EQ(batch.rejections[0].field, "m");
  EXPECT_EQ(batch.rejections[0].origin.line, 3u);
  EXPECT_EQ(batch.rejections[1].field, "n");
  EXPECT_EQ(batch.rejections[1].reason, "expected int, got 'oops'");
}

// Parser::keep_only: only the rows for which the predicate is true are built, and the others are
// counted as read. A record that does not fit its types is rejected whatever the predicate says,
// and the rejection names its first misfit field in input order, though the predicate's field is
// converted first: the same rows and rejections as the parse followed by the filter.
TEST(CsvParse, AGivenPredicateKeepsItsRowsAndTheRejectionsStayTheSame) {
  const auto pipeline = csv_pipeline("    types: {id: int, n: int, m: double}\n", "dead_letter");
  const std::vector<std::string> read = {"kept", "n", "m"};
  const std::string input =
      "id,kept,n,m,unread\n"
      "1,a,1,0.5,x\n"       // the predicate is false: dropped
      "2,b,2,1.5,x\n"       // kept
      "3,c,1,oops,x\n"      // false, but m does not fit: rejected
      "4,d,oops,1,x\n"      // n does not fit
      "bad,e,oops,1,x\n"    // id and n do not fit: id is named
      "6,f,,2,x\n"          // n is null, so is the predicate: dropped
      "7,\"g\"\"\",3,,x\n"  // kept, m null
      "\n"                  // blank: not a record
      "8,h,3\n";            // too few fields
  const Parsed parsed = parse_keeping(pipeline, read, "n >= 2", input);
  const RecordBatch& batch = parsed.batch;
  EXPECT_EQ(parsed.records, 8u);
  EXPECT_EQ(batch.schema->names(), read);
  ASSERT_EQ(batch.rows(), 2u);
  EXPECT_EQ(batch.row(0)[0], Value{std::string("b")});
  EXPECT_EQ(batch.row(0)[2], Value{1.5});
  EXPECT_EQ(batch.row(1)[0], Value{std::string("g\"")});
  EXPECT_EQ(batch.row(1)[1], Value{int64_t{3}});
  EXPECT_TRUE(is_null(batch.row(1)[2]));
  EXPECT_EQ(batch.origins[1].line, 8u);
  ASSERT_EQ(batch.rejections.size(), 4u);
  EXPECT_EQ(batch.rejections[0].field, "m");
  EXPECT_EQ(batch.rejections[1].field, "n");
  EXPECT_EQ(batch.rejections[2].field, "id");
  EXPECT_EQ(batch.rejections[2].reason, "expected int, got 'bad'");
  EXPECT_EQ(batch.rejections[3].reason, "expected 5 fields, got 3");
  EXPECT_EQ(batch.rejections[3].origin.line, 10u);

  // A dropped row's cells are null again before the next record is built in their place.
  const Parsed nulls = parse_keeping(pipeline, read, "n is null", "id,kept,n,m,unread\n1,a,5,1,x\n2,b,,2,x\n");
  ASSERT_EQ(nulls.batch.rows(), 1u);
  EXPECT_EQ(nulls.batch.row(0)[0], Value{std::string("b")});
  EXPECT_TRUE(is_null(nulls.batch.row(0)[1]));

  expect_same_rows_and_rejections(batch, parsed_then_filtered(pipeline, read, "n >= 2", input));
}

// The cells a batch holds room for follow the rows it keeps, not the size of its block: records
// of 200 bytes and more, or a predicate that drops 9 records in 10, leave no room for rows that
// never come (room that the stream's in-flight budget would count). The parser reserves for a
// block by what the block before it kept: a second block like the first is checked too.
TEST(CsvParse, ABatchHoldsRoomForTheRowsItKeepsNotForItsBlocksSize) {
  const auto pipeline = csv_pipeline("    types: {id: int}\n");
  std::string records;
  for (int i = 0; i < 1000; ++i) records += fmt::format("{},{}\n", i, std::string(200 + i % 50, 'x'));
  for (const std::optional<std::string>& predicate :
       {std::optional<std::string>{}, std::optional<std::string>{"id % 10 = 0"}}) {
    SCOPED_TRACE(predicate.value_or("no predicate"));
    const auto parser = start_parser(pipeline, {"id"}, predicate);
    for (const std::string& text : {"id,text\n" + records, records}) {
      const RecordBatch batch = parse_block(*parser, text).batch;
      ASSERT_EQ(batch.rows(), predicate ? 100u : 1000u);
      EXPECT_LE(batch.cells.capacity(), 2 * batch.cells.size());
    }
  }
}

// A quoted field's "" pairs are unescaped only where its text is used: in a header name, a kept
// value, a typed value and a rejection's message; a field nothing reads is passed over as it stands.
TEST(CsvParse, EscapedQuotesAreUnescapedWhereverTheTextIsUsed) {
  const auto pipeline = csv_pipeline("    types: {\"n\\\"o\": int}\n", "dead_letter");
  const RecordBatch batch = parse_reading_only(pipeline, {"k\"ept", "n\"o"},
                                               "\"k\"\"ept\",\"n\"\"o\",skip\n"
                                               "\"a\"\"b\"\"\",\"12\",\"x\"\"y\"\n"
                                               "\"\"\"\",\"1\"\"2\",z\n");
  EXPECT_EQ(batch.schema->names(), (std::vector<std::string>{"k\"ept", "n\"o"}));
  ASSERT_EQ(batch.rows(), 1u);
  EXPECT_EQ(batch.row(0)[0], Value{std::string("a\"b\"")});
  EXPECT_EQ(batch.row(0)[1], Value{int64_t{12}});
  ASSERT_EQ(batch.rejections.size(), 1u);
  EXPECT_EQ(batch.rejections[0].field, "n\"o");
  EXPECT_EQ(batch.rejections[0].reason, "expected int, got '1\"2'");
}

// When a field read downstream is not in the input, every field stays in the rows, so that the
// stage that reads it fails with the whole list of fields to choose from.
TEST(CsvParse, ReadingAFieldTheInputLacksKeepsEveryField) {
  const RecordBatch batch = parse_reading_only(csv_pipeline(), {"a", "stauts"}, "a,b,status\n1,2,3\n");
  EXPECT_EQ(batch.schema->names(), (std::vector<std::string>{"a", "b", "status"}));
  ASSERT_EQ(batch.rows(), 1u);
  EXPECT_EQ(batch.row(0)[2], Value{std::string("3")});
  const auto misspelt = pipeline_from_yaml(
      "stages:\n  - type: csv\n  - type: filter\n    where: stauts == '3'\n"
      "  - type: group_by\n    keys: [a]\n    aggregates: [{fn: count, as: n}]\n");
  try {
    run_chunked(misspelt, "a,b,status\n1,2,3\n", 64);
    ADD_FAILURE() << "a filter on a missing field must fail the stream";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("available fields: a, b, status"), std::string::npos) << e.what();
  }
}

TEST(CsvParse, ConfigErrorsNameTheKey) {
  EXPECT_THROW(csv_pipeline("    header: false\n"), config::ConfigError);          // no columns
  EXPECT_THROW(csv_pipeline("    delimiter: ab\n"), config::ConfigError);
  EXPECT_THROW(csv_pipeline("    types: {a: integerish}\n"), config::ConfigError);
  EXPECT_THROW(csv_pipeline("    quoting: none\n"), config::ConfigError);
}

}  // namespace
}  // namespace sluice::pipeline
