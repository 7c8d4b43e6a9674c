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

TEST(Rename, UnknownOldNameFailsTheStreamNamingIt) {
  const auto pipeline = pipeline_from_yaml("stages:\n  - type: csv\n  - type: rename\n    fields: {c: d}\n");
  const Error e = stream_error(pipeline, "a,b\n1,2\n");
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_STREQ(e.what(), "rename field 'c' is not a field of the input (fields: a, b)");
}

TEST(Rename, NewNameThatAnotherFieldHasFailsTheStream) {
  const auto pipeline = pipeline_from_yaml("stages:\n  - type: csv\n  - type: rename\n    fields: {a: b}\n");
  const Error e = stream_error(pipeline, "a,b\n1,2\n");
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_STREQ(e.what(), "rename of 'a' to 'b' gives two fields named 'b'");
}

TEST(Rename, ConfigErrorsPointAtTheOffendingKeyOrValue) {
  const std::string head = "stages:\n  - type: csv\n  - type: rename\n";

  const auto unknown = config_error(head + "    fields: {a: b}\n    to: c\n");
  EXPECT_EQ(unknown.line(), 5);
  EXPECT_EQ(unknown.column(), 5);
  EXPECT_NE(unknown.message().find("unknown key 'to'"), std::string::npos) << unknown.message();

  const auto clash = config_error(head + "    fields: {a: x, b: x}\n");
  EXPECT_EQ(clash.line(), 4);
  EXPECT_EQ(clash.column(), 23);
  EXPECT_NE(clash.message().find("two fields would be renamed to 'x'"), std::string::npos) << clash.message();

  EXPECT_EQ(config_error(head + "    fields: {a: b, a: c}\n").column(), 20);  // duplicate old name
  EXPECT_EQ(config_error(head + "    fields: {}\n").line(), 4);
  EXPECT_EQ(config_error(head + "    fields: [a, b]\n").line(), 4);
  EXPECT_EQ(config_error(head + "    fields: {a: [b]}\n").column(), 17);
}

}  // namespace
}  // namespace sluice::pipeline
