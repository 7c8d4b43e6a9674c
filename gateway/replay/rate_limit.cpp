#include "gateway/replay/rate_limit.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "config/node.h"
#include "core/error.h"
#include "core/value.h"

namespace sluice::replay {

RateLimit parse_rate(std::string_view text) {
  std::string_view amount = text;
  if (amount.ends_with("/s")) amount.remove_suffix(2);
  RateLimit rate;
  if (amount.ends_with("chunks")) {
    amount.remove_suffix(6);
    rate.unit = RateLimit::Unit::Chunks;
    rate.per_second = parse_double(amount).value_or(0);
  } else {
    rate.per_second = static_cast<double>(config::parse_byte_size(amount).value_or(0));
  }
  if (!(rate.per_second > 0)) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("invalid rate '{}': expected a positive amount per second such as 10MB/s, 512KiB/s or "
                            "100chunks/s",
                            text));
  }
  return rate;
}

TokenBucket::TokenBucket(double tokens_per_second, double burst, Clock now)
    : rate_(tokens_per_second), burst_(burst), now_(std::move(now)), tokens_(burst), last_refill_(now_()) {}

std::chrono::nanoseconds TokenBucket::reserve(double tokens) {
  std::lock_guard lock(mu_);
  const auto now = now_();
  const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_refill_ = now;
  tokens_ -= tokens;
  if (tokens_ >= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<int64_t>(-tokens_ / rate_ * 1e9));
}

}  // namespace sluice::replay
