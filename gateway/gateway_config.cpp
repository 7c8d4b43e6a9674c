#include "gateway/gateway_config.h"

#include <filesystem>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/chunk_source.h"
#include "gateway/token.h"

namespace sluice::gateway {

namespace {

// Relative paths are taken from the config file's folder, so a config and its files move together.
std::string path_beside_config(const config::Node& node) {
  std::filesystem::path path = node.as_string();
  if (path.is_relative()) path = std::filesystem::path(node.file()).parent_path() / path;
  return path.lexically_normal().string();
}

std::string read_file_beside_config(const config::Node& node) {
  try {
    return read_whole_file(path_beside_config(node));
  } catch (const Error& e) {
    node.fail(e.what());
  }
}

// The PEM files are parsed at load, so a wrong or swapped file fails here with its config location
// rather than as a bare "cannot listen" when gRPC starts. Nothing of their content is quoted.
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;
using PrivateKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

using MemoryBio = std::unique_ptr<BIO, decltype(&BIO_free)>;
MemoryBio memory_bio(const std::string& pem) {
  return {BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free};
}

Certificate first_certificate(const std::string& pem) {
  const MemoryBio bio = memory_bio(pem);
  Certificate certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  ERR_clear_error();  // leave OpenSSL's per-thread error queue clean for gRPC
  return certificate;
}

PrivateKey private_key(const std::string& pem) {
  const MemoryBio bio = memory_bio(pem);
  // A passphrase callback that gives none: an encrypted key fails instead of prompting on the terminal.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr), &EVP_PKEY_free);
  ERR_clear_error();
  return key;
}

std::string read_certificates(const config::Node& node, std::string_view what) {
  std::string pem = read_file_beside_config(node);
  if (!first_certificate(pem)) node.fail(fmt::format("{} holds no PEM certificate", what));
  return pem;
}

TlsOptions parse_tls(const config::Node& node, ServerFiles files) {
  node.expect_keys({"cert", "key", "client_ca", "require_client_cert"}, "tls");
  const config::Node cert = node.require("cert", "tls");
  const config::Node key = node.require("key", "tls");
  const std::optional<config::Node> client_ca = node.get("client_ca");
  TlsOptions tls;
  if (auto n = node.get("require_client_cert")) {
    tls.require_client_cert = n->as_bool();
    if (tls.require_client_cert && !client_ca) n->fail("require_client_cert needs client_ca, the CA of the clients");
  }
  if (files == ServerFiles::Skip) return tls;
  tls.cert_pem = read_certificates(cert, "the cert file");
  tls.key_pem = read_file_beside_config(key);
  const PrivateKey parsed_key = private_key(tls.key_pem);
  if (!parsed_key) key.fail("the key file holds no unencrypted PEM private key");
  if (X509_check_private_key(first_certificate(tls.cert_pem).get(), parsed_key.get()) != 1) {
    ERR_clear_error();
    key.fail("the key does not belong to the certificate in the cert file");
  }
  if (client_ca) tls.client_ca_pem = read_certificates(*client_ca, "the client_ca file");
  return tls;
}

// tokens: [...] and tokens_file (one token per line; blank lines and # comments are skipped) add up.
std::vector<TokenDigest> parse_auth(const config::Node& node, ServerFiles files) {
  node.expect_keys({"tokens", "tokens_file"}, "auth");
  const std::string_view token_rule = "a token must be printable ASCII without spaces";
  std::vector<TokenDigest> tokens;
  if (auto list = node.get("tokens")) {
    for (const config::Node& item : list->items()) {
      const std::string token = item.as_string();
      if (!is_valid_token(token)) item.fail(std::string(token_rule));
      tokens.push_back(digest_token(token));
    }
  }
  const std::optional<config::Node> tokens_file = node.get("tokens_file");
  if (tokens_file && files == ServerFiles::Read) {
    std::istringstream lines(read_file_beside_config(*tokens_file));
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      const std::string token(strip_blanks(line));
      if (token.empty() || token.front() == '#') continue;
      if (!is_valid_token(token)) tokens_file->fail(fmt::format("line {} of the tokens file: {}", number, token_rule));
      tokens.push_back(digest_token(token));
    }
  }
  if (tokens.empty() && !(tokens_file && files == ServerFiles::Skip)) {
    node.fail("auth has no token: give tokens: [...] or a tokens_file with one token per line");
  }
  return tokens;
}

// Below one HTTP/2 frame (16 KiB) every frame waits for a window update; HTTP/2 allows up to 2 GiB.
constexpr uint64_t kMinTransportWindow = 16u << 10;
constexpr uint64_t kMaxTransportWindow = 1u << 30;

}  // namespace

ServerOptions parse_server_options(const config::Node& node, ServerFiles files) {
  node.expect_keys({"listen", "data_dir", "max_message_bytes", "max_concurrent_streams", "max_memory_bytes",
                    "file_chunk_bytes", "max_upload_result_rows", "stream_limits", "transport_window_bytes",
                    "compression", "cpu_scheduling", "recording", "metrics", "tls", "auth"},
                   "server");
  ServerOptions options;
  options.listen = node.string_or("listen", options.listen);
  if (auto n = node.get("data_dir")) options.data_dir = path_beside_config(*n);
  if (auto n = node.get("max_message_bytes")) options.max_message_bytes = n->as_positive_bytes();
  if (auto n = node.get("max_concurrent_streams")) options.max_concurrent_streams = n->as_positive_u32();
  if (auto n = node.get("max_memory_bytes")) options.max_memory_bytes = n->as_positive_bytes();
  if (auto n = node.get("file_chunk_bytes")) options.file_chunk_bytes = n->as_positive_bytes();
  if (auto n = node.get("max_upload_result_rows")) options.max_upload_result_rows = n->as_positive_u32();
  if (auto n = node.get("stream_limits")) options.stream_limits = pipeline::StreamLimits::from_yaml(*n);
  if (auto n = node.get("transport_window_bytes")) {
    options.transport_window_bytes = n->as_bytes();
    if (options.transport_window_bytes != 0 && (options.transport_window_bytes < kMinTransportWindow ||
                                                options.transport_window_bytes > kMaxTransportWindow)) {
      n->fail(fmt::format("transport_window_bytes must be 0 (adaptive) or from 16KiB to 1GiB, got {}",
                          options.transport_window_bytes));
    }
  }
  if (auto recording = node.get("recording")) {
    recording->expect_keys({"path", "max_bytes"}, "recording");
    options.recording_path = path_beside_config(recording->require("path", "recording"));
    if (auto n = recording->get("max_bytes")) options.recording_max_bytes = n->as_positive_bytes();
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
  if (auto n = node.get("cpu_scheduling")) {
    const std::string policy = n->as_string();
    if (policy != "batch" && policy != "normal") {
      n->fail(fmt::format("cpu_scheduling must be batch or normal, got '{}'", policy));
    }
    options.cpu_scheduling = policy == "batch" ? CpuScheduling::Batch : CpuScheduling::Normal;
  }
  if (auto n = node.get("tls")) options.tls = parse_tls(*n, files);
  if (auto n = node.get("auth")) options.auth_tokens = parse_auth(*n, files);
  // Every stream may hold its budget, one message being read and a fixed transport window (an
  // adaptive one is left out: gRPC sizes it): all of them together must fit.
  const uint64_t worst_case =
      uint64_t{options.max_concurrent_streams} *
      (options.stream_limits.max_bytes_in_flight + options.max_message_bytes + options.transport_window_bytes);
  if (worst_case > options.max_memory_bytes) {
    node.fail(
        fmt::format("max_concurrent_streams x (stream_limits.max_bytes_in_flight + max_message_bytes + "
                    "transport_window_bytes) = {} bytes exceeds max_memory_bytes ({}); lower a limit or raise "
                    "max_memory_bytes",
                    worst_case, options.max_memory_bytes));
  }
  if (options.file_chunk_bytes > options.max_message_bytes) {
    node.require("file_chunk_bytes", "server").fail("file_chunk_bytes cannot exceed max_message_bytes");
  }
  return options;
}

GatewayConfig load_gateway_config(const config::Node& root, const pipeline::StageRegistry& registry,
                                  ServerFiles files) {
  root.expect_keys({"server", "pipelines"}, "the config");
  GatewayConfig config;
  if (auto server = root.get("server")) config.server = parse_server_options(*server, files);
  config.pipelines = pipeline::build_pipelines(root.require("pipelines", "the config"), registry);
  return config;
}

GatewayConfig load_gateway_config_file(const std::string& path, const pipeline::StageRegistry& registry) {
  return load_gateway_config(config::load_file(path), registry);
}

}  // namespace sluice::gateway
