#include "gateway/replay/report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace sluice::replay {

namespace {

struct Totals {
  uint64_t bytes = 0, chunks = 0, records_in = 0, records_out = 0;
  std::map<std::string, size_t> by_status;
  std::vector<double> latencies, first_results;  // of the streams that succeeded
};

Totals totals_of(const ReplayReport& report) {
  Totals t;
  for (const StreamOutcome& s : report.streams) {
    t.bytes += s.bytes;
    t.chunks += s.chunks;
    t.records_in += s.records_in;
    t.records_out += s.records_out;
    ++t.by_status[std::string(error_code_name(s.status.code))];
    if (s.status.ok()) {
      t.latencies.push_back(s.latency_ms);
      t.first_results.push_back(s.first_result_ms);
    }
  }
  return t;
}

double per_second(double amount, double seconds) { return seconds > 0 ? amount / seconds : 0; }

std::string percentile_text(const Percentiles& p) {
  return fmt::format("p50 {:.1f} ms  p90 {:.1f} ms  p99 {:.1f} ms  max {:.1f} ms", p.p50, p.p90, p.p99, p.max);
}

nlohmann::ordered_json percentile_json(const Percentiles& p) {
  return {{"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max}};
}

}  // namespace

Percentiles percentiles(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  auto rank = [&](double p) {
    const auto index = static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(values.size())));
    return values[std::clamp<size_t>(index, 1, values.size()) - 1];
  };
  return {rank(50), rank(90), rank(99), values.back()};
}

size_t ReplayReport::failed() const {
  return static_cast<size_t>(
      std::count_if(streams.begin(), streams.end(), [](const StreamOutcome& s) { return !s.status.ok(); }));
}

void print_report(std::ostream& out, const ReplayReport& report) {
  const Totals t = totals_of(report);
  const double seconds = report.elapsed_seconds;
  out << fmt::format("replayed {} streams to {} ({}) in {:.2f} s\n", report.streams.size(), report.target, report.mode,
                     seconds);
  std::string statuses;
  for (const auto& [code, n] : t.by_status) statuses += fmt::format("  {} {}", code, n);
  out << fmt::format("  streams   {} ok, {} failed:{}\n", report.streams.size() - report.failed(), report.failed(),
                     statuses);
  out << fmt::format("  sent      {} bytes in {} chunks, {:.2f} MB/s\n", t.bytes, t.chunks,
                     per_second(static_cast<double>(t.bytes), seconds) / 1e6);
  out << fmt::format("  records   {} in, {} out, {:.0f} records/s\n", t.records_in, t.records_out,
                     per_second(static_cast<double>(t.records_in), seconds));
  out << "  latency       " << percentile_text(percentiles(t.latencies)) << "\n";
  out << "  first result  " << percentile_text(percentiles(t.first_results)) << "\n";
  if (report.ok()) return;
  out << "failed streams:\n";
  for (const StreamOutcome& s : report.streams) {
    if (s.status.ok()) continue;
    out << fmt::format("  {} (pipeline {}): {} after {} attempt{}: {}\n", s.label, s.pipeline,
                       error_code_name(s.status.code), s.attempts, s.attempts == 1 ? "" : "s", s.status.message);
  }
}

nlohmann::ordered_json to_json(const ReplayReport& report) {
  const Totals t = totals_of(report);
  const double seconds = report.elapsed_seconds;
  nlohmann::ordered_json json;
  json["target"] = report.target;
  json["mode"] = report.mode;
  json["elapsed_seconds"] = seconds;
  json["streams"] = {{"total", report.streams.size()},
                     {"ok", report.streams.size() - report.failed()},
                     {"failed", report.failed()},
                     {"by_status", t.by_status}};
  json["bytes"] = t.bytes;
  json["chunks"] = t.chunks;
  json["records_in"] = t.records_in;
  json["records_out"] = t.records_out;
  json["throughput"] = {{"bytes_per_second", per_second(static_cast<double>(t.bytes), seconds)},
                        {"records_per_second", per_second(static_cast<double>(t.records_in), seconds)}};
  json["latency_ms"] = percentile_json(percentiles(t.latencies));
  json["time_to_first_result_ms"] = percentile_json(percentiles(t.first_results));
  auto streams = nlohmann::ordered_json::array();
  for (const StreamOutcome& s : report.streams) {
    nlohmann::ordered_json stream = {{"label", s.label},
                                     {"pipeline", s.pipeline},
                                     {"status", std::string(error_code_name(s.status.code))},
                                     {"message", s.status.message},
                                     {"attempts", s.attempts},
                                     {"bytes", s.bytes},
                                     {"chunks", s.chunks},
                                     {"records_in", s.records_in},
                                     {"records_out", s.records_out},
                                     {"latency_ms", s.latency_ms},
                                     {"time_to_first_result_ms", s.first_result_ms}};
    if (!s.result_file.empty()) stream["result_file"] = s.result_file;
    if (!s.recorded_status.empty()) stream["recorded_status"] = s.recorded_status;
    streams.push_back(std::move(stream));
  }
  json["stream_results"] = std::move(streams);
  return json;
}

}  // namespace sluice::replay
