// raw_sink_server: the raw gRPC C++ baseline for the end-to-end benchmark. It implements the
// sluice.v1 Upload RPC on the same callback API as the gateway, but only counts the bytes and
// chunks it receives; the Summary carries them in counters.bytes_in and chunks_in, so the
// unchanged sluice-client drives it like the gateway. The other RPCs are left unimplemented.
// Usage: raw_sink_server [--listen 127.0.0.1:0] [--port-file FILE]
#include "bench/serve.h"
#include "sluice/v1/sluice.grpc.pb.h"

namespace {

using namespace sluice;

class SinkReactor final : public grpc::ServerReadReactor<v1::InputMessage> {
 public:
  explicit SinkReactor(v1::Summary* response) : response_(response) { StartRead(&message_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed (or the call broke: then Finish is a no-op)
      response_->set_pipeline(pipeline_);
      response_->mutable_counters()->set_bytes_in(bytes_);
      response_->mutable_counters()->set_chunks_in(chunks_);
      Finish(grpc::Status::OK);
      return;
    }
    if (message_.kind_case() == v1::InputMessage::kChunk) {
      bytes_ += message_.chunk().size();
      ++chunks_;
    } else if (message_.kind_case() == v1::InputMessage::kHeader) {
      pipeline_ = message_.header().pipeline();
    }
    StartRead(&message_);
  }
  void OnDone() override { delete this; }

 private:
  v1::Summary* response_;
  v1::InputMessage message_;
  std::string pipeline_;
  uint64_t bytes_ = 0;
  uint64_t chunks_ = 0;
};

class SinkService final : public v1::Sluice::CallbackService {
 public:
  grpc::ServerReadReactor<v1::InputMessage>* Upload(grpc::CallbackServerContext*, v1::Summary* response) override {
    return new SinkReactor(response);
  }
};

}  // namespace

int main(int argc, char** argv) {
  SinkService service;
  return sluice::bench::serve(argc, argv, "raw_sink_server", service);
}
