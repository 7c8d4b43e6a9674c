// sluice: the pipeline engine on the command line, without a server.
//   sluice test SPEC.yaml...            config-level tests (see pipeline/spec_test.h)
//   sluice run --config C --pipeline P FILE   runs a file through a pipeline and prints JSON lines
//   sluice lint CONFIG...               checks the pipelines of config files; errors as file:line:column
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "config/node.h"
#include "core/chunk_source.h"
#include "core/process_memory.h"
#include "pipeline/engine.h"
#include "pipeline/spec_test.h"

namespace {

using namespace sluice;

int run_tests(const std::vector<std::string>& files) {
  const auto registry = pipeline::StageRegistry::with_builtins();
  int passed = 0, failed = 0;
  for (const std::string& file : files) {
    for (const auto& result : pipeline::run_spec_file(file, registry)) {
      if (result.passed) {
        ++passed;
        std::cout << "PASS " << file << ": " << result.name << "\n";
      } else {
        ++failed;
        std::cout << "FAIL " << file << ": " << result.name << "\n  " << result.failure << "\n";
      }
    }
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 && passed > 0 ? 0 : 1;
}

std::string json_value(const Value& v) {
  switch (type_of(v)) {
    case ValueType::Null: return "null";
    case ValueType::String: {
      std::string out = "\"";
      for (char c : std::get<std::string>(v)) {
        if (c == '"' || c == '\\') out += '\\', out += c;
        else if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += c;
      }
      return out + "\"";
    }
    default: return to_display(v);
  }
}

int run_file(const std::string& config_path, const std::string& pipeline_name, const std::string& file,
             size_t chunk_size) {
  const auto registry = pipeline::StageRegistry::with_builtins();
  const config::Node config = config::load_file(config_path);
  const auto pipelines = pipeline::build_pipelines(config.require("pipelines", "the config"), registry);
  auto it = pipelines.find(pipeline_name);
  if (it == pipelines.end()) throw Error(ErrorCode::NotFound, fmt::format("no pipeline '{}'", pipeline_name));
  FileChunkReader reader(file, chunk_size);
  const pipeline::Summary summary = pipeline::run_stream(
      it->second, {}, [&](std::string& chunk) { return reader.next(chunk); },
      [](ResultBatch&& batch) {
        for (const auto& row : batch.rows) {
          std::string line = "{";
          for (size_t c = 0; c < row.size(); ++c) {
            line += fmt::format("{}{}:{}", c ? "," : "", json_value(batch.columns[c]), json_value(row[c]));
          }
          std::cout << line << "}\n";
        }
      });
  const auto& c = summary.counters;
  std::cerr << fmt::format("records in {}, out {}, filtered {}, rejected {}\n", c.records_in, c.records_out,
                           c.records_filtered, c.records_rejected);
  return 0;
}

// The `server:` section belongs to the gateway (`sluice-gateway --validate` checks it too); here it
// is allowed but not read, so one config file serves both tools.
int lint(const std::vector<std::string>& files) {
  const auto registry = pipeline::StageRegistry::with_builtins();
  int bad = 0;
  for (const std::string& file : files) {
    try {
      const config::Node root = config::load_file(file);
      root.expect_keys({"server", "pipelines"}, "the config");
      const auto pipelines = pipeline::build_pipelines(root.require("pipelines", "the config"), registry);
      std::cout << file << ": ok (" << pipelines.size() << " pipelines)\n";
    } catch (const sluice::Error& e) {
      ++bad;
      std::cout << e.what() << "\n";
    }
  }
  return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_for_reuse();
  CLI::App app{"sluice: run and test pipelines without a server.\n"
               "Examples:\n  sluice test config/tests/default.tests.yaml\n"
               "  sluice run --config config/examples/default.yaml --pipeline http_errors samples/access_log.csv"};
  app.require_subcommand(1);
  auto* test = app.add_subcommand("test", "run config-level test specs; exit 1 if any fails");
  std::vector<std::string> specs;
  test->add_option("specs", specs, "test spec YAML files")->required()->check(CLI::ExistingFile);
  auto* lint_command = app.add_subcommand("lint", "check the pipelines of config files; exit 1 if any is invalid");
  std::vector<std::string> configs;
  lint_command->add_option("configs", configs, "config YAML files")->required();
  auto* run = app.add_subcommand("run", "run a file through a pipeline; results as JSON lines on stdout");
  std::string config_path, pipeline_name, file;
  size_t chunk_size = kDefaultChunkBytes;
  run->add_option("-c,--config", config_path, "YAML config with `pipelines:`")->required()->check(CLI::ExistingFile);
  run->add_option("-p,--pipeline", pipeline_name, "pipeline name")->required();
  run->add_option("--chunk-size", chunk_size, "bytes per chunk")->capture_default_str();
  run->add_option("file", file, "input file, - for stdin")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (*test) return run_tests(specs);
    if (*lint_command) return lint(configs);
    return run_file(config_path, pipeline_name, file, chunk_size);
  } catch (const sluice::Error& e) {
    std::cerr << "sluice: " << e.what() << "\n";
    return 2;
  }
}
