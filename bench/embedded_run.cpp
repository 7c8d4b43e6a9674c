// embedded_run: runs a configured pipeline over a file through the library (pipeline::run_stream
// fed by FileChunkReader), with no gRPC: the embedded figure of the benchmark suite. Prints the
// same JSON as `sluice-client --json` (pipeline, results, counters), so outputs can be compared.
// The stream limits are the config's server.stream_limits, as the gateway would use them.
// Usage: embedded_run --config config/examples/bench.yaml --pipeline reference [--chunk-size 131072] FILE
#include <iostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/node.h"
#include "core/chunk_source.h"
#include "core/error.h"
#include "core/process_memory.h"
#include "pipeline/engine.h"
#include "pipeline/pipeline.h"
#include "pipeline/registry.h"

namespace {

using namespace sluice;
using json = nlohmann::ordered_json;

pipeline::StreamLimits stream_limits(const config::Node& root) {
  const auto server = root.get("server");
  const auto node = server ? server->get("stream_limits") : std::nullopt;
  return node ? pipeline::StreamLimits::from_yaml(*node) : pipeline::StreamLimits{};
}

json to_json(const Value& v) {
  switch (type_of(v)) {
    case ValueType::Null: return nullptr;
    case ValueType::Bool: return std::get<bool>(v);
    case ValueType::Int: return std::get<int64_t>(v);
    case ValueType::Double: return std::get<double>(v);
    case ValueType::String: return std::get<std::string>(v);
  }
  return nullptr;
}

int usage() {
  std::cerr << "usage: embedded_run --config FILE --pipeline NAME [--chunk-size BYTES] INPUT\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_for_reuse();  // as sluice-gateway and `sluice run` do
  std::string config_path, pipeline_name, input;
  size_t chunk_size = kDefaultChunkBytes;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (arg == "--pipeline" && i + 1 < argc) pipeline_name = argv[++i];
    else if (arg == "--chunk-size" && i + 1 < argc) chunk_size = std::stoul(argv[++i]);
    else if (!arg.starts_with("--") && input.empty()) input = argv[i];
    else return usage();
  }
  if (config_path.empty() || pipeline_name.empty() || input.empty()) return usage();

  try {
    const config::Node root = config::load_file(config_path);
    const pipeline::PipelineMap pipelines =
        pipeline::build_pipelines(root.require("pipelines", "the config"), pipeline::StageRegistry::with_builtins());
    const auto it = pipelines.find(pipeline_name);
    if (it == pipelines.end()) throw Error(ErrorCode::NotFound, "unknown pipeline '" + pipeline_name + "'");

    FileChunkReader reader(input, chunk_size);
    json results = json::array();
    const pipeline::Summary summary = pipeline::run_stream(
        it->second, stream_limits(root), [&](std::string& chunk) { return reader.next(chunk); },
        [&](ResultBatch&& batch) {
          json rows = json::array();
          for (const auto& row : batch.rows) {
            json values = json::array();
            for (const Value& v : row) values.push_back(to_json(v));
            rows.push_back(std::move(values));
          }
          results.push_back({{"columns", batch.columns}, {"rows", std::move(rows)}});
        });
    const pipeline::Counters& c = summary.counters;
    json out;
    out["pipeline"] = pipeline_name;
    out["results"] = std::move(results);
    out["counters"] = {{"bytes_in", c.bytes_in},
                       {"chunks_in", c.chunks_in},
                       {"records_in", c.records_in},
                       {"records_out", c.records_out},
                       {"records_filtered", c.records_filtered},
                       {"records_rejected", c.records_rejected},
                       {"results_emitted", c.results_emitted}};
    std::cout << out.dump(2) << "\n";
  } catch (const Error& e) {
    std::cerr << "embedded_run: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
