// small_messages: drives the bidirectional Process RPC with small messages and measures messages
// per second. Used by scripts/bench against the gateway (the `passthrough` pipeline: each record
// comes back as a one-row batch) and against echo_server (each chunk comes back as a one-row
// batch), through the same client library as sluice-client.
//
// Sends COUNT messages of SIZE bytes, each one CSV record of the access-log shape ending in '\n',
// and counts the rows that come back; fails unless there is one per message and the server
// counted every byte. Prints one JSON object: messages, bytes, batches, rows, seconds, msgs_per_s.
// Usage: small_messages --target HOST:PORT --pipeline P [--count 200000] [--size 100]
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "gateway/client.h"

namespace {

using namespace sluice;

// The i-th message: a CSV record of exactly `size` bytes (the user agent is padded).
void make_record(uint64_t i, size_t size, std::string& out) {
  static constexpr const char* kCountries[] = {"US", "DE", "IN", "BR", "FR", "GB", "JP", "CN"};
  static constexpr int kStatuses[] = {200, 200, 200, 200, 404, 500, 304, 201};
  char head[128];
  const int n = std::snprintf(head, sizeof head, "%llu,%llu,%s,GET,/api/v1/items/%llu,%d,%llu.%03llu,%llu,curl/",
                              static_cast<unsigned long long>(1'700'000'000'000 + i * 7),
                              static_cast<unsigned long long>(i % 100000), kCountries[i % 8],
                              static_cast<unsigned long long>(i % 5000), kStatuses[i % 8],
                              static_cast<unsigned long long>(i % 97), static_cast<unsigned long long>(i % 1000),
                              static_cast<unsigned long long>(i % 4096));
  out.assign(head, static_cast<size_t>(n));
  if (out.size() + 1 < size) out.append(size - 1 - out.size(), 'x');
  out += '\n';
}

int usage() {
  std::cerr << "usage: small_messages --target HOST:PORT --pipeline P [--count N] [--size BYTES]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, pipeline;
  uint64_t count = 200000;
  size_t size = 100;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) return usage();
    if (arg == "--target") target = argv[++i];
    else if (arg == "--pipeline") pipeline = argv[++i];
    else if (arg == "--count") count = std::stoull(argv[++i]);
    else if (arg == "--size") size = std::stoul(argv[++i]);
    else return usage();
  }
  if (target.empty() || pipeline.empty() || size < 64) return usage();

  try {
    auto channel = gateway::Client::connect({.target = target});
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      throw Error(ErrorCode::Unavailable, "cannot connect to " + target);
    }
    gateway::Client client(channel);
    v1::StreamHeader header;
    header.set_pipeline(pipeline);
    header.set_name("small_messages");

    uint64_t sent = 0, bytes = 0, batches = 0, rows = 0;
    auto next = [&](std::string& chunk) {
      if (sent == count) return false;
      make_record(sent, size, chunk);
      ++sent;
      bytes += chunk.size();
      return true;
    };
    auto on_batch = [&](const v1::ResultBatch& batch) {
      ++batches;
      rows += static_cast<uint64_t>(batch.rows_size());
    };

    const auto start = std::chrono::steady_clock::now();
    const v1::Summary summary = client.process(header, next, on_batch);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    nlohmann::ordered_json out = {{"messages", sent},          {"bytes", bytes},
                                  {"bytes_in", summary.counters().bytes_in()},
                                  {"batches", batches},        {"rows", rows},
                                  {"seconds", seconds},        {"msgs_per_s", static_cast<double>(sent) / seconds}};
    std::cout << out.dump() << "\n";
    if (summary.counters().bytes_in() != bytes) {
      std::cerr << "small_messages: the server counted " << summary.counters().bytes_in() << " bytes, sent " << bytes
                << "\n";
      return 1;
    }
    if (rows != sent) {
      std::cerr << "small_messages: " << rows << " rows came back for " << sent << " messages\n";
      return 1;
    }
  } catch (const Error& e) {
    std::cerr << "small_messages: " << error_code_name(e.code()) << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
