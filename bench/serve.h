#pragma once
// The shared main of the benchmark's baseline gRPC servers (raw_sink_server, echo_server): serves
// one service on --listen (default 127.0.0.1:0, a free port), writes the bound port to
// --port-file once serving, and stops on SIGTERM or SIGINT. Message limits match the gateway's
// bench config (4 MiB), and so do the malloc settings (keep_freed_memory_for_reuse): a baseline
// whose allocator gives every received message's memory back to the kernel measures page faults,
// not the transport. So does the gateway's default CPU scheduling (batch).
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "core/cpu_scheduling.h"
#include "core/process_memory.h"

namespace sluice::bench {

inline int serve(int argc, char** argv, const char* name, grpc::Service& service) {
  keep_freed_memory_for_reuse();
  if (auto failed = use_cpu_scheduling(CpuScheduling::Batch))
    std::cerr << name << ": batch scheduling: " << *failed << "\n";
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (arg == "--port-file" && i + 1 < argc) {
      port_file = argv[++i];
    } else {
      std::cerr << "usage: " << name << " [--listen 127.0.0.1:0] [--port-file FILE]\n";
      return 2;
    }
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before gRPC starts its threads

  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(4 << 20);
  builder.SetMaxSendMessageSize(4 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << name << ": cannot listen on " << listen << "\n";
    return 1;
  }
  if (!port_file.empty()) {
    std::ofstream(port_file + ".tmp") << port << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());  // readers never see a partial file
  }
  int signal = 0;
  sigwait(&signals, &signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server->Wait();
  return 0;
}

}  // namespace sluice::bench
