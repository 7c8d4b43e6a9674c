#include "gateway/server.h"

#include <fmt/format.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

namespace sluice::gateway {

Server::Server(GatewayConfig config) : state_(std::move(config)), service_(state_) {
  const ServerOptions& options = state_.config.server;
  if (!options.recording_path.empty()) {
    state_.recorder = std::make_unique<RecordingWriter>(options.recording_path, options.recording_max_bytes);
  }
  if (!options.metrics_listen.empty()) state_.metrics.serve(options.metrics_listen);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(&service_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  grpc::ResourceQuota quota("sluice");
  quota.Resize(options.max_memory_bytes);
  builder.SetResourceQuota(quota);
  if (options.gzip) builder.SetDefaultCompressionAlgorithm(GRPC_COMPRESS_GZIP);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, static_cast<int>(options.max_concurrent_streams));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    throw Error(ErrorCode::Unavailable, fmt::format("cannot listen on '{}'", options.listen));
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

void Server::shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(std::chrono::system_clock::now() + grace);
}

void Server::wait() { server_->Wait(); }

}  // namespace sluice::gateway
