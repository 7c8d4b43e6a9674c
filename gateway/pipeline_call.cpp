#include "gateway/pipeline_call.h"

#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "gateway/convert.h"

namespace sluice::gateway {

namespace {

std::string known_pipelines(const pipeline::PipelineMap& pipelines) {
  std::string names;
  for (const auto& [name, p] : pipelines) names += fmt::format("{}{}", names.empty() ? "" : ", ", name);
  return names;
}

void raise_peak(std::atomic<size_t>& peak, size_t value) {
  size_t seen = peak.load();
  while (value > seen && !peak.compare_exchange_weak(seen, value)) {
  }
}

// Resolves a client-given path inside data_dir; nullopt if it would leave it.
std::optional<std::filesystem::path> resolve_inside(const std::string& data_dir, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(data_dir, ec);
  if (ec || path.empty() || fs::path(path).is_absolute()) return std::nullopt;
  const fs::path full = fs::weakly_canonical(root / path, ec);
  if (ec) return std::nullopt;
  auto [root_end, unused] = std::mismatch(root.begin(), root.end(), full.begin(), full.end());
  if (root_end != root.end()) return std::nullopt;
  return full;
}

std::vector<std::string> pipeline_names(const pipeline::PipelineMap& pipelines) {
  std::vector<std::string> names;
  for (const auto& [name, p] : pipelines) names.push_back(name);
  return names;
}

}  // namespace

GatewayState::GatewayState(GatewayConfig c) : config(std::move(c)), metrics(pipeline_names(config.pipelines)) {}

void GatewayState::stream_closed() {
  {
    std::lock_guard lock(mu_);
    --active_streams;
  }
  changed_.notify_all();
}

void GatewayState::note_stream_started() {
  {
    std::lock_guard lock(mu_);
    ++streams_started;
  }
  changed_.notify_all();
}

void GatewayState::note_read_pause() {
  {
    std::lock_guard lock(mu_);
    ++read_pauses;
  }
  metrics.read_paused();
  changed_.notify_all();
}

bool GatewayState::wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, condition);
}

PipelineCall::PipelineCall(GatewayState& state, grpc::CallbackServerContext* context, Io io,
                           v1::Summary* upload_response)
    : state_(state), context_(context), io_(std::move(io)), upload_response_(upload_response) {}

PipelineCall::~PipelineCall() {
  if (stream_) stream_->close();  // drains the graph while the state its callbacks use is intact
  if (admitted_) state_.stream_closed();
}

bool PipelineCall::admit() {
  const uint32_t active = ++state_.active_streams;
  admitted_ = true;
  return active <= state_.config.server.max_concurrent_streams;
}

Status PipelineCall::open_stream(const std::string& pipeline_name, const std::string& format, const std::string& label) {
  if (!admit()) {
    return {ErrorCode::ResourceExhausted,
            fmt::format("the server is at its limit of {} concurrent streams; retry later",
                        state_.config.server.max_concurrent_streams)};
  }
  if (pipeline_name.empty()) return {ErrorCode::InvalidArgument, "the StreamHeader must name a pipeline"};
  auto it = state_.config.pipelines.find(pipeline_name);
  if (it == state_.config.pipelines.end()) {
    return {ErrorCode::NotFound, fmt::format("unknown pipeline '{}' (configured: {})", pipeline_name,
                                             known_pipelines(state_.config.pipelines))};
  }
  const pipeline::PipelinePtr& pipeline = it->second;
  if (!format.empty() && format != pipeline->format()) {
    return {ErrorCode::InvalidArgument, fmt::format("pipeline '{}' parses {}, but the stream says its format is {}",
                                                    pipeline_name, pipeline->format(), format)};
  }
  state_.metrics.stream_started(pipeline_name);
  pipeline::Stream::Callbacks callbacks;
  callbacks.on_result = [this](ResultBatch&& batch) { deliver(std::move(batch)); };
  callbacks.on_room = [this] { continue_input(); };
  callbacks.on_finish = [this](const Status& status) { complete(status); };
  auto stream = std::make_unique<pipeline::Stream>(pipeline, state_.config.server.stream_limits, std::move(callbacks));
  // Before stream_ is published, so complete() on another thread sees the id.
  if (state_.recorder) recording_id_ = state_.recorder->start_stream(pipeline_name, format, label);
  {
    // Under mu_ with stream_: a cancel on another thread may complete() the call at any moment.
    std::lock_guard lock(mu_);
    pipeline_name_ = pipeline_name;
    opened_at_ = std::chrono::steady_clock::now();
    stream_ = std::move(stream);
  }
  state_.note_stream_started();
  spdlog::info("stream start pipeline={} input={} peer={}", pipeline_name, label.empty() ? "-" : label,
               context_->peer());
  return Status::Ok();
}

void PipelineCall::start_client_input() { maybe_read(); }

void PipelineCall::start_file_input(const v1::ProcessFileRequest& request) {
  const ServerOptions& server = state_.config.server;
  if (server.data_dir.empty()) {
    complete({ErrorCode::FailedPrecondition, "ProcessFile is disabled: the server has no data_dir configured"});
    return;
  }
  auto path = resolve_inside(server.data_dir, request.path());
  if (!path) {
    complete({ErrorCode::PermissionDenied,
              fmt::format("path '{}' is not a relative path inside the server's data_dir", request.path())});
    return;
  }
  const size_t chunk_bytes =
      request.chunk_size() ? std::min<size_t>(request.chunk_size(), server.max_message_bytes) : server.file_chunk_bytes;
  try {
    file_ = std::make_unique<FileChunkReader>(*path, chunk_bytes);
  } catch (const Error&) {  // its message names the server's own path
    complete({ErrorCode::NotFound, fmt::format("no file '{}' in the server's data_dir", request.path())});
    return;
  }
  if (Status s = open_stream(request.pipeline(), "", request.path()); !s.ok()) {
    complete(s);
    return;
  }
  pump_file();
}

void PipelineCall::on_read_done(bool ok) {
  pipeline::Stream* stream = stream_.get();  // only this reaction creates it, so no lock is needed
  if (!ok) {
    {
      std::lock_guard lock(mu_);
      reading_ = false;
      input_done_ = true;
    }
    // The client half-closed, or the call broke: then on_cancel reports it, and the input must
    // not be finished as if it were complete.
    if (context_->IsCancelled()) return;
    if (stream) {
      stream->finish();
    } else {
      complete({ErrorCode::InvalidArgument, "the input ended before its StreamHeader"});
    }
    return;
  }
  Status status;
  if (!stream) {
    if (request_.kind_case() != v1::InputMessage::kHeader) {
      status = {ErrorCode::InvalidArgument, "the first message must be a StreamHeader naming the pipeline"};
    } else {
      const v1::StreamHeader& h = request_.header();
      status = open_stream(h.pipeline(), h.format(), h.name());
    }
  } else if (request_.kind_case() == v1::InputMessage::kChunk) {
    const size_t size = request_.chunk().size();
    state_.bytes_in += size;
    state_.metrics.chunk_received(pipeline_name_, size);
    if (state_.recorder) state_.recorder->chunk(recording_id_, request_.chunk());
    stream->push(std::move(*request_.mutable_chunk()));
    raise_peak(state_.peak_chunks_in_flight, stream->chunks_in_flight());
  } else {
    status = {ErrorCode::InvalidArgument, "a StreamHeader may only be the first message of a stream"};
  }
  {
    std::lock_guard lock(mu_);
    reading_ = false;  // request_ is free again only now
  }
  if (!status.ok()) {
    fail(status);
    return;
  }
  maybe_read();
}

void PipelineCall::on_write_done(bool ok) {
  bool was_result;
  {
    std::lock_guard lock(mu_);
    write_in_flight_ = false;
    was_result = writing_.kind_case() == v1::OutputMessage::kBatch;
    if (!ok) outbox_.clear();
  }
  if (!ok) {
    fail({ErrorCode::Cancelled, "the client stopped receiving results"});
  } else if (was_result && stream_) {
    stream_->result_consumed();
  }
  maybe_write_or_finish();
  continue_input();
}

void PipelineCall::on_cancel() {
  const bool deadline = context_->deadline() <= std::chrono::system_clock::now();
  fail(deadline ? Status{ErrorCode::DeadlineExceeded, "the call's deadline expired before the stream finished"}
                : Status{ErrorCode::Cancelled, "the client cancelled the call"});
}

void PipelineCall::fail(const Status& status) {
  pipeline::Stream* stream;
  {
    std::lock_guard lock(mu_);
    stream = stream_.get();
  }
  if (stream) {
    stream->cancel(status);  // its on_finish calls complete()
  } else {
    complete(status);
  }
}

// Called once per call: by the stream's on_finish, or directly when no stream was opened.
void PipelineCall::complete(const Status& status) {
  pipeline::Stream* stream;
  std::string pipeline_name;
  std::chrono::steady_clock::time_point opened_at;
  {
    std::lock_guard lock(mu_);
    if (final_status_) return;
    stream = stream_.get();
    pipeline_name = pipeline_name_;
    opened_at = opened_at_;
    if (status.ok()) {
      if (upload_response_) {
        to_proto(stream->summary(), *upload_response_);
        upload_response_->set_pipeline(pipeline_name_);
      } else {
        v1::OutputMessage& last = outbox_.emplace_back();
        to_proto(stream->summary(), *last.mutable_summary());
        last.mutable_summary()->set_pipeline(pipeline_name_);
      }
    } else {
      outbox_.clear();  // a failed stream's partial results are not sent
      ++state_.streams_failed;
    }
    final_status_ = to_grpc(status);
  }
  pipeline::Counters c;
  std::chrono::steady_clock::duration elapsed{};
  if (stream) {
    if (state_.recorder) state_.recorder->end_stream(recording_id_, status);
    c = stream->summary().counters;
    elapsed = std::chrono::steady_clock::now() - opened_at;
  }
  state_.metrics.stream_finished(pipeline_name, status.code, c, elapsed);
  spdlog::info("stream end pipeline={} status={} bytes_in={} records_in={} records_out={} rejected={} seconds={:.3f} "
               "message=\"{}\"",
               pipeline_name.empty() ? "-" : pipeline_name, error_code_name(status.code), c.bytes_in, c.records_in,
               c.records_out, c.records_rejected, std::chrono::duration<double>(elapsed).count(), status.message);
  maybe_write_or_finish();
}

void PipelineCall::deliver(ResultBatch&& batch) {
  Status over_limit;
  {
    std::lock_guard lock(mu_);
    if (final_status_) return;
    if (upload_response_) {
      upload_rows_ += batch.rows.size();
      if (upload_rows_ > state_.config.server.max_upload_result_rows) {
        over_limit = {ErrorCode::ResourceExhausted,
                      fmt::format("pipeline '{}' produced more than {} result rows (max_upload_result_rows); "
                                  "use Process to stream results",
                                  pipeline_name_, state_.config.server.max_upload_result_rows)};
      } else {
        to_proto(std::move(batch), *upload_response_->add_results());
      }
    } else {
      to_proto(std::move(batch), *outbox_.emplace_back().mutable_batch());
    }
  }
  if (!over_limit.ok()) {
    fail(over_limit);
    return;
  }
  if (upload_response_) {
    stream_->result_consumed();  // collected, not queued for writing
  } else {
    maybe_write_or_finish();
  }
}

void PipelineCall::continue_input() {
  if (file_) {
    pump_file();
  } else {
    maybe_read();
  }
}

void PipelineCall::maybe_read() {
  bool paused = false;
  {
    std::lock_guard lock(mu_);
    if (reading_ || input_done_ || final_status_) return;
    if (stream_ && !stream_->has_room()) {
      paused = true;  // the graph's on_room (or a finished write) resumes reading
    } else {
      reading_ = true;
    }
  }
  if (paused) {
    state_.note_read_pause();
    return;
  }
  io_.start_read(&request_);
}

void PipelineCall::pump_file() {
  {
    std::lock_guard lock(mu_);
    if (final_status_ || input_done_) return;
    if (pumping_) {
      pump_again_ = true;  // the running pump loops once more, so no room signal is lost
      return;
    }
    pumping_ = true;
  }
  for (;;) {
    bool end = false;
    while (!end && stream_->has_room()) {
      std::string chunk;
      bool read = false;
      try {
        read = file_->next(chunk);
      } catch (const Error&) {  // its message names the server's own path
        fail({ErrorCode::DataLoss, fmt::format("reading the input file failed at offset {}", file_->bytes_read())});
        end = true;
        break;
      }
      if (!read) {
        end = true;
        stream_->finish();
      } else {
        state_.bytes_in += chunk.size();
        state_.metrics.chunk_received(pipeline_name_, chunk.size());
        if (state_.recorder) state_.recorder->chunk(recording_id_, chunk);
        stream_->push(std::move(chunk));
        raise_peak(state_.peak_chunks_in_flight, stream_->chunks_in_flight());
      }
    }
    std::lock_guard lock(mu_);
    if (end) input_done_ = true;
    if (!pump_again_ || input_done_) {
      pumping_ = false;
      return;
    }
    pump_again_ = false;
  }
}

void PipelineCall::maybe_write_or_finish() {
  std::unique_lock lock(mu_);
  if (finished_ || write_in_flight_) return;
  if (!outbox_.empty()) {
    writing_ = std::move(outbox_.front());
    outbox_.pop_front();
    write_in_flight_ = true;
    lock.unlock();
    io_.start_write(&writing_);
    return;
  }
  if (!final_status_) return;
  finished_ = true;
  const grpc::Status status = *final_status_;
  lock.unlock();
  io_.finish(status);
}

}  // namespace sluice::gateway
