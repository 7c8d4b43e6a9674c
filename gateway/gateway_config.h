#pragma once
// The gateway's config file: a `server:` section (listen address, limits, TLS, auth) and the
// `pipelines:`.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/node.h"
#include "core/cpu_scheduling.h"
#include "gateway/auth.h"
#include "pipeline/engine.h"
#include "pipeline/pipeline.h"
#include "pipeline/registry.h"

namespace sluice::gateway {

// TLS on the listening port. The PEM files are read, and checked, when the config is loaded.
struct TlsOptions {
  std::string cert_pem;              // the server's certificate chain
  std::string key_pem;               // its private key
  std::string client_ca_pem;         // set: client certificates are verified against these CAs
  bool require_client_cert = false;  // with client_ca: a client without a valid certificate is refused (mTLS)
};

struct ServerOptions {
  std::string listen = "127.0.0.1:50051";
  std::string data_dir;                          // root for ProcessFile paths; empty = disabled
  uint64_t max_message_bytes = 4u << 20;         // per message, both directions
  uint32_t max_concurrent_streams = 64;          // streaming calls at once; more get RESOURCE_EXHAUSTED
  uint64_t max_memory_bytes = 1u << 30;          // gRPC's ResourceQuota, and the bound on all streams' budgets
  bool gzip = false;                             // compress responses
  uint64_t file_chunk_bytes = 64u << 10;         // ProcessFile's default read size
  uint64_t max_upload_result_rows = 100000;      // Upload holds results until the end; cap them
  pipeline::StreamLimits stream_limits;          // per-stream in-flight budget
  // Each stream's HTTP/2 receive window, which the client may fill while the stream does not read.
  // 0: gRPC's adaptive window (BDP probing), the fastest, but not bounded by this config.
  uint64_t transport_window_bytes = 0;
  std::string recording_path;                    // record every stream here; empty = off
  uint64_t recording_max_bytes = 1ull << 30;     // the recording stops growing at this size
  std::string metrics_listen;                    // Prometheus /metrics over HTTP here; empty = off
  std::optional<TlsOptions> tls;                 // unset: plaintext
  std::vector<TokenDigest> auth_tokens;          // bearer tokens sluice.v1 calls must carry; empty: none
  // The process's threads: batch favours the streams' throughput when every core is busy (see
  // CpuScheduling); normal, the latency of a thread woken meanwhile.
  CpuScheduling cpu_scheduling = CpuScheduling::Batch;
};

struct GatewayConfig {
  ServerOptions server;
  pipeline::PipelineMap pipelines;
};

// Whether loading reads the files that `server.tls` and `server.auth` name. ValidateConfig checks a
// caller's YAML without them: its relative paths mean nothing on the server, and a remote caller
// must not learn which of the server's files exist.
enum class ServerFiles { Read, Skip };

ServerOptions parse_server_options(const config::Node& node, ServerFiles files = ServerFiles::Read);
// Reads a whole config (both sections); errors carry file:line:column.
GatewayConfig load_gateway_config(const config::Node& root, const pipeline::StageRegistry& registry,
                                  ServerFiles files = ServerFiles::Read);
GatewayConfig load_gateway_config_file(const std::string& path, const pipeline::StageRegistry& registry);

}  // namespace sluice::gateway
