#include "pipeline/stages/windows.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include <fmt/format.h>

namespace sluice::pipeline {

namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Window arithmetic near the ends of int64 clamps instead of wrapping around.
int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? kMax : kMin;
}

// One window over the whole input: never complete before the end.
class GlobalClock : public WindowClock {
 public:
  std::variant<Window, WindowRefusal> place(const Value&) override { return Window{}; }
  int64_t complete_until() const override { return kMin; }
};

class TumblingCountClock : public WindowClock {
 public:
  explicit TumblingCountClock(int64_t size) : size_(size) {}
  std::variant<Window, WindowRefusal> place(const Value&) override {
    const int64_t start = seen_ - seen_ % size_;
    ++seen_;
    return Window{start, saturating_add(start, size_)};
  }
  int64_t complete_until() const override { return seen_; }
  Window at_finish(const Window& window) const override { return {window.start, std::min(window.end, seen_)}; }

 private:
  int64_t size_;
  int64_t seen_ = 0;
};

class TumblingTimeClock : public WindowClock {
 public:
  explicit TumblingTimeClock(const WindowConfig& config) : config_(config) {}

  std::variant<Window, WindowRefusal> place(const Value& event_time) override {
    const int64_t* time = std::get_if<int64_t>(&event_time);
    if (!time) {
      return WindowRefusal{is_null(event_time) ? std::string("null event time")
                                               : fmt::format("event time must be an int, got {}",
                                                             type_name(type_of(event_time))),
                           config_.time_field};
    }
    int64_t offset = *time % config_.size;  // windows start at multiples of the size, also below 0
    if (offset < 0) offset += config_.size;
    const int64_t start = saturating_add(*time, -offset);
    const Window window{start, saturating_add(start, config_.size)};
    if (window.end <= complete_until()) return WindowRefusal{"late record for a closed window", config_.time_field};
    max_time_ = std::max(max_time_, *time);
    return window;
  }

  // end + allowed_lateness < max_time, without overflow.
  int64_t complete_until() const override {
    return max_time_ == kMin ? kMin : saturating_add(max_time_, -config_.allowed_lateness - 1);
  }

 private:
  const WindowConfig& config_;
  int64_t max_time_ = kMin;  // kMin: no record yet
};

struct TimeUnit {
  std::string_view name;
  int64_t microseconds;
};
constexpr TimeUnit kDurationUnits[] = {{"us", 1},           {"ms", 1000},          {"s", 1'000'000},
                                       {"m", 60'000'000},   {"h", 3'600'000'000},  {"d", 86'400'000'000}};
constexpr TimeUnit kTimeFieldUnits[] = {{"s", 1'000'000}, {"ms", 1000}, {"us", 1}};

// A duration in the time field's unit; it must be a whole number of them.
int64_t duration_in(const config::Node& node, const TimeUnit& unit) {
  const int64_t us = parse_duration_us(node);
  if (us % unit.microseconds != 0) {
    node.fail(fmt::format("{} is not a whole number of {} (the unit of the time field)", node.as_string(), unit.name));
  }
  return us / unit.microseconds;
}

}  // namespace

int64_t parse_duration_us(const config::Node& node) {
  const std::string text = node.as_string();
  const size_t digits = static_cast<size_t>(
      std::find_if(text.begin(), text.end(), [](char c) { return !std::isdigit(static_cast<unsigned char>(c)); }) -
      text.begin());
  const std::optional<int64_t> number = digits ? parse_int(std::string_view(text).substr(0, digits)) : std::nullopt;
  const std::string_view unit = std::string_view(text).substr(digits);
  if (number && unit.empty() && *number == 0) return 0;
  for (const TimeUnit& known : kDurationUnits) {
    int64_t us;
    if (number && unit == known.name && !__builtin_mul_overflow(*number, known.microseconds, &us)) return us;
  }
  node.fail(fmt::format("expected a duration such as 500ms, 60s, 5m or 1h (units: us, ms, s, m, h, d), got '{}'", text));
}

WindowConfig WindowConfig::from_yaml(const config::Node& node) {
  node.expect_map("window");
  const config::Node type = node.require("type", "window");
  WindowConfig config;
  if (type.as_string() == "tumbling_count") {
    node.expect_keys({"type", "size"}, "window 'tumbling_count'");
    const config::Node size = node.require("size", "window 'tumbling_count'");
    config.type = Type::TumblingCount;
    config.size = size.as_int();
    if (config.size <= 0) size.fail("window size must be a positive number of records");
  } else if (type.as_string() == "tumbling_time") {
    node.expect_keys({"type", "field", "unit", "size", "allowed_lateness"}, "window 'tumbling_time'");
    config.type = Type::TumblingTime;
    config.time_field = node.require("field", "window 'tumbling_time'").as_string();
    const TimeUnit* unit = &kTimeFieldUnits[1];
    if (auto unit_node = node.get("unit")) {
      const std::string name = unit_node->as_string();
      unit = std::find_if(std::begin(kTimeFieldUnits), std::end(kTimeFieldUnits),
                          [&](const TimeUnit& u) { return u.name == name; });
      if (unit == std::end(kTimeFieldUnits)) unit_node->fail(fmt::format("unknown time unit '{}' (known: s, ms, us)", name));
    }
    const config::Node size = node.require("size", "window 'tumbling_time'");
    config.size = duration_in(size, *unit);
    if (config.size <= 0) size.fail("window size must be positive");
    if (auto lateness = node.get("allowed_lateness")) config.allowed_lateness = duration_in(*lateness, *unit);
  } else {
    type.fail(fmt::format("unknown window type '{}' (known: tumbling_count, tumbling_time)", type.as_string()));
  }
  return config;
}

std::unique_ptr<WindowClock> start_window_clock(const WindowConfig& config) {
  switch (config.type) {
    case WindowConfig::Type::Global: return std::make_unique<GlobalClock>();
    case WindowConfig::Type::TumblingCount: return std::make_unique<TumblingCountClock>(config.size);
    case WindowConfig::Type::TumblingTime: return std::make_unique<TumblingTimeClock>(config);
  }
  return nullptr;
}

}  // namespace sluice::pipeline
