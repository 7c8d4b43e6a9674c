#pragma once
// The shared send-rate limit of a replay: a token bucket that every stream draws from, in bytes
// or in chunks per second.
#include <chrono>
#include <functional>
#include <mutex>
#include <string_view>

namespace sluice::replay {

struct RateLimit {
  enum class Unit { Bytes, Chunks };
  Unit unit = Unit::Bytes;
  double per_second = 0;
};

// "10MB/s", "1.5MiB/s", "64KiB/s", "500B/s", "100chunks/s" (the "/s" is optional); throws
// Error(InvalidArgument) naming the text otherwise.
RateLimit parse_rate(std::string_view text);

class TokenBucket {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // Holds at most `burst` tokens and starts full; `now` is injectable so tests need no sleeps.
  TokenBucket(double tokens_per_second, double burst, Clock now = std::chrono::steady_clock::now);

  // Takes `tokens` and returns how long the caller must wait before spending them. The bucket may
  // go into debt: later callers wait behind earlier ones, so the rate holds across all threads
  // without anyone sleeping while holding the lock.
  std::chrono::nanoseconds reserve(double tokens);

 private:
  const double rate_;
  const double burst_;
  const Clock now_;
  std::mutex mu_;
  double tokens_;
  std::chrono::steady_clock::time_point last_refill_;
};

}  // namespace sluice::replay
