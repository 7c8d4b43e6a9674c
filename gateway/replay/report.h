#pragma once
// The outcome of a replay: per stream and in total, as text for people and JSON for programs.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sluice::replay {

struct StreamOutcome {
  std::string label;
  std::string pipeline;
  std::string result_file;      // empty without --out
  std::string recorded_status;  // recorded streams: how the original ended ("OK", "CANCELLED", "incomplete")
  Status status;                // of the last attempt
  unsigned attempts = 0;
  uint64_t bytes = 0;  // sent by the last attempt
  uint64_t chunks = 0;
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  double latency_ms = 0;       // start of the last attempt to its summary
  double first_result_ms = 0;  // to its first result batch (or the summary, which holds Upload's)
};

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};
// Nearest-rank percentiles; all zero for no values.
Percentiles percentiles(std::vector<double> values);

struct ReplayReport {
  std::string target;  // host:port, or "offline (CONFIG)"
  std::string mode;
  double elapsed_seconds = 0;
  std::vector<StreamOutcome> streams;  // in the order they were scheduled

  size_t failed() const;
  bool ok() const { return failed() == 0; }
};

void print_report(std::ostream& out, const ReplayReport& report);
nlohmann::ordered_json to_json(const ReplayReport& report);

}  // namespace sluice::replay
