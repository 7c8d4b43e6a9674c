// sluice-gateway: serves the pipelines of a YAML config over gRPC until SIGTERM/SIGINT, then
// drains: health turns NOT_SERVING, new calls are refused, running streams get `--drain-seconds`.
#include <csignal>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "core/cpu_scheduling.h"
#include "core/process_memory.h"
#include "gateway/openssl_exit.h"
#include "gateway/server.h"
#include "gateway/version.h"

int main(int argc, char** argv) {
  sluice::keep_freed_memory_for_reuse();
  CLI::App app{"sluice-gateway: stream-processing gateway.\n"
               "Example: sluice-gateway --config config/examples/default.yaml --listen 127.0.0.1:50051"};
  std::string config_path;
  std::string listen;
  std::string port_file;
  std::string log_level = "info";
  double drain_seconds = 10;
  bool validate_only = false;
  app.add_option("-c,--config", config_path, "YAML config with `server:` and `pipelines:`")->required();
  app.add_option("--listen", listen, "address to listen on (overrides server.listen); port 0 picks a free port");
  app.add_option("--port-file", port_file, "write the bound port to this file once serving");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  app.add_option("--drain-seconds", drain_seconds, "grace period for running streams on SIGTERM")->capture_default_str();
  app.add_flag("--validate", validate_only, "check the config (server and pipelines) and exit; starts no server");
  app.set_version_flag("--version", sluice::gateway::kVersion);
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);

  // Signals are taken synchronously by sigwait, so the handler is ordinary code.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    sluice::gateway::skip_openssl_cleanup_at_exit();
    auto config = sluice::gateway::load_gateway_config_file(config_path, sluice::pipeline::StageRegistry::with_builtins());
    if (validate_only) {
      std::cout << config_path << ": valid; pipelines:";
      for (const auto& [name, pipeline] : config.pipelines) std::cout << " " << name;
      std::cout << "\n";
      return 0;
    }
    if (!listen.empty()) config.server.listen = listen;
    const std::string address = config.server.listen;
    const size_t pipelines = config.pipelines.size();
    const auto& tls = config.server.tls;
    const char* tls_mode = !tls ? "off" : tls->require_client_cert ? "mutual" : "on";
    const size_t tokens = config.server.auth_tokens.size();
    if (tokens > 0 && !tls) spdlog::warn("bearer tokens without tls: they cross the network in clear text");
    // Before the server starts its threads, which inherit the policy.
    const bool batch = config.server.cpu_scheduling == sluice::CpuScheduling::Batch;
    if (auto failed = sluice::use_cpu_scheduling(config.server.cpu_scheduling)) {
      spdlog::warn("cpu_scheduling={} not applied: {}", batch ? "batch" : "normal", *failed);
    }
    sluice::gateway::Server server(std::move(config));
    spdlog::info(
        "serving address={} port={} metrics_port={} pipelines={} tls={} auth_tokens={} cpu_scheduling={} version={}",
        address, server.port(), server.metrics_port(), pipelines, tls_mode, tokens, batch ? "batch" : "normal",
        sluice::gateway::kVersion);
    if (!port_file.empty()) {
      std::ofstream(port_file + ".tmp") << server.port() << "\n";
      std::rename((port_file + ".tmp").c_str(), port_file.c_str());  // readers never see a partial file
    }
    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("draining signal={} grace_seconds={}", signal, drain_seconds);
    server.shutdown(std::chrono::milliseconds(static_cast<int64_t>(drain_seconds * 1000)));
    server.wait();
    spdlog::info("stopped");
  } catch (const sluice::Error& e) {
    std::cerr << "sluice-gateway: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
