#include "gateway/gateway_config.h"

#include <filesystem>

#include <fmt/format.h>

namespace sluice::gateway {

namespace {

uint32_t positive_u32(const config::Node& node) {
  const int64_t v = node.as_int();
  if (v <= 0 || v > UINT32_MAX) node.fail(fmt::format("expected a positive integer, got {}", v));
  return static_cast<uint32_t>(v);
}

uint64_t positive_bytes(const config::Node& node) {
  const uint64_t v = node.as_bytes();
  if (v == 0) node.fail("expected a positive size");
  return v;
}

pipeline::StreamLimits parse_stream_limits(const config::Node& node) {
  node.expect_keys({"max_chunks_in_flight", "max_bytes_in_flight", "max_pending_results"}, "stream_limits");
  pipeline::StreamLimits limits;
  if (auto n = node.get("max_chunks_in_flight")) limits.max_chunks_in_flight = positive_u32(*n);
  if (auto n = node.get("max_bytes_in_flight")) limits.max_bytes_in_flight = positive_bytes(*n);
  if (auto n = node.get("max_pending_results")) limits.max_pending_results = positive_u32(*n);
  return limits;
}

// Relative paths are taken from the config file's folder, so a config and its files move together.
std::string path_beside_config(const config::Node& node) {
  std::filesystem::path path = node.as_string();
  if (path.is_relative()) path = std::filesystem::path(node.file()).parent_path() / path;
  return path.lexically_normal().string();
}

}  // namespace

ServerOptions parse_server_options(const config::Node& node) {
  node.expect_keys({"listen", "data_dir", "max_message_bytes", "max_concurrent_streams", "max_memory_bytes",
                    "file_chunk_bytes", "max_upload_result_rows", "stream_limits", "compression",
                    "recording", "metrics"},
                   "server");
  ServerOptions options;
  options.listen = node.string_or("listen", options.listen);
  if (auto n = node.get("data_dir")) options.data_dir = path_beside_config(*n);
  if (auto n = node.get("max_message_bytes")) options.max_message_bytes = positive_bytes(*n);
  if (auto n = node.get("max_concurrent_streams")) options.max_concurrent_streams = positive_u32(*n);
  if (auto n = node.get("max_memory_bytes")) options.max_memory_bytes = positive_bytes(*n);
  if (auto n = node.get("file_chunk_bytes")) options.file_chunk_bytes = positive_bytes(*n);
  if (auto n = node.get("max_upload_result_rows")) options.max_upload_result_rows = positive_bytes(*n);
  if (auto n = node.get("stream_limits")) options.stream_limits = parse_stream_limits(*n);
  if (auto recording = node.get("recording")) {
    recording->expect_keys({"path", "max_bytes"}, "recording");
    options.recording_path = path_beside_config(recording->require("path", "recording"));
    if (auto n = recording->get("max_bytes")) options.recording_max_bytes = positive_bytes(*n);
  }
  if (auto metrics = node.get("metrics")) {
    metrics->expect_keys({"listen"}, "metrics");
    options.metrics_listen = metrics->require("listen", "metrics").as_string();
  }
  if (auto n = node.get("compression")) {
    const std::string c = n->as_string();
    if (c != "none" && c != "gzip") n->fail(fmt::format("compression must be none or gzip, got '{}'", c));
    options.gzip = c == "gzip";
  }
  // Every stream may hold its budget plus one message being read: all of them together must fit.
  const uint64_t worst_case = uint64_t{options.max_concurrent_streams} *
                              (options.stream_limits.max_bytes_in_flight + options.max_message_bytes);
  if (worst_case > options.max_memory_bytes) {
    node.fail(fmt::format("max_concurrent_streams x (stream_limits.max_bytes_in_flight + max_message_bytes) = {} "
                          "bytes exceeds max_memory_bytes ({}); lower a limit or raise max_memory_bytes",
                          worst_case, options.max_memory_bytes));
  }
  if (options.file_chunk_bytes > options.max_message_bytes) {
    node.require("file_chunk_bytes", "server").fail("file_chunk_bytes cannot exceed max_message_bytes");
  }
  return options;
}

GatewayConfig load_gateway_config(const config::Node& root, const pipeline::StageRegistry& registry) {
  root.expect_keys({"server", "pipelines"}, "the config");
  GatewayConfig config;
  if (auto server = root.get("server")) config.server = parse_server_options(*server);
  config.pipelines = pipeline::build_pipelines(root.require("pipelines", "the config"), registry);
  return config;
}

GatewayConfig load_gateway_config_file(const std::string& path, const pipeline::StageRegistry& registry) {
  return load_gateway_config(config::load_file(path), registry);
}

}  // namespace sluice::gateway
