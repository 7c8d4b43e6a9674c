#pragma once
// Helpers for the transform-stage tests: a run's records as one table, the same input cut into
// many chunk sizes, and the errors that a config or a stream must raise.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/pipeline_harness.h"

namespace sluice::testing {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;

  bool operator==(const Table&) const = default;
};

// The record batches of a run as one table; every batch must carry the same columns.
inline Table as_table(const std::vector<ResultBatch>& results) {
  Table table;
  for (const ResultBatch& batch : results) {
    if (table.columns.empty()) table.columns = batch.columns;
    EXPECT_EQ(batch.columns, table.columns);
    table.rows.insert(table.rows.end(), batch.rows.begin(), batch.rows.end());
  }
  return table;
}

// What the tests compare of a dead letter: line, offset, field and reason.
inline std::vector<std::string> describe_dead_letters(const pipeline::Summary& summary) {
  std::vector<std::string> out;
  for (const Rejection& r : summary.dead_letters) {
    out.push_back(std::to_string(r.origin.line) + ":" + std::to_string(r.origin.offset) + " " + r.field + ": " +
                  r.reason);
  }
  return out;
}

// Runs `input` in chunks of 1, 2, 3, 7, 64 and 4096 bytes. Every run must give the same table
// counters and dead letters as the first, which is returned.
inline RunResult run_every_chunk_size(const pipeline::PipelinePtr& pipeline, const std::string& input) {
  const RunResult first = run_chunked(pipeline, input, 1);
  const Table expected = as_table(first.results);
  for (size_t chunk_size : {2, 3, 7, 64, 4096}) {
    SCOPED_TRACE(chunk_size);
    const RunResult run = run_chunked(pipeline, input, chunk_size);
    EXPECT_EQ(as_table(run.results), expected);
    EXPECT_EQ(run.summary.counters.records_out, first.summary.counters.records_out);
    EXPECT_EQ(run.summary.counters.records_filtered, first.summary.counters.records_filtered);
    EXPECT_EQ(run.summary.counters.rejected_by_reason, first.summary.counters.rejected_by_reason);
    EXPECT_EQ(describe_dead_letters(run.summary), describe_dead_letters(first.summary));
  }
  return first;
}

// Building `yaml` must raise a ConfigError at line:column whose message contains `part`.
inline ::testing::AssertionResult config_fails_at(const std::string& yaml, int line, int column,
                                                  const std::string& part) {
  try {
    pipeline_from_yaml(yaml);
  } catch (const config::ConfigError& e) {
    if (e.line() == line && e.column() == column && e.message().find(part) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "got \"" << e.what() << "\", expected " << line << ":" << column
                                         << " with \"" << part << "\"";
  }
  return ::testing::AssertionFailure() << "no ConfigError for:\n" << yaml;
}

// Running `input` through `pipeline` must fail with InvalidArgument and exactly `message`.
inline ::testing::AssertionResult stream_fails_with(const pipeline::PipelinePtr& pipeline, const std::string& input,
                                                    const std::string& message) {
  try {
    run_chunked(pipeline, input, 64);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::InvalidArgument && e.what() == message) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << error_code_name(e.code()) << " \"" << e.what() << "\", expected \""
                                         << message << "\"";
  }
  return ::testing::AssertionFailure() << "the stream did not fail";
}

}  // namespace sluice::testing
