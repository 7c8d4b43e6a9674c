// Starts the real gateway on an ephemeral loopback port and drives it with the real client.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/access_log.h"
#include "support/gateway_harness.h"
#include "support/scratch_dir.h"

namespace sluice::gateway {
namespace {

using namespace sluice::testing;

class Gateway : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string yaml =
        "server:\n  listen: 127.0.0.1:0\n  max_message_bytes: 256KiB\n  data_dir: " + data_dir_.path().string() +
        "\n  transport_window_bytes: 64KiB\n  stream_limits: {max_chunks_in_flight: 4, max_bytes_in_flight: 1MiB, "
        "max_pending_results: 4, max_inline_chunk_bytes: 1KiB}\n"
        "pipelines:\n  errors:\n" +
        indent(kErrorsPipelineYaml, "    ") +
        "  strict:\n    on_error: fail\n    stages:\n      - type: csv\n        types: {n: int}\n"
        "  records:\n    stages:\n      - type: csv\n";
    gateway_ = std::make_unique<TestGateway>(yaml);
    client_ = &gateway_->client();
  }

  static v1::StreamHeader header(const std::string& pipeline) { return header_for(pipeline); }

  static std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> as_map(const v1::ResultBatch& batch) {
    std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> out;
    for (const auto& row : batch.rows()) {
      out[{row.values(0).string_value(), row.values(1).int_value()}] = {row.values(2).int_value(),
                                                                        row.values(3).int_value()};
    }
    return out;
  }

  static ErrorCode code_of(const std::function<void()>& call) {
    try {
      call();
    } catch (const Error& e) {
      last_message_ = e.what();
      return e.code();
    }
    return ErrorCode::Ok;
  }

  ScratchDir data_dir_{"sluice_e2e"};
  std::unique_ptr<TestGateway> gateway_;
  Client* client_ = nullptr;
  static inline std::string last_message_;
};

TEST_F(Gateway, UploadReturnsTheIndependentlyComputedAggregates) {
  const auto records = make_access_records(5000, 11);
  const std::string csv = to_csv(records);
  const v1::Summary summary = client_->upload(header("errors"), chunks_of(csv, 1000));
  ASSERT_EQ(summary.results_size(), 1);
  EXPECT_EQ(as_map(summary.results(0)), expected_error_aggregates(records));
  EXPECT_EQ(summary.counters().bytes_in(), csv.size());
  EXPECT_EQ(summary.counters().records_in(), records.size());
  EXPECT_EQ(summary.pipeline(), "errors");
}

TEST_F(Gateway, ProcessStreamsResultsThenTheSummary) {
  const auto records = make_access_records(3000, 12);
  std::vector<v1::ResultBatch> batches;
  const v1::Summary summary = client_->process(header("errors"), chunks_of(to_csv(records), 333),
                                               [&](const v1::ResultBatch& b) { batches.push_back(b); });
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(as_map(batches[0]), expected_error_aggregates(records));
  EXPECT_EQ(summary.counters().records_in(), records.size());
  EXPECT_EQ(summary.results_size(), 0);
}

TEST_F(Gateway, ProcessReturnsEveryRecordOfATransformOnlyPipelineInOrder) {
  std::string csv = "n\n";
  for (int i = 0; i < 20000; ++i) csv += std::to_string(i) + "\n";
  int64_t expected = 0;
  bool in_order = true;
  client_->process(header("records"), chunks_of(csv, 4096), [&](const v1::ResultBatch& b) {
    for (const auto& row : b.rows()) in_order = in_order && row.values(0).string_value() == std::to_string(expected++);
  });
  EXPECT_TRUE(in_order);
  EXPECT_EQ(expected, 20000);
}

TEST_F(Gateway, ProcessFileRunsAFileFromTheDataDir) {
  const auto records = make_access_records(2000, 13);
  std::ofstream(data_dir_ / "log.csv") << to_csv(records);
  v1::ProcessFileRequest request;
  request.set_pipeline("errors");
  request.set_path("log.csv");
  request.set_chunk_size(777);
  std::vector<v1::ResultBatch> batches;
  client_->process_file(request, [&](const v1::ResultBatch& b) { batches.push_back(b); });
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(as_map(batches[0]), expected_error_aggregates(records));

  request.set_path("../../etc/passwd");
  EXPECT_EQ(code_of([&] { client_->process_file(request, nullptr); }), ErrorCode::PermissionDenied);
  request.set_path("missing.csv");
  EXPECT_EQ(code_of([&] { client_->process_file(request, nullptr); }), ErrorCode::NotFound);
  std::filesystem::create_directory(data_dir_ / "a_directory");  // opens, but cannot be read
  request.set_path("a_directory");
  EXPECT_EQ(code_of([&] { client_->process_file(request, nullptr); }), ErrorCode::DataLoss);
  EXPECT_NE(last_message_.find("reading the input file failed at offset 0"), std::string::npos) << last_message_;
}

TEST_F(Gateway, BadStreamsGetClearStatuses) {
  EXPECT_EQ(code_of([&] { client_->upload(header("nope"), chunks_of("a\n", 10)); }), ErrorCode::NotFound);
  EXPECT_NE(last_message_.find("errors"), std::string::npos) << last_message_;  // lists what exists

  v1::StreamHeader wrong_format = header("errors");
  wrong_format.set_format("jsonl");
  EXPECT_EQ(code_of([&] { client_->upload(wrong_format, chunks_of("a\n", 10)); }), ErrorCode::InvalidArgument);

  EXPECT_EQ(code_of([&] { client_->upload(header("strict"), chunks_of("n\n1\n2\nthree\n4\n", 3)); }),
            ErrorCode::InvalidArgument);
  EXPECT_NE(last_message_.find("line 4"), std::string::npos) << last_message_;
  EXPECT_NE(last_message_.find("field 'n'"), std::string::npos) << last_message_;

  const std::string too_big(300 * 1024, 'x');
  EXPECT_EQ(code_of([&] { client_->upload(header("errors"), chunks_of(too_big, too_big.size())); }),
            ErrorCode::ResourceExhausted);
}

TEST_F(Gateway, DeadlineExpiresMidStream) {
  // A source that never ends: only the deadline can stop the call.
  std::string chunk = "country,status,bytes,agent\n";
  CallOptions options;
  options.timeout = std::chrono::milliseconds(300);
  auto endless = [&](std::string& out) {
    out = chunk;
    chunk = "US,404,1,x\n";
    return true;
  };
  EXPECT_EQ(code_of([&] { client_->upload(header("errors"), endless, options); }), ErrorCode::DeadlineExceeded);
  // The server keeps serving.
  EXPECT_EQ(client_->upload(header("errors"), chunks_of(to_csv(make_access_records(10, 1)), 64)).pipeline(), "errors");
}

TEST_F(Gateway, DescribeAndValidateConfig) {
  const v1::DescribeResponse info = client_->describe();
  EXPECT_FALSE(info.version().empty());
  ASSERT_EQ(info.pipelines_size(), 3);
  EXPECT_EQ(info.pipelines(0).name(), "errors");
  EXPECT_EQ(info.pipelines(0).stages_size(), 3);
  EXPECT_EQ(info.limits().max_chunks_in_flight(), 4u);
  EXPECT_EQ(info.limits().max_inline_chunk_bytes(), 1024u);
  EXPECT_EQ(info.limits().transport_window_bytes(), 64u << 10);

  const auto bad = client_->validate_config("pipelines:\n  p:\n    stages:\n      - type: csv\n        bogus: 1\n");
  EXPECT_FALSE(bad.valid());
  EXPECT_EQ(bad.line(), 5u);
  EXPECT_EQ(bad.column(), 9u);
  const auto good = client_->validate_config("pipelines:\n  p:\n    stages:\n      - type: csv\n");
  EXPECT_TRUE(good.valid());
  EXPECT_EQ(good.pipelines_size(), 1);
}

}  // namespace
}  // namespace sluice::gateway
