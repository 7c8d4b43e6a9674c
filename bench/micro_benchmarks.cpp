// Microbenchmarks of the hot stages of the reference pipeline, on the sample access log
// (samples/access_log.csv, 2451 records): CSV parsing (the csv stage's Parser on one block), JSON
// Lines parsing (the same records as JSON objects, through the jsonl stage with the same types),
// filter evaluation (`status >= 400` over a parsed batch), group-by consume (the filtered batch
// into the per-(country, status) aggregates), and framing (RecordFramer::push over 64 KiB chunks).
// Built as `micro_benchmarks` with SLUICE_BUILD_BENCHMARKS; not run by ctest.
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "config/node.h"
#include "core/framing.h"
#include "pipeline/pipeline.h"
#include "pipeline/registry.h"

namespace {

using namespace sluice;

struct Fixture {
  pipeline::PipelinePtr pipeline;
  std::string text;                   // the whole sample, header included
  Block block;                        // the records after the header
  std::unique_ptr<pipeline::Parser> parser;
  RecordBatch parsed;                 // the block, parsed
  RecordBatch filtered;               // ... and filtered
  pipeline::PipelinePtr jsonl_pipeline;  // just a jsonl stage with the reference pipeline's types
  Block jsonl_block;                     // the parsed records again, one JSON object a line
  std::unique_ptr<pipeline::Parser> jsonl_parser;

  Fixture() {
    // The reference pipeline, as the benchmark suite's gateway serves it.
    const config::Node root = config::load_file(SLUICE_SOURCE_DIR "/config/examples/bench.yaml");
    pipeline = pipeline::build_pipelines(root.require("pipelines", "bench.yaml"), pipeline::StageRegistry::with_builtins())
                   .at("reference");
    std::ifstream in(SLUICE_SOURCE_DIR "/samples/access_log.csv", std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (text.empty()) throw std::runtime_error("cannot read samples/access_log.csv");
    block.buffer = text;
    block.end = text.size();
    parser = pipeline->parse->start_stream();
    parser->prepare(block);  // takes the header row
    parser->parse(block, parsed);
    filtered = parsed;
    pipeline->transforms.at(0)->apply(filtered);

    jsonl_block.buffer = to_jsonl(parsed);
    jsonl_block.end = jsonl_block.buffer.size();
    const config::Node jsonl_root = config::load_string(
        "pipelines:\n  jsonl:\n    stages:\n      - type: jsonl\n"
        "        types: {timestamp: int, user_id: int, status: int, latency_ms: double, bytes: int}\n");
    jsonl_pipeline = pipeline::build_pipelines(jsonl_root.require("pipelines", "jsonl"),
                                               pipeline::StageRegistry::with_builtins())
                         .at("jsonl");
    jsonl_parser = jsonl_pipeline->parse->start_stream();
    jsonl_parser->prepare(jsonl_block);
  }

  // One JSON object a row, keyed by column name, the values as they were parsed (nulls left out).
  static std::string to_jsonl(const RecordBatch& batch) {
    std::string out;
    for (size_t r = 0; r < batch.rows(); ++r) {
      nlohmann::ordered_json object = nlohmann::ordered_json::object();
      for (size_t c = 0; c < batch.width(); ++c) {
        const Value& v = batch.row(r)[c];
        const std::string& name = batch.schema->names()[c];
        if (const auto* i = std::get_if<int64_t>(&v)) object[name] = *i;
        if (const auto* d = std::get_if<double>(&v)) object[name] = *d;
        if (const auto* text = std::get_if<std::string>(&v)) object[name] = *text;
      }
      out += object.dump() + "\n";
    }
    return out;
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

// Parses `block` with `parser` each iteration; every one of its `records` must come back as a row.
void parse_block(benchmark::State& state, const pipeline::Parser& parser, const Block& block, size_t records) {
  size_t rows = 0;
  for (auto _ : state) {
    RecordBatch batch;
    parser.parse(block, batch);
    rows = batch.rows();
    benchmark::DoNotOptimize(batch.cells.data());
  }
  if (rows != records) state.SkipWithError("the block did not give back every record");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
}

void BM_CsvParse(benchmark::State& state) {
  const Fixture& f = fixture();
  parse_block(state, *f.parser, f.block, f.parsed.rows());
}
BENCHMARK(BM_CsvParse);

void BM_JsonlParse(benchmark::State& state) {
  const Fixture& f = fixture();
  parse_block(state, *f.jsonl_parser, f.jsonl_block, f.parsed.rows());
}
BENCHMARK(BM_JsonlParse);

void BM_Filter(benchmark::State& state) {
  const Fixture& f = fixture();
  const auto& filter = *f.pipeline->transforms.at(0);
  for (auto _ : state) {
    state.PauseTiming();
    RecordBatch batch = f.parsed;  // apply() drops rows in place
    state.ResumeTiming();
    filter.apply(batch);
    benchmark::DoNotOptimize(batch.cells.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.parsed.rows()));
}
BENCHMARK(BM_Filter);

void BM_GroupByConsume(benchmark::State& state) {
  const Fixture& f = fixture();
  auto aggregator = f.pipeline->aggregate->start_stream();
  RecordBatch batch = f.filtered;  // consume() only drops rows it rejects, and there are none
  const pipeline::Emit emit = [](ResultBatch&&) {};
  for (auto _ : state) aggregator->consume(batch, emit);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.filtered.rows()));
}
BENCHMARK(BM_GroupByConsume);

void BM_Framing(benchmark::State& state) {
  const Fixture& f = fixture();
  const size_t chunk_bytes = 64 * 1024;
  std::string stream;
  while (stream.size() < (4u << 20)) stream += f.text;  // 4 MiB of records, cut into 64 KiB chunks
  std::vector<std::string> chunks;
  for (size_t at = 0; at + chunk_bytes <= stream.size(); at += chunk_bytes) chunks.push_back(stream.substr(at, chunk_bytes));
  RecordFramer framer(f.pipeline->parse->framing(), f.pipeline->options.max_record_bytes);
  std::vector<Block> blocks;
  size_t next = 0;
  for (auto _ : state) {
    blocks.clear();
    framer.push(chunks[next], blocks);  // includes copying the chunk in, as push takes it by value
    next = (next + 1) % chunks.size();
    benchmark::DoNotOptimize(blocks.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk_bytes));
}
BENCHMARK(BM_Framing);

}  // namespace

BENCHMARK_MAIN();
