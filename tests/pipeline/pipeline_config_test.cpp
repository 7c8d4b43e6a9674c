#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

#include "support/pipeline_harness.h"

namespace sluice::pipeline {
namespace {

using testing::config_error;

TEST(PipelineConfig, UnknownStageTypeNamesLineColumnAndKnownTypes) {
  const auto e = config_error("stages:\n  - type: csv\n  - type: filtr\n    where: a\n");
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.column(), 11);
  EXPECT_NE(e.message().find("unknown stage type 'filtr'"), std::string::npos);
  EXPECT_NE(e.message().find("filter"), std::string::npos);
}

TEST(PipelineConfig, UnknownStageOptionIsRejected) {
  const auto e = config_error("stages:\n  - type: csv\n    headers: true\n");
  EXPECT_EQ(e.line(), 3);
  EXPECT_NE(e.message().find("unknown key 'headers'"), std::string::npos) << e.message();
}

TEST(PipelineConfig, StageOrderIsChecked) {
  EXPECT_NE(config_error("stages:\n  - type: filter\n    where: a\n").message().find("first stage"), std::string::npos);
  EXPECT_NE(config_error("stages:\n  - type: csv\n  - type: group_by\n    aggregates: [{fn: count}]\n"
                         "  - type: filter\n    where: a\n")
                .message()
                .find("last stage"),
            std::string::npos);
  EXPECT_NE(config_error("stages:\n  - type: csv\n  - type: csv\n").message().find("only be the first"),
            std::string::npos);
}

TEST(PipelineConfig, BadFilterExpressionPointsIntoTheExpression) {
  const auto e = config_error("stages:\n  - type: csv\n  - type: filter\n    where: status >= \n");
  EXPECT_EQ(e.line(), 4);
  EXPECT_GE(e.column(), 12);
}

TEST(PipelineConfig, PolicyAndOptionsAreParsed) {
  const auto p = testing::pipeline_from_yaml(
      "description: d\non_error: dead_letter\nmax_record_bytes: 4KiB\nstages:\n  - type: csv\n");
  EXPECT_EQ(p->options.on_error, ErrorPolicy::DeadLetter);
  EXPECT_EQ(p->options.max_record_bytes, 4096u);
  EXPECT_EQ(p->format(), "csv");
  EXPECT_EQ(config_error("on_error: ignore\nstages:\n  - type: csv\n").line(), 1);
}

TEST(PipelineConfig, CountsThatMayBeZeroMustNotBeNegative) {
  const auto p = testing::pipeline_from_yaml("parallelism: 0\nmax_dead_letters: 0\nstages:\n  - type: csv\n");
  EXPECT_EQ(p->options.parallelism, 0u);
  EXPECT_EQ(p->options.max_dead_letters, 0u);
  for (const std::string key : {"parallelism", "max_dead_letters"}) {
    const auto e = config_error(key + ": -1\nstages:\n  - type: csv\n");
    EXPECT_EQ(e.line(), 1) << key;
    EXPECT_NE(e.message().find(key + " must not be negative"), std::string::npos) << e.message();
  }
}

TEST(PipelineConfig, FieldsReadAreKnownOnlyWhenEveryStageAfterTheParserNamesThem) {
  const std::string csv = "stages:\n  - type: csv\n";
  const std::string filter = "  - {type: filter, where: \"status >= 400 and method = 'GET'\"}\n";
  const std::string group_by =
      "  - {type: group_by, keys: [country], aggregates: [{fn: count}, {fn: sum, field: bytes}]}\n";
  EXPECT_EQ(testing::pipeline_from_yaml(csv + filter + group_by)->fields_read,
            (std::vector<std::string>{"country", "bytes", "status", "method"}));
  EXPECT_FALSE(testing::pipeline_from_yaml(csv + filter)->fields_read);  // records are the result
  EXPECT_FALSE(testing::pipeline_from_yaml(csv + "  - {type: rename, fields: {status: code}}\n" + group_by)
                   ->fields_read);
}

}  // namespace
}  // namespace sluice::pipeline
