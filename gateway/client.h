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

// Where the gateway is and how to reach it.
struct ChannelOptions {
  std::string target = "127.0.0.1:50051";  // host:port
  bool tls = false;
  std::string ca_file{};      // with tls: the CAs that sign the server's certificate; empty: the system's roots
  std::string cert_file{};    // with tls: this client's certificate for mutual TLS (needs key_file)
  std::string key_file{};     // its private key
  std::string server_name{};  // with tls: the name the server's certificate must carry; empty: the target's host
  std::string token{};        // set: every call carries `authorization: Bearer <token>`
  int max_receive_bytes = 64 << 20;
};

struct CallOptions {
  std::optional<std::chrono::milliseconds> timeout;  // becomes the call's deadline
  bool gzip = false;                                  // compress what the client sends
};

// Fills `chunk` with the next piece of input; false at the end.
using ChunkSource = std::function<bool(std::string& chunk)>;
using BatchHandler = std::function<void(const v1::ResultBatch& batch)>;

// A token file holds one token; surrounding whitespace (a final newline) is dropped.
// Throws Error(InvalidArgument) when the file cannot be read or holds no valid token.
std::string read_token_file(const std::string& path);

class Client {
 public:
  explicit Client(std::shared_ptr<grpc::Channel> channel);
  // A channel as `options` describe it; the token goes with every call on it, also those of stubs
  // made from the channel. Throws Error(InvalidArgument) for inconsistent options or an
  // unreadable file. Nothing connects until the first call.
  static std::shared_ptr<grpc::Channel> connect(const ChannelOptions& options);

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
