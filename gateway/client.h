#pragma once
// Client library for the sluice gateway, used by sluice-client, the replay tool and the tests.
// Calls are synchronous; a call that fails throws sluice::Error carrying the gRPC status code.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "sluice/v1/sluice.grpc.pb.h"

namespace sluice::gateway {

struct CallOptions {
  std::optional<std::chrono::milliseconds> timeout;  // becomes the call's deadline
  bool gzip = false;                                  // compress what the client sends
};

// Fills `chunk` with the next piece of input; false at the end.
using ChunkSource = std::function<bool(std::string& chunk)>;
using BatchHandler = std::function<void(const v1::ResultBatch& batch)>;

class Client {
 public:
  explicit Client(std::shared_ptr<grpc::Channel> channel);
  // An insecure channel to `target` (host:port) accepting results up to max_receive_bytes.
  static std::shared_ptr<grpc::Channel> connect(const std::string& target, int max_receive_bytes = 64 << 20);

  v1::DescribeResponse describe(const CallOptions& options = {});
  v1::ValidateConfigResponse validate_config(const std::string& yaml, const CallOptions& options = {});

  // Client-streaming: sends the header and every chunk; the Summary holds the results.
  v1::Summary upload(const v1::StreamHeader& header, const ChunkSource& next_chunk, const CallOptions& options = {});
  // Bidirectional: results arrive through on_batch while chunks are still being sent.
  v1::Summary process(const v1::StreamHeader& header, const ChunkSource& next_chunk, const BatchHandler& on_batch,
                      const CallOptions& options = {});
  // Server-streaming over a file in the server's data_dir.
  v1::Summary process_file(const v1::ProcessFileRequest& request, const BatchHandler& on_batch,
                           const CallOptions& options = {});

 private:
  std::unique_ptr<v1::Sluice::Stub> stub_;
};

}  // namespace sluice::gateway
