#include "gateway/result_format.h"

#include <algorithm>

#include <fmt/format.h>

namespace sluice::gateway {

std::string display(const v1::Value& value) {
  switch (value.kind_case()) {
    case v1::Value::kBoolValue: return value.bool_value() ? "true" : "false";
    case v1::Value::kIntValue: return std::to_string(value.int_value());
    case v1::Value::kDoubleValue: return fmt::format("{}", value.double_value());
    case v1::Value::kStringValue: return value.string_value();
    case v1::Value::kNullValue:
    case v1::Value::KIND_NOT_SET: return "null";
  }
  return "null";
}

void print_table(std::ostream& out, const v1::ResultBatch& batch) {
  if (batch.has_window()) out << fmt::format("window [{}, {})\n", batch.window().start(), batch.window().end());
  const int columns = batch.columns_size();
  std::vector<size_t> width(static_cast<size_t>(columns));
  std::vector<bool> numeric(static_cast<size_t>(columns), true);
  for (int c = 0; c < columns; ++c) width[c] = batch.columns(c).size();
  for (const v1::Row& row : batch.rows()) {
    for (int c = 0; c < std::min(columns, row.values_size()); ++c) {
      width[c] = std::max(width[c], display(row.values(c)).size());
      const auto kind = row.values(c).kind_case();
      numeric[c] = numeric[c] && (kind == v1::Value::kIntValue || kind == v1::Value::kDoubleValue ||
                                  kind == v1::Value::kNullValue);
    }
  }
  auto cell = [&](int c, const std::string& text) {
    return numeric[c] ? fmt::format("{:>{}}", text, width[c]) : fmt::format("{:<{}}", text, width[c]);
  };
  std::string line;
  for (int c = 0; c < columns; ++c) line += (c ? "  " : "") + cell(c, batch.columns(c));
  out << line << "\n";
  line.clear();
  for (int c = 0; c < columns; ++c) line += (c ? "  " : "") + std::string(width[c], '-');
  out << line << "\n";
  for (const v1::Row& row : batch.rows()) {
    line.clear();
    for (int c = 0; c < std::min(columns, row.values_size()); ++c) line += (c ? "  " : "") + cell(c, display(row.values(c)));
    out << line << "\n";
  }
}

void print_counters(std::ostream& out, const v1::Counters& c) {
  out << fmt::format("bytes {}  chunks {}  records in {}  out {}  filtered {}  rejected {}\n", c.bytes_in(),
                     c.chunks_in(), c.records_in(), c.records_out(), c.records_filtered(), c.records_rejected());
  std::vector<std::pair<std::string, uint64_t>> reasons(c.rejected_by_reason().begin(), c.rejected_by_reason().end());
  std::sort(reasons.begin(), reasons.end());
  for (const auto& [reason, n] : reasons) out << fmt::format("  rejected {:>8}  {}\n", n, reason);
}

nlohmann::ordered_json to_json(const v1::Value& value) {
  switch (value.kind_case()) {
    case v1::Value::kBoolValue: return value.bool_value();
    case v1::Value::kIntValue: return value.int_value();
    case v1::Value::kDoubleValue: return value.double_value();
    case v1::Value::kStringValue: return value.string_value();
    case v1::Value::kNullValue:
    case v1::Value::KIND_NOT_SET: return nullptr;
  }
  return nullptr;
}

nlohmann::ordered_json to_json(const v1::ResultBatch& batch) {
  nlohmann::ordered_json out;
  if (batch.has_window()) out["window"] = {{"start", batch.window().start()}, {"end", batch.window().end()}};
  out["columns"] = batch.columns();
  auto rows = nlohmann::ordered_json::array();
  for (const v1::Row& row : batch.rows()) {
    auto values = nlohmann::ordered_json::array();
    for (const v1::Value& v : row.values()) values.push_back(to_json(v));
    rows.push_back(std::move(values));
  }
  out["rows"] = std::move(rows);
  return out;
}

nlohmann::ordered_json to_json(const v1::Counters& c) {
  nlohmann::ordered_json out = {{"bytes_in", c.bytes_in()},
                                {"chunks_in", c.chunks_in()},
                                {"records_in", c.records_in()},
                                {"records_out", c.records_out()},
                                {"records_filtered", c.records_filtered()},
                                {"records_rejected", c.records_rejected()},
                                {"results_emitted", c.results_emitted()}};
  std::map<std::string, uint64_t> reasons(c.rejected_by_reason().begin(), c.rejected_by_reason().end());
  out["rejected_by_reason"] = reasons;
  return out;
}

nlohmann::ordered_json to_json(const v1::Summary& summary, const std::vector<v1::ResultBatch>& batches) {
  nlohmann::ordered_json out;
  out["pipeline"] = summary.pipeline();
  auto results = nlohmann::ordered_json::array();
  for (const v1::ResultBatch& b : summary.results()) results.push_back(to_json(b));
  for (const v1::ResultBatch& b : batches) results.push_back(to_json(b));
  out["results"] = std::move(results);
  out["counters"] = to_json(summary.counters());
  auto dead = nlohmann::ordered_json::array();
  for (const v1::Rejected& r : summary.dead_letters()) {
    dead.push_back({{"line", r.line()}, {"offset", r.offset()}, {"field", r.field()}, {"reason", r.reason()},
                    {"record", r.record()}});
  }
  out["dead_letters"] = std::move(dead);
  return out;
}

}  // namespace sluice::gateway
