#pragma once
// A running gateway: the gRPC server with the sluice service, health checking, reflection and
// the configured limits. Used by the gateway binary and, in process, by the tests.
#include <chrono>
#include <memory>

#include <grpcpp/grpcpp.h>

#include "gateway/gateway_config.h"
#include "gateway/pipeline_call.h"
#include "gateway/service.h"

namespace sluice::gateway {

class Server {
 public:
  // Binds and starts serving; throws Error(Unavailable) when the address cannot be bound.
  explicit Server(GatewayConfig config);
  ~Server();

  int port() const { return port_; }  // the bound port (useful with ":0")
  int metrics_port() const { return state_.metrics.port(); }  // 0 when server.metrics is not set
  GatewayState& state() { return state_; }
  // Stops accepting calls, lets running ones finish until `grace` runs out, then cancels them.
  void shutdown(std::chrono::milliseconds grace);
  void wait();

 private:
  GatewayState state_;
  SluiceService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace sluice::gateway
