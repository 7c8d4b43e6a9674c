// What operators see: Prometheus metrics at /metrics, and gzip compression in both directions.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "support/access_log.h"
#include "support/gateway_harness.h"

namespace sluice::gateway {
namespace {

using namespace sluice::testing;

std::string config_with(const std::string& server_extra) {
  return "server:\n  listen: 127.0.0.1:0\n" + server_extra + "pipelines:\n  errors:\n" +
         indent(kErrorsPipelineYaml, "    ") + "  strict:\n    on_error: fail\n    stages:\n      - type: csv\n" +
         "        types: {n: int}\n  records:\n    stages:\n      - type: csv\n";
}

// A plain HTTP/1.0 GET on loopback; returns the body.
std::string http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    ADD_FAILURE() << "cannot connect to the metrics port " << port;
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) response.append(buffer, static_cast<size_t>(n));
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  EXPECT_NE(response.find(" 200 "), std::string::npos) << response.substr(0, 200);
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// The value of the sample `name{...}` whose labels include every one of `labels` (`key="value"`).
std::optional<double> sample(const std::string& exposition, const std::string& name,
                             const std::vector<std::string>& labels) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
    const size_t value_at = line.rfind(' ');
    const std::string label_text = line.substr(0, value_at);
    bool all = true;
    for (const std::string& label : labels) all = all && label_text.find(label) != std::string::npos;
    if (all) return std::stod(line.substr(value_at + 1));
  }
  return std::nullopt;
}

TEST(Metrics, CountStreamsBytesRecordsAndStatusesPerPipeline) {
  TestGateway gateway(config_with("  metrics: {listen: '127.0.0.1:0'}\n"));
  const int port = gateway.server().metrics_port();
  ASSERT_GT(port, 0);

  // Before any stream, every configured pipeline already has its series, at zero.
  const std::string idle = http_get(port, "/metrics");
  EXPECT_EQ(sample(idle, "sluice_streams_started_total", {"pipeline=\"strict\""}), 0.0) << idle;
  EXPECT_EQ(sample(idle, "sluice_streams_active", {}), 0.0) << idle;

  const auto records = make_access_records(3000, 5);
  const std::string csv = to_csv(records);
  const v1::Summary ok = gateway.client().upload(header_for("errors"), chunks_of(csv, 1000));
  EXPECT_THROW(gateway.client().upload(header_for("strict"), chunks_of("n\n1\ntwo\n", 4)), Error);
  EXPECT_THROW(gateway.client().upload(header_for("missing"), chunks_of("n\n1\n", 4)), Error);

  const std::string after = http_get(port, "/metrics");
  EXPECT_EQ(sample(after, "sluice_streams_started_total", {"pipeline=\"errors\""}), 1.0);
  EXPECT_EQ(sample(after, "sluice_streams_started_total", {"pipeline=\"strict\""}), 1.0);
  EXPECT_EQ(sample(after, "sluice_streams_finished_total", {"pipeline=\"errors\"", "code=\"OK\""}), 1.0) << after;
  EXPECT_EQ(sample(after, "sluice_streams_finished_total", {"pipeline=\"strict\"", "code=\"INVALID_ARGUMENT\""}), 1.0);
  EXPECT_EQ(sample(after, "sluice_streams_finished_total", {"pipeline=\"\"", "code=\"NOT_FOUND\""}), 1.0) << after;
  EXPECT_EQ(sample(after, "sluice_streams_active", {}), 0.0);
  EXPECT_EQ(sample(after, "sluice_input_bytes_total", {"pipeline=\"errors\""}), static_cast<double>(csv.size()));
  EXPECT_EQ(sample(after, "sluice_input_chunks_total", {"pipeline=\"errors\""}),
            static_cast<double>((csv.size() + 999) / 1000));
  const v1::Counters& counted = ok.counters();
  EXPECT_GT(counted.records_filtered(), 0u);
  EXPECT_EQ(sample(after, "sluice_records_total", {"pipeline=\"errors\"", "outcome=\"out\""}),
            static_cast<double>(counted.records_out()));
  EXPECT_EQ(sample(after, "sluice_records_total", {"pipeline=\"errors\"", "outcome=\"filtered\""}),
            static_cast<double>(counted.records_filtered()));
  EXPECT_EQ(sample(after, "sluice_stream_duration_seconds_count", {"pipeline=\"errors\""}), 1.0);
}

TEST(Metrics, CountCallsRefusedForTheirTokenByMethod) {
  TestGateway gateway(config_with("  metrics: {listen: '127.0.0.1:0'}\n  auth: {tokens: [right-token]}\n"));
  const int port = gateway.server().metrics_port();
  ASSERT_GT(port, 0);
  const CallOptions call{.timeout = std::chrono::seconds(30)};
  Client without_token(Client::connect({.target = gateway.address()}));
  Client wrong_token(Client::connect({.target = gateway.address(), .token = "wrong-token"}));
  Client right_token(Client::connect({.target = gateway.address(), .token = "right-token"}));
  const std::string csv = to_csv(make_access_records(100, 3));
  EXPECT_THROW(without_token.describe(call), Error);
  EXPECT_THROW(without_token.upload(header_for("errors"), chunks_of(csv, 500), call), Error);
  EXPECT_THROW(wrong_token.upload(header_for("errors"), chunks_of(csv, 500), call), Error);
  right_token.describe(call);
  right_token.upload(header_for("errors"), chunks_of(csv, 500), call);

  const std::string metrics = http_get(port, "/metrics");
  EXPECT_EQ(sample(metrics, "sluice_calls_unauthenticated_total", {"method=\"Describe\""}), 1.0) << metrics;
  EXPECT_EQ(sample(metrics, "sluice_calls_unauthenticated_total", {"method=\"Upload\""}), 2.0) << metrics;
  EXPECT_EQ(sample(metrics, "sluice_streams_started_total", {"pipeline=\"errors\""}), 1.0) << metrics;
}

TEST(Metrics, AreOffUnlessConfiguredAndTheirKeysAreStrict) {
  TestGateway gateway(config_with(""));
  EXPECT_EQ(gateway.server().metrics_port(), 0);
  try {
    TestGateway bad(config_with("  metrics: {listen: '127.0.0.1:0', path: /m}\n"));
    ADD_FAILURE() << "an unknown key under metrics was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(std::string(e.what()).find("path"), std::string::npos) << e.what();
  }
}

// Relays one TCP connection between a client and `target_port`, counting the bytes each way: what
// gzip saves is seen on the wire, not taken on trust.
class CountingRelay {
 public:
  explicit CountingRelay(int target_port) : target_port_(target_port) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(0);
    socklen_t size = sizeof address;
    if (bind(listener_, reinterpret_cast<sockaddr*>(&address), size) != 0 || listen(listener_, 1) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      throw std::runtime_error("relay: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { relay(); });
  }
  ~CountingRelay() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      // Wakes accept() or poll() whether or not the client's channel has closed its connection.
      for (int fd : {listener_, client_, server_}) {
        if (fd >= 0) shutdown(fd, SHUT_RDWR);
      }
    }
    thread_.join();
    close(listener_);
  }
  int port() const { return port_; }
  uint64_t to_server() const { return to_server_; }
  uint64_t to_client() const { return to_client_; }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
  }
  void relay() {
    const int client = accept(listener_, nullptr, nullptr);
    const int server = socket(AF_INET, SOCK_STREAM, 0);
    {
      std::lock_guard lock(mu_);
      client_ = client;
      server_ = server;
      if (stopping_ || client < 0) return close_connections();
    }
    sockaddr_in address = loopback(target_port_);
    if (connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      char buffer[65536];
      while (poll(fds, 2, -1) > 0) {
        const int from = (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 0 : 1;
        const ssize_t n = read(fds[from].fd, buffer, sizeof buffer);
        if (n <= 0) break;
        // Counted before they are passed on: once a peer has the bytes, the count includes them.
        (from == 0 ? to_server_ : to_client_) += static_cast<uint64_t>(n);
        if (write(fds[1 - from].fd, buffer, static_cast<size_t>(n)) != n) break;
      }
    }
    std::lock_guard lock(mu_);
    close_connections();
  }
  void close_connections() {  // under mu_
    for (int* fd : {&client_, &server_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }

  int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::mutex mu_;
  bool stopping_ = false;
  int client_ = -1;
  int server_ = -1;
  std::atomic<uint64_t> to_server_{0};
  std::atomic<uint64_t> to_client_{0};
  std::thread thread_;
};

struct WireBytes {
  uint64_t sent = 0;
  uint64_t received = 0;
  std::string results;  // every batch and the summary, serialized
};

// Streams `input` through the `records` pipeline (every record comes back) over a relay.
WireBytes process_over_relay(TestGateway& gateway, const std::string& input, bool client_gzip) {
  CountingRelay relay(gateway.server().port());
  Client client(Client::connect({.target = "127.0.0.1:" + std::to_string(relay.port())}));
  CallOptions options;
  options.gzip = client_gzip;
  WireBytes wire;
  const v1::Summary summary = client.process(
      header_for("records"), chunks_of(input, 64 << 10),
      [&](const v1::ResultBatch& batch) { wire.results += batch.SerializeAsString(); }, options);
  wire.results += summary.SerializeAsString();
  // Every request byte reached the server and every result reached the client: the counts are whole.
  wire.sent = relay.to_server();
  wire.received = relay.to_client();
  return wire;
}

TEST(Compression, GzipFromTheClientAndFromTheServerShrinksTheWireAndKeepsTheResults) {
  const std::string csv = to_csv(make_access_records(20000, 9));  // repetitive: compresses well
  TestGateway plain(config_with(""));
  TestGateway compressing(config_with("  compression: gzip\n"));

  const WireBytes reference = process_over_relay(plain, csv, false);
  ASSERT_GT(reference.sent, csv.size());
  ASSERT_GT(reference.received, csv.size() / 2);  // every record comes back as typed values

  const WireBytes client_gzip = process_over_relay(plain, csv, true);
  EXPECT_EQ(client_gzip.results, reference.results);
  EXPECT_LT(client_gzip.sent, reference.sent / 2);
  EXPECT_GT(client_gzip.received, reference.received / 2);  // the server answers uncompressed

  const WireBytes server_gzip = process_over_relay(compressing, csv, false);
  EXPECT_EQ(server_gzip.results, reference.results);
  EXPECT_LT(server_gzip.received, reference.received / 2);
  EXPECT_GT(server_gzip.sent, reference.sent / 2);
}

}  // namespace
}  // namespace sluice::gateway
