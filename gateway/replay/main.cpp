// sluice-replay: replays files, directories or recordings to a gateway (or offline through the
// same config) and compares result sets. The logic is in the sluice_replay library.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "config/node.h"
#include "core/process_memory.h"
#include "gateway/client_cli.h"
#include "gateway/openssl_exit.h"
#include "gateway/replay/replay.h"
#include "gateway/replay/result_files.h"

namespace {

using namespace sluice;

constexpr int kFailedStreams = 1;  // run: a stream failed; compare: the results differ
constexpr int kUsageError = 2;

size_t byte_size(const std::string& text, const std::string& option) {
  const auto bytes = config::parse_byte_size(text);
  if (!bytes || *bytes == 0) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("{}: expected a size such as 65536 or 64KiB, got '{}'", option, text));
  }
  return *bytes;
}

std::chrono::milliseconds seconds_option(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_for_reuse();  // --offline runs the pipelines in this process
  CLI::App app{
      "sluice-replay: replay files, directories or recorded streams to a sluice gateway (load tests, bug\n"
      "reproduction, re-running data through a new config), or offline through the same YAML config, and\n"
      "compare result sets."};
  app.footer(
      "Examples:\n"
      "  sluice-replay run --target 127.0.0.1:50051 --pipeline http_errors --glob '*.csv' --concurrency 8 \\\n"
      "      --out results/ --report report.json data/\n"
      "  sluice-replay run --recording gateway.slrc --timing scaled --speed 2 --out replayed/\n"
      "  sluice-replay run --offline --config config/examples/default.yaml --pipeline http_errors --out offline/ "
      "data/\n"
      "  sluice-replay compare results/ offline/\n"
      "Exit codes: 0 every stream succeeded (compare: identical); 1 a stream failed (compare: a difference);\n"
      "2 bad usage, unreadable input or config.");
  app.require_subcommand(1);

  auto* run = app.add_subcommand("run", "send the inputs and write a result file per stream and a report");
  replay::InputSelection inputs;
  replay::ReplayOptions options;
  bool no_progress = false;
  std::string mode = "upload", timing = "fast", chunk_size = fmt::format("{}KiB", kDefaultChunkBytes >> 10),
              out_format = "jsonl", rate, report_path;
  unsigned concurrency = 4;
  double timeout_seconds = 0, backoff_seconds = 0.1, progress_seconds = 5;
  run->add_option("inputs", inputs.paths,
                  "files and directories to send; directories are walked recursively (see --glob)");
  run->add_option("--recording", inputs.recordings,
                  "a recording (from the gateway's server.recording or --record) whose streams are replayed "
                  "with their own pipeline, format, label and chunks; repeatable")
      ->check(CLI::ExistingFile);
  run->add_option("-p,--pipeline", inputs.pipeline,
                  "pipeline for the files; with recordings, replaces the recorded pipeline names");
  run->add_option("-f,--format", inputs.format, "input format the files declare (the server checks it)");
  run->add_option("--glob", inputs.glob, "only files under directories whose relative path matches, e.g. '*.csv'")
      ->capture_default_str();
  gateway::ConnectionFlags connection;
  gateway::add_connection_flags(*run, connection);
  auto* offline_flag = run->add_flag("--offline")
                           ->description(
                               "no gateway: run each stream through the embedded pipeline library with the --config "
                               "file; result files match "
                               "a gateway run's byte for byte");
  auto* config =
      run->add_option("-c,--config", options.offline_config, "YAML config for --offline")->check(CLI::ExistingFile);
  offline_flag->needs(config);
  connection.group->excludes(offline_flag);
  config->needs(offline_flag);
  run->add_option("--mode", mode,
                  "upload: client-streaming, results come with the summary; process: "
                  "bidirectional, results stream back while sending")
      ->check(CLI::IsMember({"upload", "process"}))
      ->capture_default_str();
  run->add_option("--concurrency", concurrency, "streams sent at once")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  run->add_option("--chunk-size", chunk_size,
                  "bytes per message for files (65536, 64KiB, 1MiB); recordings keep "
                  "their recorded chunks")
      ->capture_default_str();
  run->add_option("--rate", rate,
                  "send-rate limit shared by all streams: bytes per second (10MB/s, 512KiB/s) or "
                  "chunks per second (100chunks/s)");
  auto* timing_option = run->add_option("--timing", timing,
                                        "fast: no waits; recorded: wait between a recording's chunks as "
                                        "recorded; scaled: the recorded waits divided by --speed")
                            ->check(CLI::IsMember({"fast", "recorded", "scaled"}))
                            ->capture_default_str();
  run->add_option("--speed", options.speed, "with --timing scaled: 2.0 replays twice as fast as recorded")
      ->check(CLI::PositiveNumber)
      ->needs(timing_option)
      ->capture_default_str();
  run->add_option("--repeat", options.repeat, "send every input this many times (result files get .rN)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  run->add_option("--timeout", timeout_seconds, "deadline per stream attempt in seconds (0: none)");
  run->add_option("--retries", options.retries,
                  "retry a stream this many times, from its start, after UNAVAILABLE, RESOURCE_EXHAUSTED, "
                  "DEADLINE_EXCEEDED or ABORTED; other failures are final")
      ->capture_default_str();
  run->add_option("--backoff", backoff_seconds, "seconds before the first retry; doubles per retry (at most 10 s)")
      ->capture_default_str();
  run->add_flag("--gzip", options.gzip, "compress the messages sent");
  run->add_option("-o,--out", options.out_dir,
                  "write each stream's results to DIR/<label>.jsonl: a JSON line per result batch, then a summary "
                  "line; a failed stream's file holds its error code");
  run->add_option("--out-format", out_format,
                  "jsonl: as above; csv: DIR/<label>.csv (a header line, then the rows; windowed results start "
                  "with window_start,window_end) and the summary in DIR/<label>.summary.json")
      ->check(CLI::IsMember({"jsonl", "csv"}))
      ->capture_default_str();
  run->add_option("--report", report_path, "also write the report as JSON to this file");
  run->add_option("--record", options.record_path, "record what is sent, as a recording that --recording replays");
  run->add_option("--progress-interval", progress_seconds,
                  "seconds between progress lines on stderr when it is not a terminal (a terminal gets one "
                  "updating line)")
      ->capture_default_str();
  run->add_flag("--no-progress", no_progress, "no progress on stderr");

  auto* compare =
      app.add_subcommand("compare", "compare two result directories file by file; exits 1 on any difference");
  std::string dir_a, dir_b;
  compare->add_option("dir_a", dir_a, "results of one run")->required();
  compare->add_option("dir_b", dir_b, "results of another run")->required();

  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("sluice-replay"));  // stdout carries the report

  try {
    gateway::skip_openssl_cleanup_at_exit();
    if (*compare) {
      const replay::Comparison comparison = replay::compare_result_dirs(dir_a, dir_b);
      for (const std::string& difference : comparison.differences) std::cout << difference << "\n";
      std::cout << fmt::format("{} of {} result files differ\n", comparison.differences.size(), comparison.files);
      return comparison.same() ? 0 : kFailedStreams;
    }
    if (inputs.paths.empty() && inputs.recordings.empty()) {
      std::cerr << "sluice-replay run: nothing to send: give files, directories or --recording\n";
      return kUsageError;
    }
    if (timing != "scaled" && run->count("--speed")) {
      std::cerr << "sluice-replay run: --speed applies only to --timing scaled\n";
      return kUsageError;
    }
    options.connection = gateway::resolve_connection(connection);
    options.mode = mode == "upload" ? replay::Mode::Upload : replay::Mode::Process;
    options.out_format = out_format == "csv" ? replay::ResultFormat::Csv : replay::ResultFormat::JsonLines;
    options.timing = timing == "fast"       ? replay::Timing::Fast
                     : timing == "recorded" ? replay::Timing::Recorded
                                            : replay::Timing::Scaled;
    options.concurrency = concurrency;
    options.chunk_size = byte_size(chunk_size, "--chunk-size");
    if (!rate.empty()) options.rate = replay::parse_rate(rate);
    if (timeout_seconds > 0) options.timeout = seconds_option(timeout_seconds);
    options.backoff = seconds_option(backoff_seconds);
    if (!no_progress) {
      options.progress = &std::cerr;
      options.progress_tty = isatty(STDERR_FILENO) == 1;
      options.progress_interval = seconds_option(progress_seconds);
    }

    const replay::ReplayReport report = replay::run_replay(replay::collect_inputs(inputs), options);
    replay::print_report(std::cout, report);
    if (!report_path.empty()) {
      std::ofstream out(report_path);
      out << replay::to_json(report).dump(2) << "\n";
      if (!out) throw Error(ErrorCode::FailedPrecondition, fmt::format("cannot write the report to '{}'", report_path));
    }
    return report.ok() ? 0 : kFailedStreams;
  } catch (const Error& e) {
    std::cerr << "sluice-replay: " << error_code_name(e.code()) << ": " << e.what() << "\n";
    return kUsageError;
  } catch (const std::exception& e) {  // e.g. a directory that cannot be walked
    std::cerr << "sluice-replay: " << e.what() << "\n";
    return kUsageError;
  }
}
