#include "pipeline/stages/cast.h"

#include <gtest/gtest.h>

#include "support/access_log.h"
#include "support/transform_harness.h"

namespace sluice::pipeline {
namespace {

using namespace sluice::testing;

TEST(Cast, TextFieldsBecomeNumbersForEveryChunkSize) {
  const auto records = make_access_records(300, 17);
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
  - type: cast
    fields: {status: int, bytes: double}
)");
  Table expected{{"country", "status", "bytes", "agent"}, {}};
  for (const auto& r : records) {
    expected.rows.push_back({r.country, r.status, static_cast<double>(r.bytes), r.agent});
  }
  const RunResult run = run_every_chunk_size(pipeline, to_csv(records));
  EXPECT_EQ(as_table(run.results), expected);
  EXPECT_EQ(run.summary.counters.records_rejected, 0u);
}

TEST(Cast, ConversionsBetweenTypedValuesFollowTheRules) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {i: int, d: double, b: bool}
  - type: cast
    on_error: null
    fields: {i: double, d: int, b: string, s: bool}
)");
  const RunResult run = run_chunked(pipeline,
                                    "i,d,b,s\n"
                                    "3,4.0,true,true\n"
                                    "-2,4.5,false,nope\n"
                                    ",1e300,,False\n"
                                    "7,-9223372036854775808,true,1\n",
                                    64);
  const Table expected{{"i", "d", "b", "s"},
                       {{3.0, int64_t{4}, std::string("true"), true},
                        {-2.0, Value{}, std::string("false"), Value{}},  // 4.5 is not integral; "nope" no bool
                        {Value{}, Value{}, Value{}, false},              // nulls stay null; 1e300 is out of range
                        {7.0, INT64_MIN, std::string("true"), Value{}}}};  // -2^63 fits; 1 is no bool
  EXPECT_EQ(as_table(run.results), expected);
}

TEST(Cast, AnythingBecomesItsDisplayText) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    infer_types: true
  - type: cast
    fields: {a: string, b: string, c: string}
)");
  const RunResult run = run_chunked(pipeline, "a,b,c\n12,2.5,false\n", 64);
  EXPECT_EQ(as_table(run.results),
            (Table{{"a", "b", "c"}, {{std::string("12"), std::string("2.5"), std::string("false")}}}));
}

TEST(Cast, FailedCastsRejectOrBecomeNullPerFieldWithExactOrigins) {
  const auto pipeline = pipeline_from_yaml(R"(
on_error: dead_letter
stages:
  - type: csv
  - type: cast
    fields: {n: int, x: {to: double, on_error: null}, flag: bool}
)");
  const std::string input =
      "n,x,flag\n"
      "1,2.5,true\n"
      "2,abc,false\n"
      "oops,1,true\n"
      "3,,maybe\n"
      "\"\",1,True\n"
      "4,1e3,FALSE\n";
  const RunResult run = run_every_chunk_size(pipeline, input);
  const Table expected{{"n", "x", "flag"},
                       {{int64_t{1}, 2.5, true}, {int64_t{2}, Value{}, false}, {int64_t{4}, 1000.0, false}}};
  EXPECT_EQ(as_table(run.results), expected);

  const Counters& c = run.summary.counters;
  EXPECT_EQ(c.records_in, 6u);
  EXPECT_EQ(c.records_out, 3u);
  EXPECT_EQ(c.records_rejected, 3u);
  EXPECT_EQ(c.rejected_by_reason, (std::map<std::string, uint64_t>{{"cannot cast 'oops' to int", 1},
                                                                   {"cannot cast 'maybe' to bool", 1},
                                                                   {"cannot cast '' to int", 1}}));
  const auto at = [&](const char* text) { return std::to_string(input.find(text)); };
  EXPECT_EQ(describe_dead_letters(run.summary),
            (std::vector<std::string>{"4:" + at("oops") + " n: cannot cast 'oops' to int",
                                      "5:" + at("3,,maybe") + " flag: cannot cast 'maybe' to bool",
                                      "6:" + at("\"\",1") + " n: cannot cast '' to int"}));
}

TEST(Cast, FailPolicyFailsTheStreamNamingLineOffsetAndField) {
  const auto pipeline = pipeline_from_yaml(R"(
on_error: fail
stages:
  - type: csv
  - type: cast
    fields: {n: int}
)");
  EXPECT_TRUE(stream_fails_with(
      pipeline, "n\n1\n2.5\n",
      "pipeline 'test' rejected a record at line 3 (offset 4), field 'n': cannot cast '2.5' to int"));
}

TEST(Cast, LongValuesAreClippedInTheReason) {
  const auto pipeline = pipeline_from_yaml("on_error: dead_letter\nstages:\n  - type: csv\n  - type: cast\n"
                                           "    fields: {n: int}\n");
  const RunResult run = run_chunked(pipeline, "n\n" + std::string(100, 'x') + "\n", 64);
  ASSERT_EQ(run.summary.dead_letters.size(), 1u);
  EXPECT_EQ(run.summary.dead_letters[0].reason, "cannot cast '" + std::string(64, 'x') + "...' to int");
}

TEST(Cast, UnknownFieldFailsTheStreamNamingIt) {
  const auto pipeline = pipeline_from_yaml("stages:\n  - type: csv\n  - type: cast\n    fields: {c: int}\n");
  EXPECT_TRUE(stream_fails_with(pipeline, "a,b\n1,2\n", "cast field 'c' is not a field of the input (fields: a, b)"));
}

TEST(Cast, ConfigErrorsPointAtTheOffendingKeyOrValue) {
  const std::string head = "stages:\n  - type: csv\n  - type: cast\n";
  EXPECT_TRUE(config_fails_at(head + "    fields: {a: int}\n    on_eror: null\n", 5, 5, "unknown key 'on_eror'"));
  EXPECT_TRUE(config_fails_at(head + "    fields: {a: {to: int, on_eror: null}}\n", 4, 27,
                              "unknown key 'on_eror' in the cast of 'a'"));
  EXPECT_TRUE(config_fails_at(head + "    fields: {a: integerish}\n", 4, 17, "unknown type 'integerish'"));
  EXPECT_TRUE(config_fails_at(head + "    fields: {a: int}\n    on_error: drop\n", 5, 15,
                              "expected reject | null, got 'drop'"));
  EXPECT_TRUE(
      config_fails_at(head + "    fields: {a: {on_error: null}}\n", 4, 17, "the cast of 'a' needs the key 'to'"));
  EXPECT_TRUE(config_fails_at(head + "    fields: {}\n", 4, 13, "expected at least one `field: type`"));
}

}  // namespace
}  // namespace sluice::pipeline
