// Flow control end to end: a slow reader stalls the client's writes through HTTP/2 flow control,
// the in-flight budget is never exceeded, and broken calls free their streams.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "support/access_log.h"
#include "support/gateway_harness.h"

extern char** environ;

namespace sluice::gateway {
namespace {

using namespace sluice::testing;
using namespace std::chrono_literals;

constexpr size_t kMaxChunksInFlight = 4;

const std::string kConfig = R"(
server:
  listen: 127.0.0.1:0
  max_message_bytes: 256KiB
  max_concurrent_streams: 40
  max_memory_bytes: 64MiB
  stream_limits: {max_chunks_in_flight: 4, max_bytes_in_flight: 512KiB, max_pending_results: 2}
pipelines:
  records:
    stages:
      - type: csv
  errors:
)" + indent(kErrorsPipelineYaml, "    ");

// Numbered records "n,padding" cut into fixed-size chunks that split records anywhere.
class NumberedRecords {
 public:
  explicit NumberedRecords(size_t chunk_bytes) : chunk_bytes_(chunk_bytes) { pending_ = "n,pad\n"; }
  std::string next_chunk() {
    while (pending_.size() < chunk_bytes_) pending_ += std::to_string(next_++) + "," + std::string(90, 'x') + "\n";
    std::string chunk = pending_.substr(0, chunk_bytes_);
    pending_.erase(0, chunk_bytes_);
    return chunk;
  }
  // The rest, so that the input ends with a whole record.
  std::string last_chunk() { return std::move(pending_); }

 private:
  size_t chunk_bytes_;
  int64_t next_ = 0;
  std::string pending_;
};

// Writes a header and `chunks` chunks of numbered records to a Process stream on its own thread,
// counting the writes the transport accepted, then half-closes.
class ChunkWriter {
 public:
  using Stream = grpc::ClientReaderWriter<v1::InputMessage, v1::OutputMessage>;
  ChunkWriter(grpc::ClientContext& context, Stream& stream, size_t chunk_bytes, size_t chunks)
      : context_(context), finished_(done_.get_future()), thread_([this, &stream, chunk_bytes, chunks] {
          v1::InputMessage message;
          *message.mutable_header() = header_for("records");
          bool open = stream.Write(message);
          NumberedRecords records(chunk_bytes);
          for (size_t i = 0; open && i < chunks; ++i) {
            message.set_chunk(i + 1 < chunks ? records.next_chunk() : records.last_chunk());
            open = stream.Write(message);
            if (open) ++written_;
          }
          stream.WritesDone();
          done_.set_value();
        }) {}
  // A test that ends before the writer does cancels the call, or the writer would wait for room forever.
  ~ChunkWriter() {
    if (!finishes_within(0ms)) context_.TryCancel();
    join();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  size_t written() const { return written_.load(); }
  bool finishes_within(std::chrono::milliseconds timeout) {
    return finished_.wait_for(timeout) == std::future_status::ready;
  }

 private:
  grpc::ClientContext& context_;
  std::atomic<size_t> written_{0};
  std::promise<void> done_;
  std::future<void> finished_;
  std::thread thread_;
};

TEST(Backpressure, SlowReaderStallsTheClientsWritesUntilItReadsAgain) {
  TestGateway gateway(kConfig);
  auto stub = gateway.stub();
  grpc::ClientContext context;
  auto stream = stub->Process(&context);

  // 64 MiB of input: far more than every flow-control window and socket buffer on the way.
  constexpr size_t kChunkBytes = 32 << 10;
  constexpr size_t kChunks = 2048;
  ChunkWriter writer(context, *stream, kChunkBytes, kChunks);

  // Nobody reads results: the server's pending results fill, its graph stalls, it stops reading.
  ASSERT_TRUE(gateway.state().wait_until([&] { return gateway.state().read_pauses.load() > 0; }, 60s));
  EXPECT_FALSE(writer.finishes_within(500ms)) << "the writes went on while nobody read";
  const size_t written_while_paused = writer.written();
  EXPECT_LT(written_while_paused, kChunks);

  // Reading again drains everything, in order, and lets the writer finish.
  int64_t expected = 0;
  bool in_order = true;
  v1::OutputMessage out;
  bool got_summary = false;
  while (stream->Read(&out)) {
    if (out.has_summary()) {
      got_summary = true;
      EXPECT_EQ(out.summary().counters().records_in(), static_cast<uint64_t>(expected));
      continue;
    }
    for (const auto& row : out.batch().rows()) in_order = in_order && row.values(0).string_value() == std::to_string(expected++);
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(got_summary);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(writer.written(), kChunks);
  EXPECT_GT(writer.written(), written_while_paused);
  EXPECT_GT(expected, 600000);
  EXPECT_LE(gateway.state().peak_chunks_in_flight.load(), kMaxChunksInFlight);
  EXPECT_GE(gateway.state().peak_chunks_in_flight.load(), 1u);
}

TEST(Backpressure, AFixedTransportWindowBoundsWhatTheClientGetsAheadOfAStalledStream) {
  constexpr size_t kWindow = 64 << 10;
  std::string config = kConfig;
  config.replace(config.find("  stream_limits:"), 0, "  transport_window_bytes: 64KiB\n");
  TestGateway gateway(config);
  // The client's window for the results fixed too, so that both directions are bounded.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kWindow);
  auto stub =
      v1::Sluice::NewStub(grpc::CreateCustomChannel(gateway.address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  auto stream = stub->Process(&context);

  constexpr size_t kChunkBytes = 32 << 10;
  ChunkWriter writer(context, *stream, kChunkBytes, 2048);
  ASSERT_TRUE(gateway.state().wait_until([&] { return gateway.state().read_pauses.load() > 0; }, 60s));
  EXPECT_FALSE(writer.finishes_within(500ms)) << "the writes went on while nobody read";
  // Ahead of the stalled graph: its 4 chunks in flight, 2 pending result batches (about a chunk
  // each), a chunk on either side being read or written, and the two 64 KiB windows: about 12
  // chunks. 1 MiB leaves room for gRPC's framing and write buffering; adaptive windows let 4 to
  // 10 MiB through in this test (measured with either side's window left adaptive).
  EXPECT_LE(writer.written() * kChunkBytes, size_t{1} << 20);
}

TEST(Backpressure, ClientCancelMidStreamFreesTheStream) {
  TestGateway gateway(kConfig);
  auto stub = gateway.stub();
  grpc::ClientContext context;
  v1::Summary summary;
  auto writer = stub->Upload(&context, &summary);
  v1::InputMessage message;
  *message.mutable_header() = header_for("records");
  ASSERT_TRUE(writer->Write(message));
  NumberedRecords records(4096);
  message.set_chunk(records.next_chunk());
  ASSERT_TRUE(writer->Write(message));
  ASSERT_TRUE(gateway.state().wait_until([&] { return gateway.state().active_streams.load() == 1; }, 30s));
  context.TryCancel();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(gateway.state().wait_until([&] { return gateway.state().active_streams.load() == 0; }, 30s));
  // And the server goes on serving.
  const auto log = make_access_records(100, 3);
  EXPECT_EQ(gateway.client().upload(header_for("errors"), chunks_of(to_csv(log), 100)).counters().records_in(), 100u);
}

TEST(Backpressure, KilledClientProcessFreesItsStream) {
  TestGateway gateway(kConfig);
  // The real client binary reads its input from a pipe that this test keeps open.
  int input[2];
  ASSERT_EQ(pipe(input), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input[0], STDIN_FILENO);
  posix_spawn_file_actions_addclose(&actions, input[1]);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  const std::string target = gateway.address();
  std::vector<std::string> args = {SLUICE_CLIENT_BIN, "--target", target, "send", "--pipeline", "records",
                                   "--chunk-size", "100", "-"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child;
  ASSERT_EQ(posix_spawn(&child, SLUICE_CLIENT_BIN, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(input[0]);
  const std::string some_records = "n,pad\n1,a\n2,b\n3,c\n";
  ASSERT_EQ(write(input[1], some_records.data(), some_records.size()), static_cast<ssize_t>(some_records.size()));

  ASSERT_TRUE(gateway.state().wait_until([&] { return gateway.state().active_streams.load() == 1; }, 30s));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  close(input[1]);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_TRUE(gateway.state().wait_until([&] { return gateway.state().active_streams.load() == 0; }, 30s))
      << "the server kept the killed client's stream";
  const auto log = make_access_records(100, 4);
  EXPECT_EQ(gateway.client().upload(header_for("errors"), chunks_of(to_csv(log), 100)).counters().records_in(), 100u);
}

TEST(Backpressure, ThirtyTwoConcurrentStreamsGetTheirOwnResults) {
  TestGateway gateway(kConfig);
  std::vector<std::thread> threads;
  std::atomic<int> correct{0};
  for (uint32_t i = 0; i < 32; ++i) {
    threads.emplace_back([&, i] {
      const auto records = make_access_records(1500 + i * 10, 1000 + i);
      gateway::Client client(gateway::Client::connect({.target = gateway.address()}));
      const v1::Summary summary = client.upload(header_for("errors"), chunks_of(to_csv(records), 200 + i * 13));
      std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> got;
      for (const auto& row : summary.results(0).rows()) {
        got[{row.values(0).string_value(), row.values(1).int_value()}] = {row.values(2).int_value(),
                                                                          row.values(3).int_value()};
      }
      if (got == expected_error_aggregates(records)) ++correct;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(correct.load(), 32);
  EXPECT_LE(gateway.state().peak_chunks_in_flight.load(), kMaxChunksInFlight);
}

TEST(Backpressure, StreamsBeyondTheConcurrencyLimitGetResourceExhausted) {
  TestGateway gateway(std::string(kConfig).replace(kConfig.find("max_concurrent_streams: 40"), 26,
                                                   "max_concurrent_streams: 1"));
  auto stub = gateway.stub();
  grpc::ClientContext first_context;
  v1::Summary first_summary;
  auto first = stub->Upload(&first_context, &first_summary);
  v1::InputMessage message;
  *message.mutable_header() = header_for("records");
  ASSERT_TRUE(first->Write(message));
  ASSERT_TRUE(gateway.state().wait_until([&] { return gateway.state().active_streams.load() == 1; }, 30s));
  // A second connection: on the first one, HTTP/2's own stream limit (also 1) would queue the
  // call in the client instead of letting the server refuse it.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  gateway::Client second(grpc::CreateCustomChannel(gateway.address(), grpc::InsecureChannelCredentials(), args));
  try {
    second.upload(header_for("records"), chunks_of("n\n1\n", 4));
    ADD_FAILURE() << "the second stream was admitted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::ResourceExhausted);
    EXPECT_NE(std::string(e.what()).find("concurrent streams"), std::string::npos) << e.what();
  }
  first->WritesDone();
  EXPECT_TRUE(first->Finish().ok());
}

TEST(Backpressure, TheDefaultLimitsFitTheDefaultMemoryLimit) {
  const auto config = gateway::load_gateway_config(
      config::load_string("pipelines:\n  p:\n    stages:\n      - type: csv\n", "defaults.yaml"),
      pipeline::StageRegistry::with_builtins());
  const ServerOptions& s = config.server;
  EXPECT_LE(uint64_t{s.max_concurrent_streams} * (s.stream_limits.max_bytes_in_flight + s.max_message_bytes),
            s.max_memory_bytes);
}

TEST(Backpressure, TheInlineChunkSizeComesFromTheConfig) {
  const auto inline_bytes = [](const std::string& limits) {
    return config_with_server("  stream_limits: " + limits + "\n").server.stream_limits.max_inline_chunk_bytes;
  };
  EXPECT_EQ(inline_bytes("{max_chunks_in_flight: 4}"), pipeline::StreamLimits{}.max_inline_chunk_bytes);
  EXPECT_EQ(inline_bytes("{max_inline_chunk_bytes: 0}"), 0u);
  EXPECT_EQ(inline_bytes("{max_inline_chunk_bytes: 1KiB}"), 1024u);
}

TEST(Backpressure, TheTransportWindowIsAdaptiveUnlessSetAndCountsAgainstTheMemoryLimit) {
  const auto load = config_with_server;
  EXPECT_EQ(load("  listen: 127.0.0.1:0\n").server.transport_window_bytes, 0u);
  EXPECT_EQ(load("  transport_window_bytes: 0\n").server.transport_window_bytes, 0u);
  EXPECT_EQ(load("  transport_window_bytes: 256KiB\n").server.transport_window_bytes, 256u << 10);
  try {
    load("  transport_window_bytes: 1KiB\n");
    ADD_FAILURE() << "a window smaller than one HTTP/2 frame was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 27);
    EXPECT_NE(e.message().find("16KiB"), std::string::npos) << e.message();
  }
  // One stream's budget and message fill max_memory_bytes exactly: a fixed window no longer fits.
  const std::string exactly_full =
      "  max_concurrent_streams: 1\n  max_memory_bytes: 2MiB\n  max_message_bytes: 1MiB\n"
      "  stream_limits: {max_bytes_in_flight: 1MiB}\n";
  EXPECT_NO_THROW(load(exactly_full));
  EXPECT_THROW(load(exactly_full + "  transport_window_bytes: 64KiB\n"), config::ConfigError);
}

TEST(Backpressure, TheUploadRowCapIsAPlainCountNotASize) {
  const auto load = [](const std::string& rows) {
    return config_with_server("  max_upload_result_rows: " + rows + "\n");
  };
  EXPECT_EQ(load("250").server.max_upload_result_rows, 250u);
  try {
    load("1KiB");
    ADD_FAILURE() << "a size was taken as a row count";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 27);
  }
  EXPECT_THROW(load("0"), config::ConfigError);
}

TEST(Backpressure, BudgetsThatCannotFitTheMemoryLimitAreAConfigError) {
  std::string config = kConfig;
  config.replace(config.find("max_memory_bytes: 64MiB"), 23, "max_memory_bytes: 8MiB");
  EXPECT_THROW(TestGateway gateway(config), config::ConfigError);
}

}  // namespace
}  // namespace sluice::gateway
