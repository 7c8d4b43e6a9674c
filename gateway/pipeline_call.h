#pragma once
// The flow-control bridge between one gRPC streaming call and its pipeline stream.
//
// Inbound: a read is started only while the stream's budget has room (chunks, bytes and results
// not yet written); otherwise reading pauses until the graph frees budget. While paused, HTTP/2
// flow control fills up and the client's writes block, so no queue grows without bound.
// Outbound: results go out one write at a time; until a write completes they wait in the outbox,
// and each one holds a slot of the stream's pending-results budget, so a slow reader stops reads.
//
// A reactor owns one PipelineCall and forwards its reactions to it. All reactions and graph
// callbacks may run on different threads; the mutex guards the call's state, and no gRPC or
// stream operation is started while holding it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include <grpcpp/grpcpp.h>

#include "core/chunk_source.h"
#include "gateway/gateway_config.h"
#include "gateway/metrics.h"
#include "gateway/recording.h"
#include "pipeline/engine.h"
#include "sluice/v1/sluice.pb.h"

namespace sluice::gateway {

// Server-wide state shared by every call, and the counters tests and metrics read.
struct GatewayState {
  explicit GatewayState(GatewayConfig c);
  const GatewayConfig config;
  GatewayMetrics metrics;
  std::atomic<uint32_t> active_streams{0};
  std::atomic<uint64_t> streams_started{0};
  std::atomic<uint64_t> streams_failed{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> read_pauses{0};           // times a stream stopped reading for lack of room
  std::atomic<size_t> peak_chunks_in_flight{0};  // highest any stream reached
  std::unique_ptr<RecordingWriter> recorder;     // set by the Server when server.recording is configured

  // A call that was admitted has ended and freed its stream.
  void stream_closed();
  void note_stream_started();
  void note_read_pause();
  // Waits until `condition` (over the counters above) holds; false if `timeout` passes first.
  bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

 private:
  std::mutex mu_;
  std::condition_variable changed_;
};

class PipelineCall {
 public:
  // What the call may ask of its reactor; start_read/start_write are null where the RPC shape
  // has no such direction.
  struct Io {
    std::function<void(v1::InputMessage*)> start_read;
    std::function<void(const v1::OutputMessage*)> start_write;
    std::function<void(const grpc::Status&)> finish;
  };

  // With `upload_response` set, results are collected into it (client-streaming); otherwise they
  // are written as OutputMessages followed by the Summary.
  PipelineCall(GatewayState& state, grpc::CallbackServerContext* context, Io io, v1::Summary* upload_response);
  ~PipelineCall();

  void start_client_input();                                    // Upload, Process
  void start_file_input(const v1::ProcessFileRequest& request);  // ProcessFile
  void on_read_done(bool ok);
  void on_write_done(bool ok);
  void on_cancel();

 private:
  bool admit();
  Status open_stream(const std::string& pipeline_name, const std::string& format, const std::string& label);
  void fail(const Status& status);
  void complete(const Status& status);
  void deliver(ResultBatch&& batch);
  void continue_input();
  void maybe_read();
  void pump_file();
  void maybe_write_or_finish();

  GatewayState& state_;
  grpc::CallbackServerContext* context_;
  Io io_;
  v1::Summary* upload_response_;
  bool admitted_ = false;
  std::string pipeline_name_;  // set under mu_ when the stream opens
  std::chrono::steady_clock::time_point opened_at_;
  uint32_t recording_id_ = 0;  // this stream in the recording; 0 = not recorded

  std::mutex mu_;
  v1::InputMessage request_;     // the read in flight lands here
  bool reading_ = false;
  bool input_done_ = false;
  std::deque<v1::OutputMessage> outbox_;
  v1::OutputMessage writing_;    // the write in flight
  bool write_in_flight_ = false;
  std::optional<grpc::Status> final_status_;  // the stream is over; finish once the outbox drains
  bool finished_ = false;
  uint64_t upload_rows_ = 0;

  std::unique_ptr<FileChunkReader> file_;  // ProcessFile's input
  bool pumping_ = false;
  bool pump_again_ = false;

  std::unique_ptr<pipeline::Stream> stream_;  // last: destroyed first, draining its graph
};

}  // namespace sluice::gateway
