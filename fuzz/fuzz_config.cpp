// YAML configs from untrusted text: either a whole config (with `pipelines:`) or one pipeline
// spec. A bad config may only fail with a ConfigError that names a line, a column and a reason;
// anything else escaping (a yaml-cpp exception, a crash, a sanitizer report) is a finding. A
// pipeline that builds then runs a tiny input, so that stage options reach the engine too.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/node.h"
#include "core/error.h"
#include "pipeline/engine.h"
#include "pipeline/pipeline.h"

namespace {

using namespace sluice;

// A little of every input format, so that whichever parse stage was configured sees records.
constexpr std::string_view kInput = "a,b,status\n1,x,200\n{\"a\": 2, \"b\": \"y\", \"status\": 500}\nplain line\n";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_config: %s\n", what.c_str());
  std::abort();
}

void run_tiny_input(const pipeline::PipelinePtr& pipeline) {
  bool fed = false;
  try {
    pipeline::run_stream(
        pipeline, {},
        [&](std::string& chunk) {
          if (fed) return false;
          chunk.assign(kInput);
          fed = true;
          return true;
        },
        [](ResultBatch&&) {});
  } catch (const Error& e) {
    if (std::string_view(e.what()).empty()) fail("a failed stream threw an Error without a message");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pipeline::StageRegistry registry = pipeline::StageRegistry::with_builtins();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const config::Node root = config::load_string(text, "fuzz.yaml");
    if (root.is_map() && root.get("pipelines")) {
      for (const auto& [name, pipeline] :
           pipeline::build_pipelines(root.require("pipelines", "the config"), registry)) {
        run_tiny_input(pipeline);
      }
    } else {
      run_tiny_input(pipeline::build_pipeline("fuzz", root, registry));
    }
  } catch (const config::ConfigError& e) {
    if (e.line() < 1 || e.column() < 1 || e.message().empty()) fail(std::string("ConfigError without a place or reason: ") + e.what());
  }
  return 0;
}
