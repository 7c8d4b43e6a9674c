#pragma once
// Test helpers: build pipelines from inline YAML and run inputs through them in chunks.
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "config/node.h"
#include "pipeline/engine.h"
#include "pipeline/expr/expression.h"
#include "pipeline/pipeline.h"
#include "pipeline/stages/filter.h"

namespace sluice::testing {

inline pipeline::PipelinePtr pipeline_from_yaml(const std::string& yaml,
                                               const pipeline::StageRegistry& registry =
                                                   pipeline::StageRegistry::with_builtins()) {
  return pipeline::build_pipeline("test", config::load_string(yaml, "test.yaml"), registry);
}

// The ConfigError that building a pipeline from `yaml` throws; a test failure if it throws none.
inline config::ConfigError config_error(const std::string& yaml) {
  try {
    pipeline_from_yaml(yaml);
  } catch (const config::ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
  return config::ConfigError("", 0, 0, "");
}

// The columns of a run's first batch, and the rows of all its batches.
inline std::vector<std::string> columns_of(const std::vector<ResultBatch>& results) {
  return results.empty() ? std::vector<std::string>{} : results.front().columns;
}

inline std::vector<std::vector<Value>> all_rows(const std::vector<ResultBatch>& results) {
  std::vector<std::vector<Value>> rows;
  for (const auto& r : results) rows.insert(rows.end(), r.rows.begin(), r.rows.end());
  return rows;
}

struct RunResult {
  std::vector<ResultBatch> results;
  pipeline::Summary summary;
  size_t results_on_calling_thread = 0;  // results handed over on run_chunked's own thread
};

inline RunResult run_chunked(const pipeline::PipelinePtr& pipeline, const std::string& input, size_t chunk_size,
                             pipeline::StreamLimits limits = {}) {
  RunResult out;
  size_t pos = 0;
  const std::thread::id calling_thread = std::this_thread::get_id();
  out.summary = pipeline::run_stream(
      pipeline, limits,
      [&](std::string& chunk) {
        if (pos >= input.size()) return false;
        chunk = input.substr(pos, chunk_size);
        pos += chunk.size();
        return true;
      },
      [&](ResultBatch&& batch) {
        if (std::this_thread::get_id() == calling_thread) ++out.results_on_calling_thread;
        out.results.push_back(std::move(batch));
      });
  return out;
}

struct Parsed {
  RecordBatch batch;
  size_t records = 0;  // what parse() says it read
};

// A stream's parser, told which fields are read downstream and, when there is one, the predicate
// that its rows must meet.
inline std::unique_ptr<pipeline::Parser> start_parser(const pipeline::PipelinePtr& pipeline,
                                                      const std::vector<std::string>& read,
                                                      const std::optional<std::string>& predicate) {
  auto parser = pipeline->parse->start_stream();
  parser->read_only(read);
  if (predicate) {
    EXPECT_TRUE(parser->keep_only(expr::Expression::parse(*predicate)));
  }
  return parser;
}

// Parses `text` as the stream's next block (the first holding the header).
inline Parsed parse_block(pipeline::Parser& parser, std::string text) {
  Block block;
  block.buffer = std::move(text);
  block.end = block.buffer.size();
  parser.prepare(block);
  Parsed parsed;
  parsed.records = parser.parse(block, parsed.batch);
  return parsed;
}

// Parses `text` as one block (a CSV header included) through a parser of its own (start_parser).
inline Parsed parse_keeping(const pipeline::PipelinePtr& pipeline, const std::vector<std::string>& read,
                            const std::optional<std::string>& predicate, std::string text) {
  return parse_block(*start_parser(pipeline, read, predicate), std::move(text));
}

// What parsing `text` without a predicate and then filtering with it gives: what a parser's
// keep_only must give by itself.
inline RecordBatch parsed_then_filtered(const pipeline::PipelinePtr& pipeline, const std::vector<std::string>& read,
                                        const std::string& predicate, std::string text) {
  RecordBatch batch = parse_keeping(pipeline, read, std::nullopt, std::move(text)).batch;
  pipeline::FilterStage(pipeline::FilterConfig{predicate}).apply(batch);
  return batch;
}

// The same rows (cells and origins) and the same rejections (reason, field, record text).
inline void expect_same_rows_and_rejections(const RecordBatch& batch, const RecordBatch& expected) {
  EXPECT_EQ(batch.cells, expected.cells);
  ASSERT_EQ(batch.rows(), expected.rows());
  for (size_t r = 0; r < batch.rows(); ++r) EXPECT_EQ(batch.origins[r].offset, expected.origins[r].offset);
  ASSERT_EQ(batch.rejections.size(), expected.rejections.size());
  for (size_t i = 0; i < batch.rejections.size(); ++i) {
    EXPECT_EQ(batch.rejections[i].reason, expected.rejections[i].reason);
    EXPECT_EQ(batch.rejections[i].field, expected.rejections[i].field);
    EXPECT_EQ(batch.rejections[i].record, expected.rejections[i].record);
  }
}

}  // namespace sluice::testing
