#include "pipeline/stages/lines_parse.h"

#include <gtest/gtest.h>

#include "support/pipeline_harness.h"

namespace sluice::pipeline {
namespace {

using sluice::testing::pipeline_from_yaml;
using sluice::testing::run_chunked;

PipelinePtr lines_pipeline(const std::string& options = "") {
  return pipeline_from_yaml("stages:\n  - type: lines\n" + options);
}

// The one column of every result row, in order.
std::vector<std::string> lines_of(const std::vector<ResultBatch>& results) {
  std::vector<std::string> lines;
  for (const auto& batch : results) {
    EXPECT_EQ(batch.columns.size(), 1u);
    for (const auto& row : batch.rows) lines.push_back(std::get<std::string>(row.at(0)));
  }
  return lines;
}

// The origins the parser gives each record, read through the stage's own framing.
std::vector<Origin> origins_of(const LinesConfig& config, const std::string& input) {
  const LinesParseStage stage(config);
  RecordFramer framer(stage.framing(), 1 << 20);
  std::vector<Block> blocks;
  framer.push(input, blocks);
  if (auto last = framer.finish()) blocks.push_back(std::move(*last));
  auto parser = stage.start_stream();
  std::vector<Origin> origins;
  for (Block& block : blocks) {
    parser->prepare(block);
    RecordBatch batch;
    parser->parse(block, batch);
    origins.insert(origins.end(), batch.origins.begin(), batch.origins.end());
  }
  return origins;
}

TEST(LinesParse, EveryChunkSizeGivesTheSameLines) {
  const std::string input = "\xEF\xBB\xBF" "first\r\nsecond\n\nthird has \"quotes\", commas\r\n\r\nlast without newline";
  const std::vector<std::string> expected = {"first", "second", "third has \"quotes\", commas", "last without newline"};
  const auto pipeline = lines_pipeline();
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, size_t{4096}, input.size()}) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, input, chunk);
    EXPECT_EQ(lines_of(run.results), expected);
    EXPECT_EQ(run.summary.counters.records_in, expected.size());
  }
}

TEST(LinesParse, MultiByteCharactersSplitAcrossChunksAreReassembledExactly) {
  // é is 2 bytes, € 3 and 𝄞 4, so some chunk size cuts inside each of them.
  const std::string input = "caf\xC3\xA9\n\xE2\x82\xAC" "42\n\xF0\x9D\x84\x9E clef\n\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E";
  const std::vector<std::string> expected = {"caf\xC3\xA9", "\xE2\x82\xAC" "42", "\xF0\x9D\x84\x9E clef",
                                             "\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E"};
  const auto pipeline = lines_pipeline();
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    SCOPED_TRACE(chunk);
    EXPECT_EQ(lines_of(run_chunked(pipeline, input, chunk).results), expected);
  }
}

TEST(LinesParse, KeepsEmptyLinesWhenAskedAndNamesTheField) {
  const auto run = run_chunked(lines_pipeline("    field: message\n    skip_empty: false\n"), "a\n\r\n\nb\n", 2);
  ASSERT_FALSE(run.results.empty());
  EXPECT_EQ(run.results[0].columns, (std::vector<std::string>{"message"}));
  EXPECT_EQ(lines_of(run.results), (std::vector<std::string>{"a", "", "", "b"}));
}

TEST(LinesParse, ByteOrderMarkIsOnlyDroppedAtTheStartOfTheStream) {
  const std::string bom = "\xEF\xBB\xBF";
  const auto run = run_chunked(lines_pipeline(), bom + "a\n" + bom + "b\n", 1);
  EXPECT_EQ(lines_of(run.results), (std::vector<std::string>{"a", bom + "b"}));
}

TEST(LinesParse, OriginsNameEachLinesOffsetAndNumber) {
  // Offsets count the byte order mark and the line endings; skipped empty lines keep their numbers.
  const auto origins = origins_of(LinesConfig{}, "\xEF\xBB\xBF" "ab\r\n\ncd\nef");
  ASSERT_EQ(origins.size(), 3u);
  EXPECT_EQ(origins[0].offset, 3u);
  EXPECT_EQ(origins[0].line, 1u);
  EXPECT_EQ(origins[1].offset, 8u);
  EXPECT_EQ(origins[1].line, 3u);
  EXPECT_EQ(origins[2].offset, 11u);
  EXPECT_EQ(origins[2].line, 4u);
}

TEST(LinesParse, WorksWithAFilterDownstream) {
  const auto pipeline = pipeline_from_yaml(
      "stages:\n  - type: lines\n  - type: filter\n    where: line contains 'ERROR'\n");
  const auto run = run_chunked(pipeline, "INFO up\nERROR disk full\nINFO ok\nERROR again\n", 5);
  EXPECT_EQ(lines_of(run.results), (std::vector<std::string>{"ERROR disk full", "ERROR again"}));
  EXPECT_EQ(run.summary.counters.records_filtered, 2u);
}

TEST(LinesParse, ConfigErrorsNameLineAndColumn) {
  const auto unknown = sluice::testing::config_error("stages:\n  - type: lines\n    skip_blank: true\n");
  EXPECT_EQ(unknown.line(), 3);
  EXPECT_EQ(unknown.column(), 5);
  EXPECT_NE(unknown.message().find("unknown key 'skip_blank'"), std::string::npos) << unknown.message();
  EXPECT_THROW(lines_pipeline("    field: \"\"\n"), config::ConfigError);
  EXPECT_THROW(lines_pipeline("    skip_empty: maybe\n"), config::ConfigError);
}

}  // namespace
}  // namespace sluice::pipeline
