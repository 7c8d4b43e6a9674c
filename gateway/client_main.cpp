// sluice-client: streams a local file to a gateway in chunks and prints the results.
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "core/chunk_source.h"
#include "core/error.h"
#include "gateway/client.h"
#include "gateway/client_cli.h"
#include "gateway/openssl_exit.h"
#include "gateway/result_format.h"

namespace {

using namespace sluice;

void print_summary(const v1::Summary& summary, const std::vector<v1::ResultBatch>& streamed, bool json) {
  if (json) {
    std::cout << gateway::to_json(summary, streamed).dump(2) << "\n";
    return;
  }
  for (const auto& batch : summary.results()) gateway::print_table(std::cout, batch);
  for (const auto& batch : streamed) gateway::print_table(std::cout, batch);
  gateway::print_counters(std::cout, summary.counters());
  for (const auto& r : summary.dead_letters()) {
    std::cout << "  dead letter: line " << r.line() << " (offset " << r.offset() << ")"
              << (r.field().empty() ? "" : ", field '" + r.field() + "'") << ": " << r.reason() << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice-client: send files to a sluice gateway and print the results.\n"
               "Example: sluice-client send --pipeline http_errors samples/access_log.csv\n"
               "         sluice-client --tls --ca ca.pem --token-file token.txt --target gw:50051 describe"};
  app.require_subcommand(1);
  gateway::ConnectionFlags connection;
  double timeout_seconds = 0;
  bool json = false;
  gateway::add_connection_flags(app, connection);
  app.add_option("--timeout", timeout_seconds, "deadline for the call in seconds (0: none)");
  app.add_flag("--json", json, "print JSON instead of tables");

  auto* send = app.add_subcommand("send", "stream a file (or - for stdin) through a pipeline");
  std::string pipeline, format, file, mode = "upload";
  size_t chunk_size = kDefaultChunkBytes;
  bool gzip = false;
  int result_delay_ms = 0;
  send->add_option("-p,--pipeline", pipeline, "configured pipeline name")->required();
  send->add_option("-f,--format", format, "input format the pipeline must parse (checked by the server)");
  send->add_option("--chunk-size", chunk_size, "bytes per message")->capture_default_str()->check(CLI::Range(size_t{1}, size_t{64} << 20));
  send->add_option("--mode", mode, "upload (client-streaming) or process (bidirectional)")
      ->check(CLI::IsMember({"upload", "process"}))
      ->capture_default_str();
  send->add_flag("--gzip", gzip, "compress the messages sent");
  send->add_option("--result-delay-ms", result_delay_ms,
                   "process mode: pause this long after each result batch (a deliberately slow reader)");
  send->add_option("file", file, "input file, - for stdin")->required();

  auto* remote = app.add_subcommand("process-file", "run a pipeline over a file in the server's data_dir");
  std::string remote_path;
  remote->add_option("-p,--pipeline", pipeline, "configured pipeline name")->required();
  remote->add_option("path", remote_path, "path inside the server's data_dir")->required();

  auto* describe = app.add_subcommand("describe", "show the server's version, limits and pipelines");
  auto* validate = app.add_subcommand("validate", "check a YAML config on the server without running it");
  std::string config_file;
  validate->add_option("config", config_file, "YAML file")->required()->check(CLI::ExistingFile);

  CLI11_PARSE(app, argc, argv);

  gateway::CallOptions options;
  if (timeout_seconds > 0) options.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  options.gzip = gzip;
  try {
    gateway::skip_openssl_cleanup_at_exit();
    gateway::Client client(gateway::Client::connect(gateway::resolve_connection(connection)));
    if (*send) {
      FileChunkReader reader(file, chunk_size);
      v1::StreamHeader header;
      header.set_pipeline(pipeline);
      header.set_format(format);
      header.set_name(file);
      auto next = [&](std::string& chunk) { return reader.next(chunk); };
      std::vector<v1::ResultBatch> streamed;
      v1::Summary summary = mode == "upload"
                                ? client.upload(header, next, options)
                                : client.process(
                                      header, next,
                                      [&](const v1::ResultBatch& b) {
                                        if (result_delay_ms > 0) {
                                          std::this_thread::sleep_for(std::chrono::milliseconds(result_delay_ms));
                                        }
                                        streamed.push_back(b);
                                      },
                                      options);
      print_summary(summary, streamed, json);
    } else if (*remote) {
      v1::ProcessFileRequest request;
      request.set_pipeline(pipeline);
      request.set_path(remote_path);
      std::vector<v1::ResultBatch> streamed;
      v1::Summary summary =
          client.process_file(request, [&](const v1::ResultBatch& b) { streamed.push_back(b); }, options);
      print_summary(summary, streamed, json);
    } else if (*describe) {
      const v1::DescribeResponse info = client.describe(options);
      std::cout << "sluice " << info.version() << "\n";
      for (const auto& p : info.pipelines()) {
        std::cout << "  " << p.name() << " (" << p.format() << ", on_error " << p.on_error() << "):";
        for (const auto& s : p.stages()) std::cout << " " << s.type();
        std::cout << (p.description().empty() ? "" : "  — " + p.description()) << "\n";
      }
    } else if (*validate) {
      std::ifstream in(config_file);
      const std::string yaml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const v1::ValidateConfigResponse r = client.validate_config(yaml, options);
      if (!r.valid()) {
        std::cout << config_file << ":" << r.line() << ":" << r.column() << ": " << r.error() << "\n";
        return 1;
      }
      std::cout << "valid; pipelines:";
      for (const auto& p : r.pipelines()) std::cout << " " << p;
      std::cout << "\n";
    }
  } catch (const Error& e) {
    std::cerr << "sluice-client: " << error_code_name(e.code()) << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
