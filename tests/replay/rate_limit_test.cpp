// The shared token bucket, driven by an injected clock: no sleeps and no real-time assertions.
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "gateway/replay/rate_limit.h"

namespace sluice::replay {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

class FakeClock {
 public:
  TokenBucket::Clock clock() {
    return [this] { return now_; };
  }
  void advance(milliseconds by) { now_ += by; }

 private:
  std::chrono::steady_clock::time_point now_{};
};

TEST(TokenBucket, StartsFullThenMakesCallersWaitInTurn) {
  FakeClock clock;
  TokenBucket bucket(100, 10, clock.clock());  // 100 tokens/s, bursts of 10
  EXPECT_EQ(bucket.reserve(10), nanoseconds(0));
  EXPECT_EQ(bucket.reserve(10), milliseconds(100));  // behind nobody: 10 tokens take 100 ms
  EXPECT_EQ(bucket.reserve(5), milliseconds(150));   // queued behind the previous reservation
  clock.advance(milliseconds(150));                  // the debt is paid off exactly
  EXPECT_EQ(bucket.reserve(1), milliseconds(10));
}

TEST(TokenBucket, RefillStopsAtTheBurst) {
  FakeClock clock;
  TokenBucket bucket(100, 10, clock.clock());
  EXPECT_EQ(bucket.reserve(10), nanoseconds(0));
  clock.advance(milliseconds(60'000));  // a long idle time saves up no more than the burst
  EXPECT_EQ(bucket.reserve(10), nanoseconds(0));
  EXPECT_EQ(bucket.reserve(1), milliseconds(10));
}

TEST(TokenBucket, ACostLargerThanTheBurstWaitsForItsShare) {
  FakeClock clock;
  TokenBucket bucket(1000, 100, clock.clock());  // bytes/s with a chunk far bigger than the burst
  EXPECT_EQ(bucket.reserve(2100), milliseconds(2000));
}

TEST(TokenBucket, StreamsOnManyThreadsShareOneRate) {
  FakeClock clock;  // frozen: every reservation adds to one debt, whatever the interleaving
  TokenBucket bucket(100, 10, clock.clock());
  std::vector<nanoseconds> longest(4);
  std::vector<std::thread> streams;
  for (size_t s = 0; s < longest.size(); ++s) {
    streams.emplace_back([&, s] {
      for (int chunk = 0; chunk < 50; ++chunk) longest[s] = std::max(longest[s], bucket.reserve(1));
    });
  }
  for (auto& t : streams) t.join();
  // 200 tokens at 100/s with 10 in the bucket: the last one waits (200 - 10) / 100 s.
  EXPECT_EQ(*std::max_element(longest.begin(), longest.end()), milliseconds(1900));
}

TEST(ParseRate, BytesAndChunksPerSecond) {
  EXPECT_EQ(parse_rate("10MB/s").unit, RateLimit::Unit::Bytes);
  EXPECT_DOUBLE_EQ(parse_rate("10MB/s").per_second, 10e6);
  EXPECT_DOUBLE_EQ(parse_rate("1.5MiB/s").per_second, 1.5 * (1 << 20));
  EXPECT_DOUBLE_EQ(parse_rate("64KiB").per_second, 65536);
  EXPECT_DOUBLE_EQ(parse_rate("500/s").per_second, 500);
  const RateLimit chunks = parse_rate("100chunks/s");
  EXPECT_EQ(chunks.unit, RateLimit::Unit::Chunks);
  EXPECT_DOUBLE_EQ(chunks.per_second, 100);
  EXPECT_DOUBLE_EQ(parse_rate("0.5chunks/s").per_second, 0.5);
}

TEST(ParseRate, RejectsWhatIsNotARate) {
  for (const char* bad : {"fast", "0B/s", "-5chunks/s", "10MB/min", "", "chunks/s"}) {
    try {
      parse_rate(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sluice::replay
