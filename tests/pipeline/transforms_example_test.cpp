// config/examples/transforms.yaml builds and its pipelines give the values computed here.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "support/transform_harness.h"

namespace sluice::pipeline {
namespace {

using namespace sluice::testing;

PipelineMap example_pipelines() {
  return build_pipelines(
      config::load_file(SLUICE_SOURCE_DIR "/config/examples/transforms.yaml").require("pipelines", "config"),
      StageRegistry::with_builtins());
}

const std::string kInput =
    "timestamp,user_id,country,method,path,status,latency_ms,bytes,user_agent\n"
    "1700000000020,102,US,GET,\"/api/v1/search?q=a,b\",200,41.5,2048,curl/7.88.1\n"
    "1700000000027,164,IN,GET,/,200,154.25,718,Mozilla/5.0\n"
    "1700000000032,148,FR,POST,/api/v2/orders,500,,1024,Go-http-client/2.0\n"
    "1700000000051,608,US,GET,/api/v1/search,404,20.5,512,curl/7.88.1\n"
    "1700000000060,610,DE,GET,/api/v1/users,abc,3.0,100,curl/7.88.1\n";

TEST(TransformsExample, SlimRequestsDropsRenamesComputesAndProjects) {
  const PipelineMap pipelines = example_pipelines();
  const RunResult run = run_chunked(pipelines.at("slim_requests"), kInput, 64);
  const auto row = [](int64_t ts, const char* cc, const char* method, const char* path, Value status,
                      Value latency, Value slow) {
    return std::vector<Value>{ts, std::string(cc), std::string(method), std::string(path), status, latency, slow};
  };
  const Table expected{
      {"timestamp", "cc", "method", "path", "status", "latency", "slow"},
      {row(1700000000020, "US", "GET", "/api/v1/search?q=a,b", int64_t{200}, 41.5, false),
       row(1700000000027, "IN", "GET", "/", int64_t{200}, 154.25, true),
       row(1700000000032, "FR", "POST", "/api/v2/orders", int64_t{500}, Value{}, Value{}),
       row(1700000000051, "US", "GET", "/api/v1/search", int64_t{404}, 20.5, false)}};
  EXPECT_EQ(as_table(run.results), expected);
  // The csv stage rejects the last record: its status is not an int.
  EXPECT_EQ(run.summary.counters.records_rejected, 1u);
}

TEST(TransformsExample, ApiUsageGroupsApiRequestsByVersionAndResource) {
  const PipelineMap pipelines = example_pipelines();
  const RunResult run = run_chunked(pipelines.at("api_usage"), kInput, 64);
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_EQ(run.results[0].columns,
            (std::vector<std::string>{"version", "resource", "requests", "kib", "mean_latency_ms"}));
  const std::vector<std::vector<Value>> expected = {
      {std::string("v1"), std::string("search"), int64_t{2}, (2048.0 / 1024) + (512.0 / 1024), (41.5 + 20.5) / 2},
      {std::string("v2"), std::string("orders"), int64_t{1}, 1024.0 / 1024, Value{}},
  };
  EXPECT_EQ(run.results[0].rows, expected);

  const Counters& c = run.summary.counters;
  EXPECT_EQ(c.records_in, 5u);
  EXPECT_EQ(c.records_filtered, 1u);  // "/" is not an API path
  EXPECT_EQ(c.rejected_by_reason, (std::map<std::string, uint64_t>{{"cannot cast 'abc' to int", 1}}));
  EXPECT_EQ(describe_dead_letters(run.summary),
            (std::vector<std::string>{"6:" + std::to_string(kInput.find("1700000000060")) +
                                      " status: cannot cast 'abc' to int"}));
}

TEST(TransformsExample, EveryPipelineRunsCleanlyOverTheSampleLog) {
  std::ifstream in(SLUICE_SOURCE_DIR "/samples/access_log.csv", std::ios::binary);
  ASSERT_TRUE(in);
  std::ostringstream sample;
  sample << in.rdbuf();
  for (const auto& [name, pipeline] : example_pipelines()) {
    SCOPED_TRACE(name);
    const RunResult run = run_chunked(pipeline, sample.str(), 65536);
    const Counters& c = run.summary.counters;
    EXPECT_GT(c.records_out, 0u);
    EXPECT_EQ(c.records_rejected, 0u);
    EXPECT_EQ(c.records_in, c.records_out + c.records_filtered);
  }
}

}  // namespace
}  // namespace sluice::pipeline
