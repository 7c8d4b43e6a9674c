// sluice-replay end to end: real gateways on 127.0.0.1:0, the embedded pipeline offline, result
// files checked against aggregates the test computes itself.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway/replay/replay.h"
#include "gateway/replay/result_files.h"
#include "gateway/server.h"
#include "support/access_log.h"
#include "support/scratch_dir.h"

namespace sluice::replay {
namespace {

namespace fs = std::filesystem;
using namespace sluice::testing;
using Aggregates = std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>>;

std::string gateway_yaml(const std::string& server_extra = "") {
  std::string errors = kErrorsPipelineYaml;  // written at top level: indent it under `errors:`
  for (size_t at = errors.find('\n'); at != std::string::npos; at = errors.find('\n', at + 1)) {
    errors.insert(at + 1, "    ");
  }
  return "server:\n  listen: 127.0.0.1:0\n"
         "  stream_limits: {max_chunks_in_flight: 4, max_bytes_in_flight: 1MiB, max_pending_results: 4}\n" +
         server_extra + "pipelines:\n  errors:" + errors +
         "\n  strict:\n    on_error: fail\n    stages:\n      - type: csv\n        types: {n: int}\n"
         "  records:\n    stages:\n      - type: csv\n"
         "  dead:\n    on_error: dead_letter\n    stages:\n      - type: csv\n        types: {status: int, bytes: "
         "int}\n";
}

std::vector<nlohmann::json> read_lines(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// The aggregates in a result file of the `errors` pipeline, and its summary line.
Aggregates aggregates_in(const std::vector<nlohmann::json>& lines) {
  Aggregates out;
  for (const auto& line : lines) {
    if (!line.contains("batch")) continue;
    for (const auto& row : line["batch"]["rows"]) {
      out[{row[0].get<std::string>(), row[1].get<int64_t>()}] = {row[2].get<int64_t>(), row[3].get<int64_t>()};
    }
  }
  return out;
}

class Replay : public ::testing::Test {
 protected:
  void SetUp() override { std::ofstream(dir_ / "gateway.yaml") << gateway_yaml(); }

  std::unique_ptr<gateway::Server> start_gateway(const std::string& server_extra = "") {
    return std::make_unique<gateway::Server>(
        gateway::load_gateway_config(config::load_string(gateway_yaml(server_extra), (dir_ / "gateway.yaml").string()),
                                     pipeline::StageRegistry::with_builtins()));
  }

  static std::string target_of(const gateway::Server& server) { return "127.0.0.1:" + std::to_string(server.port()); }

  // Writes access-log CSV files under in/ (some nested, one that --glob leaves out); returns the
  // records of each, by the label replay gives the file.
  std::map<std::string, std::vector<AccessRecord>> write_access_logs(const fs::path& in, size_t files) {
    std::map<std::string, std::vector<AccessRecord>> by_label;
    for (size_t i = 0; i < files; ++i) {
      const std::string label =
          (i % 2 ? "sub/" : "") + (i % 3 == 2 ? std::string("deeper/") : "") + "log" + std::to_string(i) + ".csv";
      fs::create_directories((in / label).parent_path());
      by_label[label] = make_access_records(200 + 150 * i, static_cast<uint32_t>(100 + i));
      std::ofstream(in / label) << to_csv(by_label[label]);
    }
    std::ofstream(in / "notes.txt") << "not a log\n";
    return by_label;
  }

  std::vector<StreamInput> inputs(const fs::path& path, const std::string& pipeline) {
    InputSelection selection;
    selection.paths = {path.string()};
    selection.glob = "*.csv";
    selection.pipeline = pipeline;
    return collect_inputs(selection);
  }

  ReplayOptions online(const gateway::Server& server, const std::string& out) {
    ReplayOptions options;
    options.connection.target = target_of(server);
    options.out_dir = (dir_ / out).string();
    return options;
  }

  ReplayOptions offline(const std::string& out) {
    ReplayOptions options;
    options.offline_config = (dir_ / "gateway.yaml").string();
    options.out_dir = (dir_ / out).string();
    return options;
  }

  void expect_same(const std::string& a, const std::string& b) {
    const Comparison comparison = compare_result_dirs((dir_ / a).string(), (dir_ / b).string());
    EXPECT_GT(comparison.files, 0u);
    for (const std::string& difference : comparison.differences)
      ADD_FAILURE() << a << " vs " << b << ": " << difference;
  }

  sluice::testing::ScratchDir dir_{"sluice_replay"};
};

TEST_F(Replay, ADirectoryWithFourConcurrentStreamsGivesTheIndependentlyComputedAggregates) {
  const auto logs = write_access_logs(dir_ / "in", 6);
  const auto server = start_gateway();
  ReplayOptions options = online(*server, "out");
  options.concurrency = 4;
  options.chunk_size = 777;
  std::ostringstream progress;
  options.progress = &progress;
  options.progress_interval = std::chrono::hours(1);  // only the final line

  const ReplayReport report = run_replay(inputs(dir_ / "in", "errors"), options);

  EXPECT_TRUE(report.ok());
  ASSERT_EQ(report.streams.size(), logs.size());
  uint64_t bytes = 0, records = 0, chunks = 0;
  for (const auto& [label, records_of_file] : logs) {
    const uint64_t size = fs::file_size(dir_ / "in" / label);
    bytes += size;
    records += records_of_file.size();
    chunks += (size + 776) / 777;
  }
  const auto json = to_json(report);
  EXPECT_EQ(json["streams"]["ok"], logs.size());
  EXPECT_EQ(json["streams"]["failed"], 0);
  EXPECT_EQ(json["bytes"], bytes);
  EXPECT_EQ(json["chunks"], chunks);
  EXPECT_EQ(json["records_in"], records);
  EXPECT_GT(json["latency_ms"]["max"].get<double>(), 0);
  EXPECT_LE(json["time_to_first_result_ms"]["p50"].get<double>(), json["latency_ms"]["max"].get<double>());
  EXPECT_EQ(server->state().streams_started, logs.size());

  for (const StreamOutcome& stream : report.streams) {
    SCOPED_TRACE(stream.label);
    ASSERT_TRUE(logs.contains(stream.label));
    EXPECT_EQ(stream.attempts, 1u);
    const auto lines = read_lines(dir_ / "out" / stream.result_file);
    ASSERT_EQ(lines.size(), 2u);  // one aggregate batch, then the summary
    EXPECT_EQ(aggregates_in(lines), expected_error_aggregates(logs.at(stream.label)));
    const auto& summary = lines.back()["summary"];
    EXPECT_EQ(summary["pipeline"], "errors");
    EXPECT_EQ(summary["counters"]["records_in"], logs.at(stream.label).size());
    EXPECT_EQ(summary["counters"]["bytes_in"], fs::file_size(dir_ / "in" / stream.label));
    EXPECT_FALSE(summary["counters"].contains("chunks_in"));
  }
  EXPECT_TRUE(fs::exists(dir_ / "out" / "sub_deeper_log5.csv.jsonl"));
  EXPECT_NE(progress.str().find("streams 6/6"), std::string::npos) << progress.str();
}

TEST_F(Replay, ARecordingOfTheGatewayReplaysToTheSameResults) {
  write_access_logs(dir_ / "in", 5);
  const std::string recording = (dir_ / "gateway.slrc").string();
  {
    const auto recording_gateway = start_gateway("  recording: {path: " + recording + ", max_bytes: 64MiB}\n");
    ReplayOptions options = online(*recording_gateway, "original");
    options.mode = Mode::Process;
    options.chunk_size = 1000;
    ASSERT_TRUE(run_replay(inputs(dir_ / "in", "errors"), options).ok());
  }
  const gateway::Recording recorded(recording);
  ASSERT_EQ(recorded.streams().size(), 5u);
  for (const gateway::RecordedStream& stream : recorded.streams()) {
    EXPECT_EQ(stream.pipeline, "errors");
    ASSERT_TRUE(stream.end) << stream.label;
    EXPECT_TRUE(stream.end->ok());
    EXPECT_EQ(stream.bytes, fs::file_size(dir_ / "in" / stream.label));
  }

  InputSelection selection;
  selection.recordings = {recording};
  const auto replayed_inputs = collect_inputs(selection);
  const auto gateway = start_gateway();
  ReplayOptions options = online(*gateway, "replayed");
  options.timing = Timing::Scaled;
  options.speed = 1000;
  const ReplayReport report = run_replay(replayed_inputs, options);
  EXPECT_TRUE(report.ok());
  for (const StreamOutcome& stream : report.streams) EXPECT_EQ(stream.recorded_status, "OK");
  expect_same("original", "replayed");

  ASSERT_TRUE(run_replay(replayed_inputs, offline("replayed_offline")).ok());
  expect_same("original", "replayed_offline");
}

TEST_F(Replay, AGatewayWhoseRecordingIsFullKeepsServing) {
  const auto logs = write_access_logs(dir_ / "in", 4);  // 5 to 17 KB each
  const std::string recording = (dir_ / "bounded.slrc").string();
  const auto server = start_gateway("  recording: {path: " + recording + ", max_bytes: 16KiB}\n");
  ReplayOptions options = online(*server, "out");
  options.concurrency = 1;  // the streams are recorded one after the other
  options.chunk_size = 1000;
  const ReplayReport report = run_replay(inputs(dir_ / "in", "errors"), options);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.streams.size(), logs.size());
  EXPECT_TRUE(server->state().recorder->stopped());
  EXPECT_LE(fs::file_size(recording), 16u << 10);

  const gateway::Recording recorded(recording);
  ASSERT_GE(recorded.streams().size(), 2u);
  EXPECT_LT(recorded.streams().size(), logs.size());
  const gateway::RecordedStream& first = recorded.streams().front();
  ASSERT_TRUE(first.end);  // recorded whole
  EXPECT_EQ(first.bytes, fs::file_size(dir_ / "in" / first.label));
  EXPECT_FALSE(recorded.streams().back().end);  // cut by the bound
}

TEST_F(Replay, OfflineAndGatewayResultFilesAreByteIdentical) {
  write_access_logs(dir_ / "logs", 3);
  fs::create_directories(dir_ / "numbers");
  std::string numbers = "n\n";
  for (int i = 0; i < 3000; ++i) numbers += std::to_string(i * 7) + "\n";
  std::ofstream(dir_ / "numbers" / "numbers.csv") << numbers;
  fs::create_directories(dir_ / "dirty");
  std::ofstream(dir_ / "dirty" / "dirty.csv") << "country,status,bytes\nUS,404,10\nDE,oops,5\nFR,500,x\nIN,200,7\n";

  std::vector<StreamInput> all = inputs(dir_ / "logs", "errors");
  for (auto& input : inputs(dir_ / "numbers", "records")) all.push_back(input);  // transform only: many batches
  for (auto& input : inputs(dir_ / "dirty", "dead")) all.push_back(input);       // dead letters

  const auto server = start_gateway();
  for (size_t chunk_size : {size_t{7}, size_t{1000}, size_t{1} << 20}) {
    SCOPED_TRACE(chunk_size);
    const std::string suffix = std::to_string(chunk_size);
    ReplayOptions upload = online(*server, "upload" + suffix);
    ReplayOptions process = online(*server, "process" + suffix);
    process.mode = Mode::Process;
    ReplayOptions embedded = offline("offline" + suffix);
    for (ReplayOptions* options : {&upload, &process, &embedded}) {
      options->chunk_size = chunk_size;
      ASSERT_TRUE(run_replay(all, *options).ok());
    }
    expect_same("offline" + suffix, "upload" + suffix);
    expect_same("offline" + suffix, "process" + suffix);
  }
  // Aggregates do not depend on how the input was cut.
  const auto small = read_lines(dir_ / "offline7" / "log0.csv.jsonl");
  EXPECT_EQ(small, read_lines(dir_ / ("offline" + std::to_string(1 << 20)) / "log0.csv.jsonl"));
  const auto dirty = read_lines(dir_ / "offline7" / "dirty.csv.jsonl");
  EXPECT_EQ(dirty.back()["summary"]["dead_letters"].size(), 2u);

  // CSV result files are byte-identical too, with the summary beside them.
  ReplayOptions csv_online = online(*server, "csv_online");
  csv_online.mode = Mode::Process;
  ReplayOptions csv_offline = offline("csv_offline");
  for (ReplayOptions* options : {&csv_online, &csv_offline}) {
    options->out_format = ResultFormat::Csv;
    options->chunk_size = 1000;
    ASSERT_TRUE(run_replay(all, *options).ok());
  }
  expect_same("csv_offline", "csv_online");
  std::ifstream numbers_csv(dir_ / "csv_online" / "numbers.csv.csv");
  std::string line;
  ASSERT_TRUE(std::getline(numbers_csv, line));
  EXPECT_EQ(line, "n");
  size_t rows = 0;
  for (; std::getline(numbers_csv, line); ++rows) EXPECT_EQ(line, std::to_string(rows * 7));
  EXPECT_EQ(rows, 3000u);
  EXPECT_TRUE(fs::exists(dir_ / "csv_online" / "dirty.csv.summary.json"));
}

TEST_F(Replay, RejectedStreamsAreReportedAsFailedWithTheirStatus) {
  fs::create_directories(dir_ / "good");
  const auto records = make_access_records(300, 5);
  std::ofstream(dir_ / "good" / "good.csv") << to_csv(records);
  fs::create_directories(dir_ / "bad");
  std::ofstream(dir_ / "bad" / "bad.csv") << "n\n1\n2\nthree\n4\n";

  std::vector<StreamInput> all = inputs(dir_ / "good", "errors");
  for (auto& input : inputs(dir_ / "bad", "strict")) all.push_back(input);
  for (auto input : inputs(dir_ / "good", "nope")) {
    input.label = "unknown-pipeline";
    all.push_back(input);
  }

  const auto server = start_gateway();
  for (ReplayOptions options : {online(*server, "online"), offline("offline")}) {
    options.chunk_size = 3;
    options.retries = 3;  // neither failure is transient: no retries
    const ReplayReport report = run_replay(all, options);
    EXPECT_FALSE(report.ok());
    ASSERT_EQ(report.failed(), 2u);
    const StreamOutcome& good = report.streams[0];
    const StreamOutcome& bad = report.streams[1];
    const StreamOutcome& unknown = report.streams[2];
    EXPECT_TRUE(good.status.ok());
    EXPECT_EQ(bad.status.code, ErrorCode::InvalidArgument);
    EXPECT_NE(bad.status.message.find("line 4"), std::string::npos) << bad.status.message;
    EXPECT_EQ(bad.attempts, 1u);
    EXPECT_EQ(unknown.status.code, ErrorCode::NotFound);
    EXPECT_NE(unknown.status.message.find("nope"), std::string::npos) << unknown.status.message;
    EXPECT_EQ(unknown.attempts, 1u);

    const fs::path out = options.out_dir;
    EXPECT_EQ(aggregates_in(read_lines(out / "good.csv.jsonl")), expected_error_aggregates(records));
    const nlohmann::json invalid = {{"error", "INVALID_ARGUMENT"}}, not_found = {{"error", "NOT_FOUND"}};
    EXPECT_EQ(read_lines(out / "bad.csv.jsonl"), std::vector{invalid});
    EXPECT_EQ(read_lines(out / "unknown-pipeline.jsonl"), std::vector{not_found});

    const auto json = to_json(report);
    EXPECT_EQ(json["streams"]["failed"], 2);
    EXPECT_EQ(json["streams"]["by_status"]["INVALID_ARGUMENT"], 1);
    EXPECT_EQ(json["streams"]["by_status"]["NOT_FOUND"], 1);
    std::ostringstream text;
    print_report(text, report);
    EXPECT_NE(text.str().find("bad.csv (pipeline strict): INVALID_ARGUMENT after 1 attempt"), std::string::npos)
        << text.str();
  }
  expect_same("online", "offline");
}

TEST_F(Replay, AStreamPastItsDeadlineIsRetriedThenFails) {
  fs::create_directories(dir_ / "slow");
  std::ofstream(dir_ / "slow" / "slow.csv") << to_csv(make_access_records(20, 9));
  const auto server = start_gateway();
  ReplayOptions options = online(*server, "out");
  options.chunk_size = 100;
  options.rate = RateLimit{RateLimit::Unit::Chunks, 5};  // a chunk every 200 ms: far past the deadline
  options.timeout = std::chrono::milliseconds(50);
  options.retries = 2;
  options.backoff = std::chrono::milliseconds(1);
  const ReplayReport report = run_replay(inputs(dir_ / "slow", "errors"), options);
  ASSERT_EQ(report.streams.size(), 1u);
  EXPECT_EQ(report.streams[0].status.code, ErrorCode::DeadlineExceeded);
  EXPECT_EQ(report.streams[0].attempts, 3u);
  EXPECT_FALSE(report.ok());
}

TEST_F(Replay, WhatTheToolSendsCanBeRecordedAndReplayed) {
  const auto logs = write_access_logs(dir_ / "in", 3);
  ReplayOptions first = offline("first");
  first.record_path = (dir_ / "sent.slrc").string();
  first.repeat = 2;
  ASSERT_TRUE(run_replay(inputs(dir_ / "in", "errors"), first).ok());

  InputSelection selection;
  selection.recordings = {first.record_path};
  const auto recorded = collect_inputs(selection);
  ASSERT_EQ(recorded.size(), 6u);  // both rounds
  ReplayOptions again = offline("again");
  const ReplayReport report = run_replay(recorded, again);
  ASSERT_TRUE(report.ok());
  // The second round's streams carry the same labels, so their files get "-2".
  for (const auto& [label, records] : logs) {
    const std::string name = result_names({label})[0];
    EXPECT_EQ(read_lines(dir_ / "first" / (name + ".r1.jsonl")), read_lines(dir_ / "again" / (name + ".jsonl")));
    EXPECT_EQ(read_lines(dir_ / "first" / (name + ".r2.jsonl")), read_lines(dir_ / "again" / (name + "-2.jsonl")));
  }
}

}  // namespace
}  // namespace sluice::replay
