#include "pipeline/stages/compute.h"

#include <cctype>

#include <gtest/gtest.h>

#include "support/access_log.h"
#include "support/transform_harness.h"

namespace sluice::pipeline {
namespace {

using namespace sluice::testing;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(Compute, AddsComputedFieldsForEveryChunkSize) {
  const auto records = make_access_records(300, 19);
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {status: int, bytes: int}
  - type: compute
    field: kib
    expr: bytes / 1024
  - type: compute
    field: label
    expr: concat(lower(country), '-', status)
)");
  Table expected{{"country", "status", "bytes", "agent", "kib", "label"}, {}};
  for (const auto& r : records) {
    expected.rows.push_back({r.country, r.status, r.bytes, r.agent, static_cast<double>(r.bytes) / 1024.0,
                             lower(r.country) + "-" + std::to_string(r.status)});
  }
  const RunResult run = run_every_chunk_size(pipeline, to_csv(records));
  EXPECT_EQ(as_table(run.results), expected);
}

TEST(Compute, ReplacesAnExistingFieldInPlaceFromItsOldValue) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {a: int, b: int}
  - type: compute
    field: a
    expr: a * 10 + b
)");
  const RunResult run = run_chunked(pipeline, "a,b\n1,2\n3,\n", 64);
  EXPECT_EQ(as_table(run.results), (Table{{"a", "b"}, {{int64_t{12}, int64_t{2}}, {Value{}, Value{}}}}));
}

TEST(Compute, MismatchedTypesAndDivisionByZeroGiveNull) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {a: int, b: int}
  - type: compute
    field: ratio
    expr: a / b
)");
  const RunResult run = run_chunked(pipeline, "a,b,s\n1,0,x\n3,2,y\n", 64);
  EXPECT_EQ(as_table(run.results),
            (Table{{"a", "b", "s", "ratio"},
                   {{int64_t{1}, int64_t{0}, std::string("x"), Value{}},
                    {int64_t{3}, int64_t{2}, std::string("y"), 1.5}}}));
}

TEST(Compute, RecordsRejectedUpstreamKeepTheirOriginWhenTheFieldIsAdded) {
  const auto pipeline = pipeline_from_yaml(R"(
on_error: dead_letter
stages:
  - type: csv
  - type: cast
    fields: {n: int}
  - type: compute
    field: twice
    expr: n * 2
)");
  const std::string input = "n\n1\nx\n3\n";
  const RunResult run = run_every_chunk_size(pipeline, input);
  EXPECT_EQ(as_table(run.results), (Table{{"n", "twice"}, {{int64_t{1}, int64_t{2}}, {int64_t{3}, int64_t{6}}}}));
  EXPECT_EQ(run.summary.counters.rejected_by_reason, (std::map<std::string, uint64_t>{{"cannot cast 'x' to int", 1}}));
  EXPECT_EQ(describe_dead_letters(run.summary), (std::vector<std::string>{"3:4 n: cannot cast 'x' to int"}));
}

TEST(Compute, UnknownFieldInTheExpressionFailsTheStreamNamingIt) {
  // The new field is not visible to its own expression.
  const auto pipeline =
      pipeline_from_yaml("stages:\n  - type: csv\n  - type: compute\n    field: c\n    expr: c + a\n");
  const Error e = stream_error(pipeline, "a,b\n1,2\n");
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_STREQ(e.what(), "expression 'c + a' references unknown field 'c'; available fields: a, b");
}

TEST(Compute, ConfigErrorsPointAtTheKeyOrIntoTheExpression) {
  const std::string head = "stages:\n  - type: csv\n  - type: compute\n";

  const auto unknown = config_error(head + "    field: x\n    expr: 1\n    as: y\n");
  EXPECT_EQ(unknown.line(), 6);
  EXPECT_EQ(unknown.column(), 5);
  EXPECT_NE(unknown.message().find("unknown key 'as'"), std::string::npos) << unknown.message();

  const auto bad = config_error(head + "    field: x\n    expr: bytes / / 2\n");
  EXPECT_EQ(bad.line(), 5);
  EXPECT_EQ(bad.column(), 19);  // the second '/'
  EXPECT_NE(bad.message().find("in compute expression: column 9"), std::string::npos) << bad.message();

  const auto function = config_error(head + "    field: x\n    expr: \"median(bytes)\"\n");
  EXPECT_EQ(function.column(), 12);  // inside the quotes
  EXPECT_NE(function.message().find("unknown function 'median'"), std::string::npos) << function.message();

  EXPECT_EQ(config_error(head + "    field: ''\n    expr: 1\n").line(), 4);
  EXPECT_NE(config_error(head + "    expr: 1\n").message().find("needs the key 'field'"), std::string::npos);
}

}  // namespace
}  // namespace sluice::pipeline
