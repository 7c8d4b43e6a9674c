#include "pipeline/stages/jsonl_parse.h"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "support/access_log.h"
#include "support/pipeline_harness.h"

namespace sluice::pipeline {
namespace {

using sluice::testing::all_rows;
using sluice::testing::columns_of;
using sluice::testing::config_error;
using sluice::testing::expect_same_rows_and_rejections;
using sluice::testing::parse_keeping;
using sluice::testing::Parsed;
using sluice::testing::parsed_then_filtered;
using sluice::testing::pipeline_from_yaml;
using sluice::testing::run_chunked;

using Rows = std::vector<std::vector<Value>>;

const Value kNull{};
Value Int(int64_t i) { return Value{i}; }
Value Str(std::string s) { return Value{std::move(s)}; }

// A pass-through pipeline: jsonl only, so the parsed records are the result.
std::string jsonl_yaml(const std::string& options, const std::string& policy = "skip") {
  return "on_error: " + policy + "\nstages:\n  - type: jsonl\n" + options;
}
PipelinePtr jsonl_pipeline(const std::string& options = "", const std::string& policy = "skip") {
  return pipeline_from_yaml(jsonl_yaml(options, policy));
}

const std::vector<size_t> kChunkSizes = {1, 2, 3, 7, 64, 4096};

TEST(JsonlParse, EveryChunkSizeGivesTheSameRecords) {
  const std::string input =
      "\xEF\xBB\xBF{\"ts\":1,\"user\":{\"id\":7,\"name\":\"ann\"},\"path\":\"/a\",\"ok\":true}\r\n"
      "\r\n"
      "  \t\n"
      "{\"ts\":2,\"user\":{\"id\":8},\"path\":null,\"ok\":false,\"extra\":1}\n"
      "{\"path\":\"/c\",\"ts\":3}";
  const Rows expected = {{Int(1), Int(7), Str("ann"), Str("/a"), Value{true}},
                         {Int(2), Int(8), kNull, kNull, Value{false}},
                         {Int(3), kNull, kNull, Str("/c"), kNull}};
  const auto pipeline = jsonl_pipeline();
  std::vector<size_t> sizes = kChunkSizes;
  sizes.push_back(input.size());
  for (size_t chunk : sizes) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, input, chunk);
    EXPECT_EQ(columns_of(run.results), (std::vector<std::string>{"ts", "user.id", "user.name", "path", "ok"}));
    EXPECT_EQ(all_rows(run.results), expected);
    EXPECT_EQ(run.summary.counters.records_in, 3u);
    EXPECT_EQ(run.summary.counters.records_rejected, 0u);
  }
}

TEST(JsonlParse, MultiByteCharactersSplitAcrossChunksAreReassembledExactly) {
  // é is 2 bytes, € 3 and 𝄞 4, so some chunk size cuts inside each of them; \u00e9 and the
  // surrogate pair \ud834\udd1e are the escaped spellings of é and 𝄞.
  const std::string input =
      "{\"s\":\"caf\xC3\xA9\"}\n"
      "{\"s\":\"\xE2\x82\xAC" "5 \xF0\x9D\x84\x9E\"}\n"
      "{\"s\":\"\\u00e9\\ud834\\udd1e\"}\n";
  const Rows expected = {{Str("caf\xC3\xA9")}, {Str("\xE2\x82\xAC" "5 \xF0\x9D\x84\x9E")},
                         {Str("\xC3\xA9\xF0\x9D\x84\x9E")}};
  const auto pipeline = jsonl_pipeline();
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    SCOPED_TRACE(chunk);
    EXPECT_EQ(all_rows(run_chunked(pipeline, input, chunk).results), expected);
  }
}

TEST(JsonlParse, FieldsPickDottedPathsInOrderAndMissingOnesAreNull) {
  const std::string input =
      "{\"status\":200,\"user\":{\"id\":7},\"request\":{\"headers\":{\"host\":\"a.example\",\"x\":1},\"m\":\"GET\"}}\n"
      "{\"status\":404,\"user\":\"anonymous\",\"request\":{\"headers\":{}}}\n"
      "{\"tags\":[1,{\"k\":\"v\"}]}\n";
  const auto run = run_chunked(
      jsonl_pipeline("    fields: [user.id, request.headers.host, status, request.headers, tags]\n"
                     "    as: {user.id: user_id, request.headers.host: host}\n"),
      input, 16);
  EXPECT_EQ(columns_of(run.results),
            (std::vector<std::string>{"user_id", "host", "status", "request.headers", "tags"}));
  const Rows expected = {
      {Int(7), Str("a.example"), Int(200), Str("{\"host\":\"a.example\",\"x\":1}"), kNull},
      {kNull, kNull, Int(404), Str("{}"), kNull},  // user is not an object: user.id is missing
      {kNull, kNull, kNull, kNull, Str("[1,{\"k\":\"v\"}]")},
  };
  EXPECT_EQ(all_rows(run.results), expected);
}

// Records whose keys come in a random order, some missing, some extra, with a nested object that
// is sometimes a string instead, all in one block and cut into chunks: the parser remembers the
// previous record's keys, and a change of shape must never put a value in the wrong column.
TEST(JsonlParse, KeysInAnyOrderAndShapeFillTheirOwnColumns) {
  std::mt19937 random(3);
  const auto pick = [&](size_t n) { return static_cast<size_t>(random() % n); };
  std::string input;
  Rows expected;
  for (int record = 0; record < 300; ++record) {
    std::vector<std::pair<std::string, std::string>> members;   // key, JSON text
    std::vector<Value>& row = expected.emplace_back(4, kNull);  // a, b, req.host, req.m
    if (pick(4) != 0) {
      members.emplace_back("a", std::to_string(record));
      row[0] = Int(record);
    }
    if (pick(4) != 0) {
      members.emplace_back("b", "\"b" + std::to_string(record) + "\"");
      row[1] = Str("b" + std::to_string(record));
    }
    if (pick(5) == 0) {
      members.emplace_back("req", "\"flat\"");  // not an object: req.host and req.m are missing
    } else if (pick(4) != 0) {
      std::vector<std::string> inner;
      if (pick(3) != 0) {
        inner.push_back("\"host\":\"h" + std::to_string(record) + "\"");
        row[2] = Str("h" + std::to_string(record));
      }
      if (pick(3) != 0) {
        inner.push_back("\"m\":" + std::to_string(record % 7));
        row[3] = Int(record % 7);
      }
      if (pick(2) == 0) inner.push_back("\"x\":{\"host\":1}");
      std::shuffle(inner.begin(), inner.end(), random);
      std::string object = "{";
      for (const std::string& member : inner) object += (object.size() > 1 ? "," : "") + member;
      members.emplace_back("req", object + "}");
    }
    if (pick(3) == 0) members.emplace_back("host", "\"top\"");  // same key as req.host, other path
    std::shuffle(members.begin(), members.end(), random);
    std::string line = "{";
    for (const auto& [key, text] : members) line += (line.size() > 1 ? "," : "") + ("\"" + key + "\":" + text);
    input += line + "}\n";
  }
  const auto pipeline = jsonl_pipeline("    fields: [a, b, req.host, req.m]\n", "fail");
  for (size_t chunk : {size_t{7}, size_t{100}, size_t{1} << 20}) {
    SCOPED_TRACE(chunk);
    EXPECT_EQ(all_rows(run_chunked(pipeline, input, chunk).results), expected);
  }
}

TEST(JsonlParse, ValuesKeepTheirJsonTypes) {
  const std::string input =
      "{\"i\":-42,\"big\":18446744073709551615,\"d\":1.5e3,\"t\":true,\"n\":null,"
      "\"s\":\"tab\\tquote\\\"\",\"a\":[1, 2 , \"x\"],\"e\":{}}\n";
  const auto run = run_chunked(jsonl_pipeline(), input, 4096);
  EXPECT_EQ(columns_of(run.results), (std::vector<std::string>{"i", "big", "d", "t", "n", "s", "a", "e"}));
  const Rows expected = {{Int(-42), Value{18446744073709551615.0}, Value{1500.0}, Value{true}, kNull,
                          Str("tab\tquote\""), Str("[1,2,\"x\"]"), Str("{}")}};
  EXPECT_EQ(all_rows(run.results), expected);
}

TEST(JsonlParse, WithoutFieldsTheFirstObjectFixesTheColumns) {
  // The malformed first line is rejected and fixes nothing; the first object does. Later extra
  // keys are ignored, missing ones are null, and a typed column the first object lacks is added.
  const std::string input =
      "{\"oops\"\n"
      "{\"a\":1,\"b\":{\"c\":2}}\n"
      "{\"d\":4,\"b\":{\"c\":3,\"z\":0},\"status\":\"500\"}\n"
      "{\"a\":5,\"b\":\"flat\"}\n";
  const auto pipeline = jsonl_pipeline("    types: {status: int}\n", "dead_letter");
  for (size_t chunk : kChunkSizes) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, input, chunk);
    EXPECT_EQ(columns_of(run.results), (std::vector<std::string>{"a", "b.c", "status"}));
    const Rows expected = {{Int(1), Int(2), kNull}, {kNull, Int(3), Int(500)}, {Int(5), kNull, kNull}};
    EXPECT_EQ(all_rows(run.results), expected);
    ASSERT_EQ(run.summary.dead_letters.size(), 1u);
    EXPECT_EQ(run.summary.dead_letters[0].origin.line, 1u);
  }
}

TEST(JsonlParse, TypesConvertAndRejectWithLineOffsetAndField) {
  const std::string input =
      "{\"status\":\"404\",\"ms\":3,\"ok\":\"true\",\"code\":7}\r\n"
      "{\"status\":2.5,\"ms\":1.5,\"ok\":false,\"code\":{\"x\":1}}\r\n"
      "{\"status\":200,\"ms\":\"fast\",\"ok\":true,\"code\":\"a\"}\r\n"
      "{\"status\":201,\"ms\":null,\"ok\":1,\"code\":null}\r\n"
      "{\"status\":18446744073709551615}\r\n";
  const auto pipeline = jsonl_pipeline("    types: {status: int, ms: double, ok: bool, code: string}\n", "dead_letter");
  for (size_t chunk : kChunkSizes) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, input, chunk);
    const Rows expected = {{Int(404), Value{3.0}, Value{true}, Str("7")}};
    EXPECT_EQ(all_rows(run.results), expected);
    const auto& dead = run.summary.dead_letters;
    ASSERT_EQ(dead.size(), 4u);
    EXPECT_EQ(dead[0].reason, "expected int, got '2.5'");
    EXPECT_EQ(dead[0].field, "status");
    EXPECT_EQ(dead[0].origin.line, 2u);
    EXPECT_EQ(dead[0].origin.offset, 46u);
    EXPECT_EQ(dead[0].record, "{\"status\":2.5,\"ms\":1.5,\"ok\":false,\"code\":{\"x\":1}}");
    EXPECT_EQ(dead[1].reason, "expected double, got 'fast'");
    EXPECT_EQ(dead[1].field, "ms");
    EXPECT_EQ(dead[1].origin.line, 3u);
    EXPECT_EQ(dead[1].origin.offset, 97u);
    EXPECT_EQ(dead[2].reason, "expected bool, got '1'");
    EXPECT_EQ(dead[2].field, "ok");
    EXPECT_EQ(dead[2].origin.line, 4u);
    EXPECT_EQ(dead[3].reason, "expected int, got '18446744073709551615'");
    EXPECT_EQ(dead[3].origin.line, 5u);
    EXPECT_EQ(run.summary.counters.records_in, 5u);
    EXPECT_EQ(run.summary.counters.records_rejected, 4u);
  }
}

TEST(JsonlParse, MalformedLinesBecomeDeadLettersWithLineOffsetAndReason) {
  const std::string input =
      "{\"a\":1}\n"
      "{\"a\":\n"
      "\n"
      "[1,2]\r\n"
      "\"just a string\"\n"
      "{\"a\":\"\xFF\"}\n"
      "{\"a\":2} trailing\n"
      "{\"a\":3}\n";
  const auto pipeline = jsonl_pipeline("", "dead_letter");
  for (size_t chunk : kChunkSizes) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, input, chunk);
    EXPECT_EQ(all_rows(run.results), (Rows{{Int(1)}, {Int(3)}}));
    const auto& dead = run.summary.dead_letters;
    ASSERT_EQ(dead.size(), 5u);
    EXPECT_EQ(dead[0].origin.line, 2u);
    EXPECT_EQ(dead[0].origin.offset, 8u);
    EXPECT_EQ(dead[0].record, "{\"a\":");
    EXPECT_EQ(dead[0].reason.rfind("invalid JSON: ", 0), 0u) << dead[0].reason;
    EXPECT_EQ(dead[1].origin.line, 4u);
    EXPECT_EQ(dead[1].origin.offset, 15u);
    EXPECT_EQ(dead[1].record, "[1,2]");
    EXPECT_EQ(dead[1].reason, "expected a JSON object, got an array");
    EXPECT_EQ(dead[2].origin.line, 5u);
    EXPECT_EQ(dead[2].origin.offset, 22u);
    EXPECT_EQ(dead[2].reason, "expected a JSON object, got a string");
    EXPECT_EQ(dead[3].origin.line, 6u);
    EXPECT_EQ(dead[3].reason, "invalid JSON: The input is not valid UTF-8");
    EXPECT_EQ(dead[4].origin.line, 7u);
    EXPECT_EQ(dead[4].record, "{\"a\":2} trailing");
    EXPECT_EQ(dead[4].reason.rfind("invalid JSON: ", 0), 0u) << dead[4].reason;
    EXPECT_TRUE(dead[0].field.empty());
    EXPECT_EQ(run.summary.counters.records_rejected, 5u);
  }
}

TEST(JsonlParse, FailPolicyFailsTheStreamNamingLineAndOffset) {
  const std::string input = "{\"a\":1}\n{\"a\":2}\n{\"a\" 3}\n{\"a\":4}\n";
  for (size_t chunk : kChunkSizes) {
    SCOPED_TRACE(chunk);
    try {
      run_chunked(jsonl_pipeline("", "fail"), input, chunk);
      FAIL() << "expected the stream to fail";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      const std::string m = e.what();
      EXPECT_NE(m.find("line 3 (offset 16)"), std::string::npos) << m;
      EXPECT_NE(m.find("invalid JSON"), std::string::npos) << m;
    }
  }
}

TEST(JsonlParse, LongRejectedRecordIsClippedAtACharacterBoundary) {
  // Bytes 254..256 are '€': clipping at 256 bytes would cut it, so the text ends before it.
  const std::string line = std::string(254, 'x') + "\xE2\x82\xAC" + std::string(60, 'y');
  const auto run = run_chunked(jsonl_pipeline("", "dead_letter"), line + "\n", 100);
  ASSERT_EQ(run.summary.dead_letters.size(), 1u);
  EXPECT_EQ(run.summary.dead_letters[0].record, std::string(254, 'x'));
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

TEST(JsonlParse, AccessLogAggregatesMatchTheRecordsForSeveralChunkSizes) {
  const auto records = testing::make_access_records(2000, 3);
  std::string input;
  for (const auto& r : records) {
    input += "{\"geo\":{\"country\":\"" + r.country + "\"},\"request\":{\"status\":" + std::to_string(r.status) +
             ",\"bytes\":" + std::to_string(r.bytes) + "},\"agent\":\"" + json_escape(r.agent) + "\"}\n";
  }
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: jsonl
    fields: [geo.country, request.status, request.bytes]
    as: {geo.country: country, request.status: status, request.bytes: bytes}
)" + testing::kErrorsAggregationYaml);
  const auto expected = testing::expected_error_aggregates(records);
  for (size_t chunk : {size_t{7}, size_t{4096}, input.size()}) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, input, chunk);
    ASSERT_EQ(run.results.size(), 1u);
    std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> got;
    for (const auto& row : run.results[0].rows) {
      got[{std::get<std::string>(row[0]), std::get<int64_t>(row[1])}] = {std::get<int64_t>(row[2]),
                                                                          std::get<int64_t>(row[3])};
    }
    EXPECT_EQ(got, expected);
    EXPECT_EQ(run.summary.counters.records_in, records.size());
  }
}

config::ConfigError jsonl_config_error(const std::string& options) { return config_error(jsonl_yaml(options)); }

// Parser::keep_only, as for csv: only the rows for which the predicate is true are built; a record
// that does not fit its types is rejected whatever the predicate says, naming its first misfit
// field; the same rows and rejections as the parse followed by the filter.
TEST(JsonlParse, AGivenPredicateKeepsItsRowsAndTheRejectionsStayTheSame) {
  const auto pipeline =
      jsonl_pipeline("    fields: [id, kept, n, m]\n    types: {id: int, n: int, m: double}\n", "dead_letter");
  const std::string input =
      "{\"id\": 1, \"kept\": \"a\", \"n\": 1, \"m\": 0.5}\n"       // the predicate is false: dropped
      "{\"id\": 2, \"kept\": \"b\", \"n\": 2, \"m\": 1.5}\n"       // kept
      "{\"id\": 3, \"kept\": \"c\", \"n\": 1, \"m\": \"oops\"}\n"  // false, but m does not fit
      "{\"id\": 4, \"kept\": \"d\", \"n\": \"oops\", \"m\": 1}\n"  // n does not fit
      "{\"id\": \"bad\", \"kept\": \"e\", \"n\": \"oops\"}\n"      // id and n: id is named
      "{\"id\": 6, \"kept\": \"f\", \"m\": 2}\n"                   // n is missing, the predicate null
      "{\"id\": 7, \"kept\": {\"x\": [1]}, \"n\": 3}\n"            // kept, m null
      "\n"                                                         // blank: not a record
      "[1, 2]\n";                                                  // not an object
  const Parsed parsed = parse_keeping(pipeline, {"kept", "n", "m"}, "n >= 2", input);
  const RecordBatch& batch = parsed.batch;
  EXPECT_EQ(parsed.records, 8u);
  ASSERT_EQ(batch.rows(), 2u);
  EXPECT_EQ(batch.row(0)[1], Str("b"));
  EXPECT_EQ(batch.row(0)[3], Value{1.5});
  EXPECT_EQ(batch.row(1)[1], Str("{\"x\":[1]}"));
  EXPECT_TRUE(is_null(batch.row(1)[3]));
  EXPECT_EQ(batch.origins[1].line, 7u);
  ASSERT_EQ(batch.rejections.size(), 4u);
  EXPECT_EQ(batch.rejections[0].field, "m");
  EXPECT_EQ(batch.rejections[1].field, "n");
  EXPECT_EQ(batch.rejections[2].field, "id");
  EXPECT_EQ(batch.rejections[2].reason, "expected int, got 'bad'");
  EXPECT_EQ(batch.rejections[3].origin.line, 9u);

  expect_same_rows_and_rejections(batch, parsed_then_filtered(pipeline, {"kept", "n", "m"}, "n >= 2", input));
}

TEST(JsonlParse, ConfigErrorsNameLineColumnAndProblem) {
  const auto unknown = jsonl_config_error("    fields: [a]\n    field: [b]\n");
  EXPECT_EQ(unknown.line(), 5);
  EXPECT_EQ(unknown.column(), 5);
  EXPECT_NE(unknown.message().find("unknown key 'field'"), std::string::npos) << unknown.message();

  const auto bad_path = jsonl_config_error("    fields: [a, b..c]\n");
  EXPECT_EQ(bad_path.line(), 4);
  EXPECT_EQ(bad_path.column(), 17);
  EXPECT_NE(bad_path.message().find("'b..c' is not a dotted path"), std::string::npos) << bad_path.message();

  EXPECT_NE(jsonl_config_error("    fields: [a, a]\n").message().find("listed twice"), std::string::npos);
  EXPECT_NE(jsonl_config_error("    fields: []\n").message().find("at least one field"), std::string::npos);
  EXPECT_NE(jsonl_config_error("    as: {a: b}\n").message().find("no `fields`"), std::string::npos);
  EXPECT_NE(jsonl_config_error("    fields: [a]\n    as: {c: d}\n").message().find("renames 'c'"), std::string::npos);
  EXPECT_NE(jsonl_config_error("    fields: [a, b]\n    as: {a: b}\n").message().find("two columns would be named 'b'"),
            std::string::npos);
  const auto untyped = jsonl_config_error("    fields: [a.b]\n    as: {a.b: ab}\n    types: {a.b: int}\n");
  EXPECT_EQ(untyped.line(), 6);
  EXPECT_NE(untyped.message().find("`types` names 'a.b'"), std::string::npos) << untyped.message();
  EXPECT_NE(jsonl_config_error("    types: {a: integerish}\n").message().find("unknown type 'integerish'"),
            std::string::npos);
}

TEST(JsonlParse, ExampleFormatsConfigBuildsAndRuns) {
  const auto pipelines = build_pipelines(
      config::load_file(SLUICE_SOURCE_DIR "/config/examples/formats.yaml").require("pipelines", "config"),
      StageRegistry::with_builtins());
  ASSERT_EQ(pipelines.count("json_server_errors"), 1u);
  ASSERT_EQ(pipelines.count("log_errors"), 1u);
  EXPECT_EQ(pipelines.at("json_server_errors")->format(), "jsonl");
  EXPECT_EQ(pipelines.at("log_errors")->format(), "lines");

  const auto json = run_chunked(pipelines.at("json_server_errors"),
                                "{\"status\":503,\"bytes\":10,\"latency_ms\":2.0,\"request\":{\"headers\":{\"host\":\"a\"}}}\n"
                                "{\"status\":200,\"bytes\":20,\"latency_ms\":1.0,\"request\":{\"headers\":{\"host\":\"a\"}}}\n"
                                "{\"status\":500,\"bytes\":30,\"latency_ms\":4.0,\"request\":{\"headers\":{\"host\":\"a\"}}}\n",
                                64);
  ASSERT_EQ(json.results.size(), 1u);
  EXPECT_EQ(json.results[0].columns, (std::vector<std::string>{"host", "errors", "bytes", "mean_latency_ms"}));
  EXPECT_EQ(json.results[0].rows, (Rows{{Str("a"), Int(2), Int(40), Value{3.0}}}));

  const auto log = run_chunked(pipelines.at("log_errors"), "INFO a\nERROR b\n", 64);
  EXPECT_EQ(all_rows(log.results), (Rows{{Str("ERROR b")}}));
}

}  // namespace
}  // namespace sluice::pipeline
