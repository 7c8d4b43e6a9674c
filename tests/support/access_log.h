#pragma once
// Generates access-log records in memory, renders them as CSV (with fields that need quoting),
// and computes the reference aggregates directly from the records, independently of sluice.
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace sluice::testing {

struct AccessRecord {
  std::string country;
  int64_t status;
  int64_t bytes;
  std::string agent;
};

inline std::vector<AccessRecord> make_access_records(size_t n, uint32_t seed) {
  static const char* kCountries[] = {"US", "DE", "FR", "IN", "BR"};
  static const char* kAgents[] = {"curl/8", "Mozilla/5.0 (X11, Linux)", "say \"hi\"", "two\nlines", "plain"};
  std::mt19937 rng(seed);
  std::vector<AccessRecord> records;
  for (size_t i = 0; i < n; ++i) {
    records.push_back({kCountries[rng() % 5], static_cast<int64_t>(rng() % 5 == 0 ? 400 + rng() % 104 : 200),
                       static_cast<int64_t>(rng() % 100000), kAgents[rng() % 5]});
  }
  return records;
}

inline std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

inline std::string to_csv(const std::vector<AccessRecord>& records) {
  std::string out = "country,status,bytes,agent\n";
  for (const auto& r : records) {
    out += r.country + "," + std::to_string(r.status) + "," + std::to_string(r.bytes) + "," + csv_quote(r.agent) + "\n";
  }
  return out;
}

// (country, status) -> (count, sum of bytes) over records with status >= 400.
inline std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> expected_error_aggregates(
    const std::vector<AccessRecord>& records) {
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> out;
  for (const auto& r : records) {
    if (r.status < 400) continue;
    auto& [count, sum] = out[{r.country, r.status}];
    ++count;
    sum += r.bytes;
  }
  return out;
}

// The stages after the parse stage (which must give country, status and bytes): the records with
// status >= 400, counted and their bytes summed per country and status.
inline const std::string kErrorsAggregationYaml = R"(  - type: filter
    where: status >= 400
  - type: group_by
    keys: [country, status]
    aggregates:
      - {fn: count, as: requests}
      - {fn: sum, field: bytes, as: bytes}
)";

inline const std::string kErrorsPipelineYaml = R"(
stages:
  - type: csv
    types: {status: int, bytes: int}
)" + kErrorsAggregationYaml;

// Indents every non-empty line, to nest a top-level YAML snippet (e.g. kErrorsPipelineYaml) in a config.
inline std::string indent(const std::string& text, const std::string& prefix) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    if (!line.empty()) out += prefix + line;
    out += "\n";
    pos = end + 1;
  }
  return out;
}

}  // namespace sluice::testing
