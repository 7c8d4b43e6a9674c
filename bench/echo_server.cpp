// echo_server: the raw gRPC C++ baseline for the small-message benchmark. It implements the
// sluice.v1 Process RPC on the same callback API as the gateway and answers each chunk with a
// one-row ResultBatch holding that chunk, then a Summary. Like the gateway, it keeps reading
// while replies are being written, one write at a time, and stops reading while 16 replies wait
// (the bench config's max_pending_results), so both servers get the same room to pipeline.
// Usage: echo_server [--listen 127.0.0.1:0] [--port-file FILE]
#include <deque>
#include <mutex>

#include "bench/serve.h"
#include "sluice/v1/sluice.grpc.pb.h"

namespace {

using namespace sluice;

constexpr size_t kMaxPendingReplies = 16;

class EchoReactor final : public grpc::ServerBidiReactor<v1::InputMessage, v1::OutputMessage> {
 public:
  EchoReactor() { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    bool read_more = false;
    {
      std::lock_guard lock(mu_);
      reading_ = false;
      if (!ok) {
        input_done_ = true;
        v1::Summary* summary = outbox_.emplace_back().mutable_summary();
        summary->set_pipeline(pipeline_);
        summary->mutable_counters()->set_bytes_in(bytes_);
        summary->mutable_counters()->set_chunks_in(chunks_);
        summary->mutable_counters()->set_records_in(chunks_);
        summary->mutable_counters()->set_records_out(chunks_);
        summary->mutable_counters()->set_results_emitted(chunks_);
      } else if (in_.kind_case() == v1::InputMessage::kChunk) {
        bytes_ += in_.chunk().size();
        ++chunks_;
        v1::ResultBatch* batch = outbox_.emplace_back().mutable_batch();
        batch->add_columns("chunk");
        batch->add_rows()->add_values()->set_string_value(std::move(*in_.mutable_chunk()));
      } else if (in_.kind_case() == v1::InputMessage::kHeader) {
        pipeline_ = in_.header().pipeline();
      }
      read_more = ok && outbox_.size() < kMaxPendingReplies;
      reading_ = read_more;
    }
    if (read_more) StartRead(&in_);
    write_or_finish();
  }

  void OnWriteDone(bool ok) override {
    bool read_more = false;
    {
      std::lock_guard lock(mu_);
      writing_ = false;
      if (!ok) {
        outbox_.clear();
        failed_ = true;
      }
      read_more = !reading_ && !input_done_ && !failed_ && outbox_.size() < kMaxPendingReplies;
      if (read_more) reading_ = true;
    }
    if (read_more) StartRead(&in_);
    write_or_finish();
  }

  void OnDone() override { delete this; }

 private:
  void write_or_finish() {
    std::unique_lock lock(mu_);
    if (writing_ || finished_) return;
    if (!outbox_.empty()) {
      out_ = std::move(outbox_.front());
      outbox_.pop_front();
      writing_ = true;
      lock.unlock();
      StartWrite(&out_);
      return;
    }
    if (!input_done_ && !failed_) return;
    finished_ = true;
    const bool failed = failed_;
    lock.unlock();
    Finish(failed ? grpc::Status(grpc::StatusCode::CANCELLED, "the client stopped receiving") : grpc::Status::OK);
  }

  std::mutex mu_;
  v1::InputMessage in_;   // the read in flight lands here
  v1::OutputMessage out_;  // the write in flight
  std::deque<v1::OutputMessage> outbox_;
  bool reading_ = true;
  bool writing_ = false;
  bool input_done_ = false;
  bool failed_ = false;
  bool finished_ = false;
  std::string pipeline_;
  uint64_t bytes_ = 0;
  uint64_t chunks_ = 0;
};

class EchoService final : public v1::Sluice::CallbackService {
 public:
  grpc::ServerBidiReactor<v1::InputMessage, v1::OutputMessage>* Process(grpc::CallbackServerContext*) override {
    return new EchoReactor();
  }
};

}  // namespace

int main(int argc, char** argv) {
  EchoService service;
  return sluice::bench::serve(argc, argv, "echo_server", service);
}
