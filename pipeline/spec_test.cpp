#include "pipeline/spec_test.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "config/node.h"
#include "pipeline/engine.h"
#include "pipeline/pipeline.h"

namespace sluice::pipeline {

namespace {

namespace fs = std::filesystem;

// A YAML scalar as a typed value: quoted scalars are strings; plain ones are inferred.
Value expected_value(const config::Node& node) {
  const YAML::Node& raw = node.raw();
  if (raw.IsNull()) return Value{};
  const std::string text = node.as_string();
  if (raw.Tag() == "!") return Value{text};
  if (text == "null" || text == "~") return Value{};
  return infer_value(text);
}

bool same_value(const Value& expected, const Value& actual) {
  const auto e = as_double(expected), a = as_double(actual);
  if (e && a && (type_of(expected) == ValueType::Double || type_of(actual) == ValueType::Double)) {
    return std::abs(*e - *a) <= 1e-9 * std::max({1.0, std::abs(*e), std::abs(*a)});
  }
  return type_of(expected) == type_of(actual) && compare_values(expected, actual) == 0;
}

std::string show_row(const std::vector<Value>& row) {
  std::string out = "[";
  for (size_t i = 0; i < row.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", to_display(row[i]));
  return out + "]";
}

std::string read_file(const fs::path& path, const config::Node& at) {
  std::ifstream in(path, std::ios::binary);
  if (!in) at.fail(fmt::format("cannot read '{}'", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

uint64_t counter_value(const Counters& c, const std::string& name, const config::Node& at) {
  if (name == "bytes_in") return c.bytes_in;
  if (name == "chunks_in") return c.chunks_in;
  if (name == "records_in") return c.records_in;
  if (name == "records_out") return c.records_out;
  if (name == "records_filtered") return c.records_filtered;
  if (name == "records_rejected") return c.records_rejected;
  if (name == "results_emitted") return c.results_emitted;
  at.fail(fmt::format("unknown counter '{}'", name));
}

// Compares one run with the expectations; returns the first difference, or empty.
std::string check(const config::Node& expect, const std::vector<ResultBatch>& results, const Summary& summary) {
  if (auto expected_results = expect.get("results")) {
    const auto batches = expected_results->items();
    if (batches.size() != results.size()) {
      return fmt::format("expected {} result batches, got {}", batches.size(), results.size());
    }
    for (size_t b = 0; b < batches.size(); ++b) {
      batches[b].expect_keys({"columns", "rows", "window"}, "an expected result");
      const ResultBatch& actual = results[b];
      if (auto columns = batches[b].get("columns"); columns && columns->as_string_list() != actual.columns) {
        return fmt::format("batch {}: expected columns {}, got {}", b + 1, fmt::join(columns->as_string_list(), ", "),
                           fmt::join(actual.columns, ", "));
      }
      if (auto window = batches[b].get("window")) {
        const auto bounds = window->items();
        if (bounds.size() != 2) window->fail("window is [start, end]");
        if (!actual.windowed || actual.window_start != bounds[0].as_int() || actual.window_end != bounds[1].as_int()) {
          return fmt::format("batch {}: expected window [{}, {}), got [{}, {})", b + 1, bounds[0].as_int(),
                             bounds[1].as_int(), actual.window_start, actual.window_end);
        }
      }
      if (auto rows = batches[b].get("rows")) {
        const auto expected_rows = rows->items();
        if (expected_rows.size() != actual.rows.size()) {
          return fmt::format("batch {}: expected {} rows, got {}", b + 1, expected_rows.size(), actual.rows.size());
        }
        for (size_t r = 0; r < expected_rows.size(); ++r) {
          std::vector<Value> expected_row;
          for (const auto& cell : expected_rows[r].items()) expected_row.push_back(expected_value(cell));
          const auto& actual_row = actual.rows[r];
          bool same = expected_row.size() == actual_row.size();
          for (size_t c = 0; same && c < expected_row.size(); ++c) same = same_value(expected_row[c], actual_row[c]);
          if (!same) {
            return fmt::format("batch {} row {}: expected {}, got {}", b + 1, r + 1, show_row(expected_row),
                               show_row(actual_row));
          }
        }
      }
    }
  }
  if (auto counters = expect.get("counters")) {
    for (const auto& [name, value] : counters->entries()) {
      const uint64_t actual = counter_value(summary.counters, name, value);
      if (actual != static_cast<uint64_t>(value.as_int())) {
        return fmt::format("counter {}: expected {}, got {}", name, value.as_int(), actual);
      }
    }
  }
  if (auto reasons = expect.get("rejected_by_reason")) {
    std::map<std::string, uint64_t> expected;
    for (const auto& [reason, n] : reasons->entries()) expected[reason] = static_cast<uint64_t>(n.as_int());
    if (expected != summary.counters.rejected_by_reason) {
      std::string got;
      for (const auto& [reason, n] : summary.counters.rejected_by_reason) got += fmt::format(" '{}': {}", reason, n);
      return fmt::format("rejections differ; got{}", got.empty() ? " none" : got);
    }
  }
  return {};
}

SpecTestResult run_one(const config::Node& test, const PipelineMap& pipelines, const fs::path& dir, size_t index) {
  test.expect_keys({"name", "pipeline", "input", "input_file", "chunk_sizes", "expect"}, "a test");
  SpecTestResult result;
  result.name = test.string_or("name", fmt::format("test {}", index + 1));
  const config::Node pipeline_name = test.require("pipeline", "a test");
  auto it = pipelines.find(pipeline_name.as_string());
  if (it == pipelines.end()) pipeline_name.fail(fmt::format("no pipeline '{}' in the config", pipeline_name.as_string()));

  std::string input;
  if (auto inline_input = test.get("input")) {
    input = inline_input->as_string();
  } else if (auto file = test.get("input_file")) {
    input = read_file(dir / file->as_string(), *file);
  } else {
    test.fail("a test needs `input` or `input_file`");
  }
  std::vector<size_t> chunk_sizes = {65536};
  if (auto sizes = test.get("chunk_sizes")) {
    chunk_sizes.clear();
    for (const auto& size : sizes->items()) {
      const int64_t n = size.as_int();
      if (n <= 0) size.fail("chunk sizes must be positive");
      chunk_sizes.push_back(static_cast<size_t>(n));
    }
  }
  const config::Node expect = test.require("expect", "a test");
  expect.expect_keys({"results", "counters", "rejected_by_reason", "error"}, "expect");
  const auto expected_error = expect.get("error");

  for (size_t chunk_size : chunk_sizes) {
    std::vector<ResultBatch> results;
    Summary summary;
    size_t pos = 0;
    std::string error;
    try {
      summary = run_stream(
          it->second, {},
          [&](std::string& chunk) {
            if (pos >= input.size()) return false;
            chunk = input.substr(pos, chunk_size);
            pos += chunk.size();
            return true;
          },
          [&](ResultBatch&& batch) { results.push_back(std::move(batch)); });
    } catch (const Error& e) {
      error = e.what();
    }
    std::string failure;
    if (expected_error) {
      if (error.empty()) failure = fmt::format("expected the stream to fail with '{}'", expected_error->as_string());
      else if (error.find(expected_error->as_string()) == std::string::npos) failure = "failed with: " + error;
    } else if (!error.empty()) {
      failure = "the stream failed: " + error;
    } else {
      failure = check(expect, results, summary);
    }
    if (!failure.empty()) {
      result.failure = fmt::format("chunk size {}: {}", chunk_size, failure);
      return result;
    }
  }
  result.passed = true;
  return result;
}

}  // namespace

std::vector<SpecTestResult> run_spec_file(const std::string& path, const StageRegistry& registry) {
  const config::Node spec = config::load_file(path);
  spec.expect_keys({"config", "tests"}, "a test spec");
  const fs::path dir = fs::path(path).parent_path();
  const config::Node config_path = spec.require("config", "a test spec");
  const config::Node config = config::load_file((dir / config_path.as_string()).string());
  const PipelineMap pipelines = build_pipelines(config.require("pipelines", "the config"), registry);

  std::vector<SpecTestResult> results;
  const auto tests = spec.require("tests", "a test spec").items();
  for (size_t i = 0; i < tests.size(); ++i) results.push_back(run_one(tests[i], pipelines, dir, i));
  return results;
}

}  // namespace sluice::pipeline
