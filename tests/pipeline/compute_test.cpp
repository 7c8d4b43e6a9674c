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

// csv (with type inference) then one `compute`.
PipelinePtr compute_pipeline(const std::string& field, const std::string& expr) {
  return pipeline_from_yaml("stages:\n  - type: csv\n    infer_types: true\n  - type: compute\n    field: " + field +
                            "\n    expr: " + expr + "\n");
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
  const RunResult run = run_chunked(compute_pipeline("a", "a * 10 + b"), "a,b\n1,2\n3,\n", 64);
  EXPECT_EQ(as_table(run.results), (Table{{"a", "b"}, {{int64_t{12}, int64_t{2}}, {Value{}, Value{}}}}));
}

TEST(Compute, MismatchedTypesAndDivisionByZeroGiveNull) {
  const RunResult run = run_chunked(compute_pipeline("ratio", "a / b"), "a,b,s\n1,0,x\n3,2,y\nz,2,z\n", 64);
  EXPECT_EQ(as_table(run.results),
            (Table{{"a", "b", "s", "ratio"},
                   {{int64_t{1}, int64_t{0}, std::string("x"), Value{}},
                    {int64_t{3}, int64_t{2}, std::string("y"), 1.5},
                    {std::string("z"), int64_t{2}, std::string("z"), Value{}}}}));
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
  EXPECT_TRUE(stream_fails_with(compute_pipeline("c", "c + a"), "a,b\n1,2\n",
                                "expression 'c + a' references unknown field 'c'; available fields: a, b"));
}

TEST(Compute, ConfigErrorsPointAtTheKeyOrIntoTheExpression) {
  const std::string head = "stages:\n  - type: csv\n  - type: compute\n";
  EXPECT_TRUE(config_fails_at(head + "    field: x\n    expr: 1\n    as: y\n", 6, 5, "unknown key 'as'"));
  EXPECT_TRUE(config_fails_at(head + "    field: x\n    expr: bytes / / 2\n", 5, 19,  // the second '/'
                              "in compute expression: column 9"));
  EXPECT_TRUE(config_fails_at(head + "    field: x\n    expr: \"median(bytes)\"\n", 5, 12,  // inside the quotes
                              "unknown function 'median'"));
  EXPECT_TRUE(config_fails_at(head + "    field: ''\n    expr: 1\n", 4, 12, "the field name must not be empty"));
  EXPECT_TRUE(config_fails_at(head + "    expr: 1\n", 3, 5, "needs the key 'field'"));
}

}  // namespace
}  // namespace sluice::pipeline
