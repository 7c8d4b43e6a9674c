#include "gateway/server.h"

#include <fmt/format.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

namespace sluice::gateway {

namespace {

std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::optional<TlsOptions>& tls) {
  if (!tls) return grpc::InsecureServerCredentials();
  // Without client_ca no client certificate is asked for; with it, a presented one must verify,
  // and require_client_cert refuses clients that present none (mutual TLS).
  const grpc_ssl_client_certificate_request_type client_certificates =
      tls->client_ca_pem.empty()  ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
      : tls->require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                 : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  grpc::SslServerCredentialsOptions ssl(client_certificates);
  ssl.pem_root_certs = tls->client_ca_pem;
  ssl.pem_key_cert_pairs.push_back({tls->key_pem, tls->cert_pem});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

Server::Server(GatewayConfig config) : state_(std::move(config)), service_(state_) {
  const ServerOptions& options = state_.config.server;
  if (!options.recording_path.empty()) {
    state_.recorder = std::make_unique<RecordingWriter>(options.recording_path, options.recording_max_bytes);
  }
  if (!options.metrics_listen.empty()) state_.metrics.serve(options.metrics_listen);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, server_credentials(options.tls), &port_);
  builder.RegisterService(&service_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  grpc::ResourceQuota quota("sluice");
  quota.Resize(options.max_memory_bytes);
  builder.SetResourceQuota(quota);
  if (options.gzip) builder.SetDefaultCompressionAlgorithm(GRPC_COMPRESS_GZIP);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, static_cast<int>(options.max_concurrent_streams));
  if (options.transport_window_bytes > 0) {
    // A fixed window: without BDP probing gRPC never grows it past the lookahead.
    builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, static_cast<int>(options.transport_window_bytes));
  }
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
