#pragma once
// Starts the real gateway in process on an ephemeral loopback port, from inline YAML.
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "gateway/client.h"
#include "gateway/server.h"

namespace sluice::testing {

class TestGateway {
 public:
  explicit TestGateway(const std::string& yaml)
      : quiet_logs_((spdlog::set_level(spdlog::level::warn), true)),
        server_(std::make_unique<gateway::Server>(gateway::load_gateway_config(
            config::load_string(yaml, "test-gateway.yaml"), pipeline::StageRegistry::with_builtins()))),
        channel_(gateway::Client::connect({.target = address()})),
        client_(channel_) {}

  std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  gateway::Server& server() { return *server_; }
  gateway::GatewayState& state() { return server_->state(); }
  gateway::Client& client() { return client_; }
  std::unique_ptr<v1::Sluice::Stub> stub() { return v1::Sluice::NewStub(channel_); }

 private:
  bool quiet_logs_;  // stream start/end lines would drown the test output
  std::unique_ptr<gateway::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  gateway::Client client_;
};

// The config of `server_lines` (each indented by two spaces, each ending in '\n') under `server:`,
// with one csv pipeline: for tests of the server's options. A key's line in the file is 1 + its
// line in `server_lines`.
inline gateway::GatewayConfig config_with_server(const std::string& server_lines) {
  return gateway::load_gateway_config(
      config::load_string("server:\n" + server_lines + "pipelines:\n  p:\n    stages:\n      - type: csv\n",
                          "server.yaml"),
      pipeline::StageRegistry::with_builtins());
}

inline gateway::ChunkSource chunks_of(const std::string& data, size_t size) {
  auto pos = std::make_shared<size_t>(0);
  return [data, size, pos](std::string& chunk) {
    if (*pos >= data.size()) return false;
    chunk = data.substr(*pos, size);
    *pos += chunk.size();
    return true;
  };
}

inline v1::StreamHeader header_for(const std::string& pipeline) {
  v1::StreamHeader h;
  h.set_pipeline(pipeline);
  return h;
}

}  // namespace sluice::testing
