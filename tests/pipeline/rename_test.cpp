#include "pipeline/stages/rename.h"

#include <gtest/gtest.h>

#include "support/access_log.h"
#include "support/transform_harness.h"

namespace sluice::pipeline {
namespace {

using namespace sluice::testing;

TEST(Rename, RenamesFieldsAndKeepsValuesAndOrderForEveryChunkSize) {
  const auto records = make_access_records(300, 11);
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {status: int, bytes: int}
  - type: rename
    fields: {bytes: size, agent: user_agent}
)");
  Table expected{{"country", "status", "size", "user_agent"}, {}};
  for (const auto& r : records) expected.rows.push_back({r.country, r.status, r.bytes, r.agent});

  const RunResult run = run_every_chunk_size(pipeline, to_csv(records));
  EXPECT_EQ(as_table(run.results), expected);
}

TEST(Rename, RenamesApplyTogetherSoTwoNamesCanSwap) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
  - type: rename
    fields: {a: b, b: a}
  - type: group_by
    keys: [a]
    aggregates: [{fn: count}]
)");
  const RunResult run = run_chunked(pipeline, "a,b\nx,1\ny,1\n", 64);
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_EQ(run.results[0].rows, (std::vector<std::vector<Value>>{{std::string("1"), int64_t{2}}}));
}

TEST(Rename, UnknownOldNameOrANameTakenTwiceFailsTheStream) {
  const auto unknown = pipeline_from_yaml("stages:\n  - type: csv\n  - type: rename\n    fields: {c: d}\n");
  EXPECT_TRUE(stream_fails_with(unknown, "a,b\n1,2\n", "rename field 'c' is not a field of the input (fields: a, b)"));
  const auto taken = pipeline_from_yaml("stages:\n  - type: csv\n  - type: rename\n    fields: {a: b}\n");
  EXPECT_TRUE(stream_fails_with(taken, "a,b\n1,2\n", "rename of 'a' to 'b' gives two fields named 'b'"));
}

TEST(Rename, ConfigErrorsPointAtTheOffendingKeyOrValue) {
  const std::string head = "stages:\n  - type: csv\n  - type: rename\n";
  EXPECT_TRUE(config_fails_at(head + "    fields: {a: b}\n    to: c\n", 5, 5, "unknown key 'to'"));
  EXPECT_TRUE(config_fails_at(head + "    fields: {a: x, b: x}\n", 4, 23, "two fields would be renamed to 'x'"));
  EXPECT_TRUE(config_fails_at(head + "    fields: {a: b, a: c}\n", 4, 20, "duplicate key 'a'"));
  EXPECT_TRUE(config_fails_at(head + "    fields: {}\n", 4, 13, "expected at least one `old: new` pair"));
  EXPECT_TRUE(config_fails_at(head + "    fields: [a, b]\n", 4, 13, "expected a map"));
  EXPECT_TRUE(config_fails_at(head + "    fields: {a: [b]}\n", 4, 17, "expected a string"));
}

}  // namespace
}  // namespace sluice::pipeline
