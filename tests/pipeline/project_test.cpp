#include "pipeline/stages/project.h"

#include <gtest/gtest.h>

#include "support/access_log.h"
#include "support/transform_harness.h"

namespace sluice::pipeline {
namespace {

using namespace sluice::testing;

TEST(Project, KeepsTheListedFieldsInTheListedOrderForEveryChunkSize) {
  const auto records = make_access_records(300, 7);
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {status: int, bytes: int}
  - type: project
    fields: [agent, country, bytes]
)");
  Table expected{{"agent", "country", "bytes"}, {}};
  for (const auto& r : records) expected.rows.push_back({r.agent, r.country, r.bytes});

  const RunResult run = run_every_chunk_size(pipeline, to_csv(records));
  EXPECT_EQ(as_table(run.results), expected);
  EXPECT_EQ(run.summary.counters.records_out, records.size());
}

TEST(Project, ParserRejectionsKeepTheirOriginThroughTheProjection) {
  const auto pipeline = pipeline_from_yaml(R"(
on_error: dead_letter
stages:
  - type: csv
    types: {n: int}
  - type: project
    fields: [n]
)");
  const std::string input = "s,n\na,1\nb,x\nc,3\n";
  const RunResult run = run_every_chunk_size(pipeline, input);
  EXPECT_EQ(as_table(run.results), (Table{{"n"}, {{int64_t{1}}, {int64_t{3}}}}));
  EXPECT_EQ(run.summary.counters.records_rejected, 1u);
  ASSERT_EQ(run.summary.dead_letters.size(), 1u);
  EXPECT_EQ(run.summary.dead_letters[0].origin.line, 3u);
  EXPECT_EQ(run.summary.dead_letters[0].origin.offset, input.find("b,x"));
  EXPECT_EQ(run.summary.dead_letters[0].field, "n");
}

TEST(Project, UnknownFieldFailsTheStreamNamingItAndTheInputFields) {
  const auto pipeline = pipeline_from_yaml("stages:\n  - type: csv\n  - type: project\n    fields: [a, nope]\n");
  EXPECT_TRUE(stream_fails_with(pipeline, "a,b\n1,2\n",
                                "project field 'nope' is not a field of the input (fields: a, b)"));
}

TEST(Project, ConfigErrorsPointAtTheOffendingKeyOrItem) {
  const std::string head = "stages:\n  - type: csv\n  - type: project\n";
  EXPECT_TRUE(config_fails_at(head + "    fields: [a]\n    field: [b]\n", 5, 5, "unknown key 'field'"));
  EXPECT_TRUE(config_fails_at(head + "    fields: [a, b, a]\n", 4, 20, "field 'a' is listed twice"));
  EXPECT_TRUE(config_fails_at(head + "    fields: []\n", 4, 13, "expected at least one field name"));
  EXPECT_TRUE(config_fails_at(head + "    fields: a\n", 4, 13, "expected a list"));
  EXPECT_TRUE(config_fails_at(head, 3, 5, "needs the key 'fields'"));
}

}  // namespace
}  // namespace sluice::pipeline
