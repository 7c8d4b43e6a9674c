#include "pipeline/stages/group_by.h"

#include <gtest/gtest.h>

#include "support/pipeline_harness.h"

namespace sluice::pipeline {
namespace {

using sluice::testing::pipeline_from_yaml;
using sluice::testing::run_chunked;

TEST(GroupBy, CountSumMeanMinMaxPerKeySortedByKey) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {v: int}
  - type: group_by
    keys: [k]
    aggregates:
      - {fn: count}
      - {fn: sum, field: v}
      - {fn: mean, field: v}
      - {fn: min, field: v}
      - {fn: max, field: v, as: biggest}
      - {fn: count, field: v, as: non_null}
)");
  const auto run = run_chunked(pipeline, "k,v\nb,1\na,2\nb,3\na,\nb,5\n", 4);
  ASSERT_EQ(run.results.size(), 1u);
  const ResultBatch& r = run.results[0];
  EXPECT_EQ(r.columns, (std::vector<std::string>{"k", "count", "sum_v", "mean_v", "min_v", "biggest", "non_null"}));
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0], (std::vector<Value>{std::string("a"), int64_t{2}, int64_t{2}, 2.0, int64_t{2}, int64_t{2}, int64_t{1}}));
  EXPECT_EQ(r.rows[1], (std::vector<Value>{std::string("b"), int64_t{3}, int64_t{9}, 3.0, int64_t{1}, int64_t{5}, int64_t{3}}));
}

TEST(GroupBy, SumOverflowContinuesInDouble) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {v: int}
  - type: group_by
    aggregates: [{fn: sum, field: v}]
)");
  const auto run = run_chunked(pipeline, "v\n9223372036854775807\n10\n", 64);
  ASSERT_EQ(run.results.at(0).rows.size(), 1u);
  EXPECT_EQ(run.results[0].rows[0][0], Value{9223372036854775817.0});
}

TEST(GroupBy, NonNumericValueRejectsTheWholeRecord) {
  const auto pipeline = pipeline_from_yaml(R"(
on_error: dead_letter
stages:
  - type: csv
    infer_types: true
  - type: group_by
    keys: [k]
    aggregates: [{fn: count}, {fn: sum, field: v}]
)");
  const auto run = run_chunked(pipeline, "k,v\na,1\na,oops\na,2\n", 64);
  EXPECT_EQ(run.results.at(0).rows.at(0)[1], Value{int64_t{2}});  // counted once per accepted record
  EXPECT_EQ(run.summary.counters.records_rejected, 1u);
  EXPECT_EQ(run.summary.counters.records_out, 2u);
  ASSERT_EQ(run.summary.dead_letters.size(), 1u);
  EXPECT_EQ(run.summary.dead_letters[0].field, "v");
  EXPECT_EQ(run.summary.dead_letters[0].origin.line, 3u);
}

TEST(GroupBy, MoreGroupsThanTheLimitFailsWithResourceExhausted) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
  - type: group_by
    keys: [k]
    max_groups: 2
    aggregates: [{fn: count}]
)");
  try {
    run_chunked(pipeline, "k\na\nb\nc\n", 64);
    FAIL() << "expected failure";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::ResourceExhausted);
  }
}

TEST(GroupBy, UnknownKeyFieldFailsTheStreamNamingIt) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
  - type: group_by
    keys: [country]
    aggregates: [{fn: count}]
)");
  try {
    run_chunked(pipeline, "k\na\n", 64);
    FAIL() << "expected failure";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'country'"), std::string::npos) << e.what();
  }
}

TEST(GroupBy, ConfigIsValidatedStrictly) {
  EXPECT_THROW(pipeline_from_yaml("stages:\n  - type: csv\n  - type: group_by\n    aggregates: [{fn: median, field: v}]\n"),
               config::ConfigError);
  EXPECT_THROW(pipeline_from_yaml("stages:\n  - type: csv\n  - type: group_by\n    aggregates: [{fn: sum}]\n"),
               config::ConfigError);
  EXPECT_THROW(pipeline_from_yaml("stages:\n  - type: csv\n  - type: group_by\n    aggregates: []\n"),
               config::ConfigError);
}

}  // namespace
}  // namespace sluice::pipeline
