#include "pipeline/stages/drop.h"

#include <gtest/gtest.h>

#include "support/access_log.h"
#include "support/transform_harness.h"

namespace sluice::pipeline {
namespace {

using namespace sluice::testing;

TEST(Drop, RemovesTheListedFieldsAndKeepsTheOthersInOrderForEveryChunkSize) {
  const auto records = make_access_records(300, 13);
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {status: int, bytes: int}
  - type: drop
    fields: [agent, status]
)");
  Table expected{{"country", "bytes"}, {}};
  for (const auto& r : records) expected.rows.push_back({r.country, r.bytes});

  const RunResult run = run_every_chunk_size(pipeline, to_csv(records));
  EXPECT_EQ(as_table(run.results), expected);
}

TEST(Drop, FailPolicyStillNamesTheLineAndFieldOfAParserRejection) {
  const auto pipeline = pipeline_from_yaml(R"(
on_error: fail
stages:
  - type: csv
    types: {n: int}
  - type: drop
    fields: [s]
)");
  const std::string input = "s,n\na,1\nb,x\n";
  ASSERT_EQ(input.find("b,x"), 8u);
  EXPECT_TRUE(stream_fails_with(
      pipeline, input, "pipeline 'test' rejected a record at line 3 (offset 8), field 'n': expected int, got 'x'"));
}

TEST(Drop, UnknownFieldFailsTheStreamNamingIt) {
  const auto pipeline = pipeline_from_yaml("stages:\n  - type: csv\n  - type: drop\n    fields: [b, c]\n");
  EXPECT_TRUE(stream_fails_with(pipeline, "a,b\n1,2\n", "drop field 'c' is not a field of the input (fields: a, b)"));
}

TEST(Drop, ConfigErrorsPointAtTheOffendingKeyOrItem) {
  const std::string head = "stages:\n  - type: csv\n  - type: drop\n";
  EXPECT_TRUE(config_fails_at(head + "    fields: [a]\n    keep: [b]\n", 5, 5, "unknown key 'keep'"));
  EXPECT_TRUE(config_fails_at(head + "    fields: [a, a]\n", 4, 17, "field 'a' is listed twice"));
  EXPECT_TRUE(config_fails_at(head + "    fields: []\n", 4, 13, "expected at least one field name"));
}

}  // namespace
}  // namespace sluice::pipeline
