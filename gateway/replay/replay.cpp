#include "gateway/replay/replay.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "gateway/client.h"
#include "gateway/convert.h"
#include "gateway/gateway_config.h"
#include "gateway/recording.h"
#include "gateway/replay/progress.h"
#include "gateway/replay/result_files.h"

namespace sluice::replay {

namespace {

using Clock = std::chrono::steady_clock;

double millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Job {
  const StreamInput* input;
  std::string result_name;
};

class Replayer {
 public:
  Replayer(const std::vector<StreamInput>& inputs, const ReplayOptions& options);
  ReplayReport run();

 private:
  StreamOutcome replay(const Job& job);
  Status attempt(const Job& job, StreamOutcome& outcome);
  v1::Summary send(const StreamInput& input, const gateway::ChunkSource& next_chunk,
                   const gateway::BatchHandler& on_batch);
  v1::Summary run_offline(const StreamInput& input, const gateway::ChunkSource& next_chunk,
                          const gateway::BatchHandler& on_batch);
  void wait_to_send(Clock::time_point due, size_t chunk_bytes, std::optional<Clock::time_point> deadline);

  const ReplayOptions& options_;
  std::vector<Job> jobs_;
  std::optional<gateway::GatewayConfig> offline_;
  std::unique_ptr<gateway::Client> client_;
  std::unique_ptr<TokenBucket> bucket_;
  std::unique_ptr<gateway::RecordingWriter> recorder_;
  ProgressCounters progress_;
};

Replayer::Replayer(const std::vector<StreamInput>& inputs, const ReplayOptions& options) : options_(options) {
  std::vector<std::string> labels;
  for (const StreamInput& input : inputs) labels.push_back(input.label);
  const std::vector<std::string> names = result_names(labels);
  for (unsigned round = 1; round <= options.repeat; ++round) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      // Every round writes its own files, so repeats can be compared with each other.
      jobs_.push_back({&inputs[i], options.repeat > 1 ? fmt::format("{}.r{}", names[i], round) : names[i]});
      progress_.total_bytes += inputs[i].bytes;
    }
  }
  progress_.total_streams = jobs_.size();

  if (!options.offline_config.empty()) {
    offline_ = gateway::load_gateway_config_file(options.offline_config, pipeline::StageRegistry::with_builtins());
  } else {
    client_ = std::make_unique<gateway::Client>(gateway::Client::connect(options.connection));
  }
  if (options.rate) {
    // A tenth of a second's worth, and at least one chunk when counting chunks, may go at once.
    bucket_ = std::make_unique<TokenBucket>(options.rate->per_second, std::max(options.rate->per_second / 10, 1.0));
  }
  if (!options.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.out_dir, ec);
    if (ec) {
      throw Error(ErrorCode::FailedPrecondition,
                  fmt::format("cannot create the output directory '{}': {}", options.out_dir, ec.message()));
    }
  }
  if (!options.record_path.empty()) {
    recorder_ = std::make_unique<gateway::RecordingWriter>(options.record_path, UINT64_MAX);
  }
}

ReplayReport Replayer::run() {
  ReplayReport report;
  report.target = offline_ ? fmt::format("offline ({})", options_.offline_config) : options_.connection.target;
  report.mode = offline_ ? "embedded pipeline" : options_.mode == Mode::Upload ? "upload" : "process";
  report.streams.resize(jobs_.size());
  const auto start = Clock::now();
  {
    std::optional<ProgressPrinter> printer;
    if (options_.progress) {
      printer.emplace(*options_.progress, options_.progress_tty, options_.progress_interval, progress_);
    }
    std::atomic<size_t> next_job{0};
    std::vector<std::thread> workers;
    for (size_t w = 0; w < std::min(options_.concurrency, jobs_.size()); ++w) {
      workers.emplace_back([&] {
        for (size_t i = next_job++; i < jobs_.size(); i = next_job++) report.streams[i] = replay(jobs_[i]);
      });
    }
    for (std::thread& worker : workers) worker.join();
  }
  report.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

StreamOutcome Replayer::replay(const Job& job) {
  const StreamInput& input = *job.input;
  StreamOutcome outcome;
  outcome.label = input.label;
  outcome.pipeline = input.pipeline;
  if (!options_.out_dir.empty()) outcome.result_file = result_file_name(job.result_name, options_.out_format);
  if (input.recorded) {
    outcome.recorded_status =
        input.recorded->end ? std::string(error_code_name(input.recorded->end->code)) : "incomplete";
  }
  for (unsigned retry = 0;; ++retry) {
    outcome.attempts = retry + 1;
    outcome.status = attempt(job, outcome);
    if (outcome.status.ok() || retry == options_.retries || !is_retryable(outcome.status.code)) break;
    std::this_thread::sleep_for(
        std::min<std::chrono::milliseconds>(options_.backoff * (1u << std::min(retry, 16u)), std::chrono::seconds(10)));
  }
  ++progress_.streams_done;
  if (!outcome.status.ok()) ++progress_.streams_failed;
  return outcome;
}

Status Replayer::attempt(const Job& job, StreamOutcome& outcome) {
  const StreamInput& input = *job.input;
  const auto start = Clock::now();
  std::optional<Clock::time_point> deadline;
  if (options_.timeout) deadline = start + *options_.timeout;
  const uint32_t recording_id = recorder_ ? recorder_->start_stream(input.pipeline, input.format, input.label) : 0;
  outcome.bytes = outcome.chunks = 0;

  Status status;
  std::optional<ResultFile> results;
  try {
    results.emplace(options_.out_dir, job.result_name, options_.out_format);
    const std::unique_ptr<ChunkCursor> cursor = open_chunks(input, options_.chunk_size);
    auto next_chunk = [&](std::string& chunk) {
      std::chrono::microseconds recorded_at{0};
      if (!cursor->next(chunk, recorded_at)) return false;
      wait_to_send(start + send_offset(options_.timing, options_.speed, recorded_at), chunk.size(), deadline);
      // Waits end at the deadline; stopping here (not only by the call's deadline) makes the
      // outcome the same online and offline, where nothing else would stop the stream.
      if (deadline && Clock::now() >= *deadline) {
        throw Error(ErrorCode::DeadlineExceeded,
                    fmt::format("the stream's deadline ({} ms) expired while sending", options_.timeout->count()));
      }
      if (recorder_) recorder_->chunk(recording_id, chunk);
      outcome.bytes += chunk.size();
      ++outcome.chunks;
      progress_.bytes_sent += chunk.size();
      return true;
    };
    std::optional<Clock::time_point> first_result;
    auto on_batch = [&](const v1::ResultBatch& batch) {
      if (!first_result) first_result = Clock::now();
      results->batch(batch);
    };
    const v1::Summary summary = offline_ ? run_offline(input, next_chunk, on_batch) : send(input, next_chunk, on_batch);
    const auto end = Clock::now();
    results->summary(summary);
    outcome.records_in = summary.counters().records_in();
    outcome.records_out = summary.counters().records_out();
    outcome.latency_ms = millis(end - start);
    outcome.first_result_ms = millis(first_result.value_or(end) - start);
    progress_.records += outcome.records_in;
  } catch (const Error& e) {
    status = e.status();
  } catch (const std::exception& e) {
    status = {ErrorCode::Internal, e.what()};
  }
  if (!status.ok() && results) results->error(status.code);
  if (recorder_) recorder_->end_stream(recording_id, status);
  return status;
}

v1::Summary Replayer::send(const StreamInput& input, const gateway::ChunkSource& next_chunk,
                           const gateway::BatchHandler& on_batch) {
  v1::StreamHeader header;
  header.set_pipeline(input.pipeline);
  header.set_format(input.format);
  header.set_name(input.label);
  gateway::CallOptions call;
  call.timeout = options_.timeout;
  call.gzip = options_.gzip;
  if (options_.mode == Mode::Upload) return client_->upload(header, next_chunk, call);
  return client_->process(header, next_chunk, on_batch, call);
}

// The gateway's path without gRPC: the same pipeline, limits and conversions to v1 messages.
v1::Summary Replayer::run_offline(const StreamInput& input, const gateway::ChunkSource& next_chunk,
                                  const gateway::BatchHandler& on_batch) {
  const auto found = offline_->pipelines.find(input.pipeline);
  if (found == offline_->pipelines.end()) {
    throw Error(ErrorCode::NotFound,
                fmt::format("unknown pipeline '{}' (not in {})", input.pipeline, options_.offline_config));
  }
  const pipeline::PipelinePtr& pipeline = found->second;
  if (!input.format.empty() && input.format != pipeline->format()) {
    throw Error(ErrorCode::InvalidArgument, fmt::format("pipeline '{}' parses {}, but the stream says its format is {}",
                                                        input.pipeline, pipeline->format(), input.format));
  }
  const pipeline::Summary summary =
      pipeline::run_stream(pipeline, offline_->server.stream_limits, next_chunk, [&](ResultBatch&& batch) {
        v1::ResultBatch proto;
        gateway::to_proto(std::move(batch), proto);
        on_batch(proto);
      });
  v1::Summary out;
  gateway::to_proto(summary, out);
  out.set_pipeline(input.pipeline);
  return out;
}

void Replayer::wait_to_send(Clock::time_point due, size_t chunk_bytes, std::optional<Clock::time_point> deadline) {
  if (deadline) due = std::min(due, *deadline);
  std::this_thread::sleep_until(due);
  if (!bucket_) return;
  const double cost = options_.rate->unit == RateLimit::Unit::Bytes ? static_cast<double>(chunk_bytes) : 1.0;
  auto ready = Clock::now() + bucket_->reserve(cost);
  if (deadline) ready = std::min(ready, *deadline);
  std::this_thread::sleep_until(ready);
}

}  // namespace

std::chrono::microseconds send_offset(Timing timing, double speed, std::chrono::microseconds recorded_at) {
  switch (timing) {
    case Timing::Fast: return std::chrono::microseconds(0);
    case Timing::Recorded: return recorded_at;
    case Timing::Scaled:
      return std::chrono::microseconds(static_cast<int64_t>(static_cast<double>(recorded_at.count()) / speed));
  }
  return recorded_at;
}

bool is_retryable(ErrorCode code) {
  return code == ErrorCode::Unavailable || code == ErrorCode::ResourceExhausted ||
         code == ErrorCode::DeadlineExceeded || code == ErrorCode::Aborted;
}

ReplayReport run_replay(const std::vector<StreamInput>& inputs, const ReplayOptions& options) {
  if (options.concurrency == 0) throw Error(ErrorCode::InvalidArgument, "concurrency must be at least 1");
  if (options.chunk_size == 0) throw Error(ErrorCode::InvalidArgument, "chunk size must be at least 1 byte");
  if (!(options.speed > 0)) throw Error(ErrorCode::InvalidArgument, "speed must be positive");
  if (options.repeat == 0) throw Error(ErrorCode::InvalidArgument, "repeat must be at least 1");
  return Replayer(inputs, options).run();
}

}  // namespace sluice::replay
