// Untrusted input through the real engine. Input layout: byte 0 picks the pipeline (the input
// format), byte 1 seeds the chunk sizes, the rest is the stream. The stream runs twice, once as a
// single chunk and once cut into small chunks; both runs must agree exactly (results, counters,
// dead letters, success or failure), every parsed record must be accounted for, and a failure
// must be a sluice::Error with a message.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "config/node.h"
#include "core/error.h"
#include "pipeline/engine.h"
#include "pipeline/pipeline.h"

namespace {

using namespace sluice;

// Small record limit so that the max_record_bytes path is reachable with small inputs;
// dead_letter so that every rejection (with its line and offset) is compared between the runs.
constexpr std::string_view kOptions = R"(
on_error: dead_letter
max_record_bytes: 200
parallelism: 2
)";

struct FuzzPipeline {
  std::string_view yaml;
  bool ordered;  // records come out in input order; an aggregate's groups are compared as a set
};

const FuzzPipeline kPipelines[] = {
    {R"(
stages:
  - type: csv
    infer_types: true
)",
     true},
    {R"(
stages:
  - type: csv
    header: false
    delimiter: ';'
    columns: [name, n, x, flag]
    types: {n: int, x: double, flag: bool}
  - type: filter
    where: n > 0 or flag
  - type: group_by
    keys: [name]
    aggregates:
      - {fn: count, as: count}
      - {fn: sum, field: n, as: total}
      - {fn: max, field: x, as: max_x}
)",
     false},
    {R"(
stages:
  - type: jsonl
    fields: [a, b, c.d]
    types: {b: int}
)",
     true},
    {R"(
stages:
  - type: jsonl
)",
     true},
    {R"(
stages:
  - type: lines
    field: line
    skip_empty: true
  - type: filter
    where: not (line contains 'x')
)",
     true},
};
constexpr size_t kPipelineCount = sizeof(kPipelines) / sizeof(kPipelines[0]);

const std::vector<pipeline::PipelinePtr>& pipelines() {
  static const std::vector<pipeline::PipelinePtr> built = [] {
    const auto registry = pipeline::StageRegistry::with_builtins();
    std::vector<pipeline::PipelinePtr> out;
    for (const FuzzPipeline& p : kPipelines) {
      out.push_back(pipeline::build_pipeline("fuzz", config::load_string(std::string(kOptions) + std::string(p.yaml)),
                                             registry));
    }
    return out;
  }();
  return built;
}

// No backpressure: the whole input is queued at once, so that a run costs one wait rather than
// one hand-off between threads per tiny chunk (the budget itself is the engine tests' concern).
// Small chunks then run on the pushing thread (see Stream::push); kThroughTheGraph sends every
// chunk through the graph's nodes instead, and both must give the same outcome.
constexpr pipeline::StreamLimits kUnbounded{SIZE_MAX, SIZE_MAX, SIZE_MAX};
constexpr pipeline::StreamLimits kThroughTheGraph{SIZE_MAX, SIZE_MAX, SIZE_MAX, 0};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_parse: %s\n", what.c_str());
  std::abort();
}

// Everything a run produced, rendered so that two runs compare as strings (NaN included).
struct Outcome {
  bool failed = false;
  std::string error;
  std::vector<std::string> rows;
  std::string counters;
  std::string dead_letters;
};

std::string render(const std::vector<std::string>& columns, const std::vector<Value>& row) {
  std::string out;
  for (size_t i = 0; i < row.size(); ++i) {
    out += fmt::format("{}={}:{} ", i < columns.size() ? columns[i] : "?", row[i].index(), to_display(row[i]));
  }
  return out;
}

void check_accounting(const pipeline::Counters& c, uint64_t input_bytes) {
  if (c.records_in != c.records_out + c.records_filtered + c.records_rejected) {
    fail(fmt::format("records_in {} != out {} + filtered {} + rejected {}", c.records_in, c.records_out,
                     c.records_filtered, c.records_rejected));
  }
  uint64_t by_reason = 0;
  for (const auto& [reason, count] : c.rejected_by_reason) by_reason += count;
  if (by_reason != c.records_rejected) {
    fail(fmt::format("rejected_by_reason sums to {}, records_rejected is {}", by_reason, c.records_rejected));
  }
  if (c.bytes_in != input_bytes) fail(fmt::format("bytes_in {} for {} input bytes", c.bytes_in, input_bytes));
}

// Runs `input` cut at the sizes that `next_size` returns.
template <typename NextSize>
Outcome run(const pipeline::PipelinePtr& pipeline, const pipeline::StreamLimits& limits, bool ordered,
            std::string_view input, NextSize next_size) {
  Outcome outcome;
  size_t pos = 0;
  try {
    const pipeline::Summary summary = pipeline::run_stream(
        pipeline, limits,
        [&](std::string& chunk) {
          if (pos >= input.size()) return false;
          chunk.assign(input.substr(pos, next_size()));
          pos += chunk.size();
          return true;
        },
        [&](ResultBatch&& batch) {
          for (const auto& row : batch.rows) outcome.rows.push_back(render(batch.columns, row));
        });
    const pipeline::Counters& c = summary.counters;
    check_accounting(c, input.size());
    outcome.counters = fmt::format("in {} out {} filtered {} rejected {}", c.records_in, c.records_out,
                                   c.records_filtered, c.records_rejected);
    for (const auto& [reason, count] : c.rejected_by_reason) outcome.counters += fmt::format(" [{}: {}]", reason, count);
    for (const Rejection& r : summary.dead_letters) {
      outcome.dead_letters += fmt::format("line {} offset {} field '{}': {} | {}\n", r.origin.line, r.origin.offset,
                                          r.field, r.reason, r.record);
    }
  } catch (const Error& e) {
    if (std::string_view(e.what()).empty()) fail("a failed stream threw an Error without a message");
    outcome.failed = true;
    outcome.error = e.what();
  }
  if (!ordered) std::sort(outcome.rows.begin(), outcome.rows.end());
  return outcome;
}

void expect_same(const Outcome& whole, const Outcome& chunked, std::string_view how) {
  if (whole.failed != chunked.failed) {
    fail(fmt::format("one chunk {}, small chunks {} {}", whole.failed ? "failed: " + whole.error : "succeeded", how,
                     chunked.failed ? "failed: " + chunked.error : "succeeded"));
  }
  if (whole.failed) return;  // with several errors, which one wins depends on the chunking
  if (whole.counters != chunked.counters) {
    fail(fmt::format("counters {}\n  {}\nvs\n  {}", how, whole.counters, chunked.counters));
  }
  if (whole.dead_letters != chunked.dead_letters) {
    fail(fmt::format("dead letters {}\n{}vs\n{}", how, whole.dead_letters, chunked.dead_letters));
  }
  if (whole.rows != chunked.rows) {
    std::string diff;
    for (size_t i = 0; i < std::max(whole.rows.size(), chunked.rows.size()); ++i) {
      const std::string a = i < whole.rows.size() ? whole.rows[i] : "(none)";
      const std::string b = i < chunked.rows.size() ? chunked.rows[i] : "(none)";
      if (a != b) diff += fmt::format("  row {}: {}\n     vs: {}\n", i, a, b);
    }
    fail(fmt::format("results differ between one chunk and small chunks {}:\n{}", how, diff));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const FuzzPipeline& choice = kPipelines[data[0] % kPipelineCount];
  const pipeline::PipelinePtr& pipeline = pipelines()[data[0] % kPipelineCount];
  const uint32_t chunk_seed = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Outcome whole = run(pipeline, kThroughTheGraph, choice.ordered, input, [&] { return input.size(); });
  // Chunks of 1 to 16 bytes from a small LCG, so that every boundary position gets exercised.
  const auto small_chunks = [seed = chunk_seed]() mutable {
    seed = seed * 1103515245u + 12345u;
    return size_t{1} + (seed >> 16) % 16;
  };
  expect_same(whole, run(pipeline, kThroughTheGraph, choice.ordered, input, small_chunks), "through the graph");
  expect_same(whole, run(pipeline, kUnbounded, choice.ordered, input, small_chunks), "on the pushing thread");
  return 0;
}
