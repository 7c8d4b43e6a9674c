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
  const Error e = stream_error(pipeline, input);
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  const std::string message = e.what();
  EXPECT_EQ(input.find("b,x"), 8u);
  EXPECT_NE(message.find("line 3 (offset 8), field 'n'"), std::string::npos) << message;
}

TEST(Drop, UnknownFieldFailsTheStreamNamingIt) {
  const auto pipeline = pipeline_from_yaml("stages:\n  - type: csv\n  - type: drop\n    fields: [b, c]\n");
  const Error e = stream_error(pipeline, "a,b\n1,2\n");
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_STREQ(e.what(), "drop field 'c' is not a field of the input (fields: a, b)");
}

TEST(Drop, ConfigErrorsPointAtTheOffendingKeyOrItem) {
  const std::string head = "stages:\n  - type: csv\n  - type: drop\n";

  const auto unknown = config_error(head + "    fields: [a]\n    keep: [b]\n");
  EXPECT_EQ(unknown.line(), 5);
  EXPECT_EQ(unknown.column(), 5);
  EXPECT_NE(unknown.message().find("unknown key 'keep'"), std::string::npos) << unknown.message();

  const auto twice = config_error(head + "    fields: [a, a]\n");
  EXPECT_EQ(twice.line(), 4);
  EXPECT_EQ(twice.column(), 17);
  EXPECT_EQ(config_error(head + "    fields: []\n").line(), 4);
}

}  // namespace
}  // namespace sluice::pipeline
