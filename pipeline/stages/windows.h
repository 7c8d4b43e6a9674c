#pragma once
// Windows for group_by: which window each record falls in and when a window is complete.
//
//   window: {type: tumbling_count, size: 1000}
//   window: {type: tumbling_time, field: timestamp, unit: ms, size: 60s, allowed_lateness: 5s}
//
// Count windows number the records that group_by accepts 0, 1, 2, ...; window [start, end)
// is complete with its last record, and a partial last window ends at the record count.
//
// Time windows take the event time from an int field in `unit`s (s, ms or us; default ms) and
// report their bounds in the same unit. Window [start, end) is complete once the largest event
// time seen exceeds end + allowed_lateness; a record that arrives for a complete window is
// rejected as "late record for a closed window", as is a record whose time is null or not an
// int. Open windows lie within allowed_lateness + size of the largest time seen, so there are at
// most allowed_lateness / size + 2 of them.
//
// Windows that received no record are never reported.
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "config/node.h"
#include "core/value.h"

namespace sluice::pipeline {

struct WindowConfig {
  enum class Type { Global, TumblingCount, TumblingTime };
  Type type = Type::Global;  // no `window:`: one window over the whole input, reported at its end
  int64_t size = 0;          // records, or time in `unit`s
  std::string time_field;
  int64_t allowed_lateness = 0;  // in `unit`s

  static WindowConfig from_yaml(const config::Node& node);
};

// A duration such as 500ms, 60s, 5m or 1h (units: us, ms, s, m, h, d), in microseconds. A bare 0
// is allowed; other numbers need a unit.
int64_t parse_duration_us(const config::Node& node);

struct Window {
  int64_t start = 0;  // inclusive
  int64_t end = 0;    // exclusive
};

// Why a record has no window; it becomes the record's rejection.
struct WindowRefusal {
  std::string reason;
  std::string field;
};

// Per-stream window bookkeeping, fed every accepted record in input order.
class WindowClock {
 public:
  virtual ~WindowClock() = default;
  // The window of the next record, given its event time (null for count windows), or why it has
  // none. A placed record counts as seen: it advances the clock.
  virtual std::variant<Window, WindowRefusal> place(const Value& event_time) = 0;
  // Windows that end at or before this are complete.
  virtual int64_t complete_until() const = 0;
  // The bounds to report for a window still open at the end of the input.
  virtual Window at_finish(const Window& window) const { return window; }
};

std::unique_ptr<WindowClock> start_window_clock(const WindowConfig& config);

}  // namespace sluice::pipeline
