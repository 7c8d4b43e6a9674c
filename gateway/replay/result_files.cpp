#include "gateway/replay/result_files.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gateway/result_format.h"

namespace sluice::replay {

namespace {

namespace fs = std::filesystem;

std::string safe_stem(const std::string& label) {
  std::string stem = label;
  for (char& c : stem) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  }
  if (stem.empty()) return "stream";
  if (stem.front() == '.') stem.insert(0, "_");  // no hidden files, no ".."
  return stem;
}

std::map<std::string, fs::path> result_files_in(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error(ErrorCode::NotFound, fmt::format("'{}' is not a directory", dir));
  std::map<std::string, fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const fs::path extension = entry.path().extension();
    if (entry.is_regular_file() && (extension == ".jsonl" || extension == ".csv" || extension == ".json")) {
      files[entry.path().filename()] = entry.path();
    }
  }
  return files;
}

// RFC 4180: quoted when it holds a delimiter, a quote or a line break. An empty string is quoted
// too, so that it reads back differently from a null (an empty field).
std::string csv_field(const v1::Value& value) {
  if (value.kind_case() == v1::Value::kNullValue || value.kind_case() == v1::Value::KIND_NOT_SET) return "";
  const std::string text = gateway::display(value);
  if (value.kind_case() != v1::Value::kStringValue) return text;
  if (!text.empty() && text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// A window of a long line around column `at`, so a differing batch of many rows stays readable.
std::string excerpt(const std::string& line, size_t at) {
  constexpr size_t kBefore = 40, kWidth = 160;
  const size_t from = at > kBefore ? at - kBefore : 0;
  std::string text = line.substr(from, kWidth);
  if (from > 0) text.insert(0, "...");
  if (from + kWidth < line.size()) text += "...";
  return text;
}

// Empty when the files are equal; else where and how they first differ.
std::string first_difference(const fs::path& a, const fs::path& b) {
  std::ifstream in_a(a), in_b(b);
  std::string line_a, line_b;
  for (size_t line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(in_a, line_a));
    const bool more_b = static_cast<bool>(std::getline(in_b, line_b));
    if (!more_a && !more_b) return {};
    if (more_a != more_b) {
      return fmt::format("line {}: only {} has it: {}", line, more_a ? "A" : "B", excerpt(more_a ? line_a : line_b, 0));
    }
    if (line_a != line_b) {
      const size_t column = static_cast<size_t>(
          std::mismatch(line_a.begin(), line_a.end(), line_b.begin(), line_b.end()).first - line_a.begin());
      return fmt::format("line {} differs at column {}:\n    A: {}\n    B: {}", line, column + 1,
                         excerpt(line_a, column), excerpt(line_b, column));
    }
  }
}

}  // namespace

std::vector<std::string> result_names(const std::vector<std::string>& labels) {
  std::set<std::string> taken;
  std::vector<std::string> names;
  for (const std::string& label : labels) {
    const std::string stem = safe_stem(label);
    std::string name = stem;
    for (int n = 2; !taken.insert(name).second; ++n) name = fmt::format("{}-{}", stem, n);
    names.push_back(std::move(name));
  }
  return names;
}

std::string result_file_name(const std::string& name, ResultFormat format) {
  return name + (format == ResultFormat::Csv ? ".csv" : ".jsonl");
}

ResultFile::ResultFile(const std::string& dir, const std::string& name, ResultFormat format) : format_(format) {
  if (dir.empty()) return;
  path_ = (fs::path(dir) / result_file_name(name, format)).string();
  if (format == ResultFormat::Csv) summary_path_ = (fs::path(dir) / (name + ".summary.json")).string();
  out_.open(path_, std::ios::trunc);
  if (!out_) {
    throw Error(ErrorCode::FailedPrecondition,
                fmt::format("cannot create result file '{}': {}", path_, std::strerror(errno)));
  }
}

void ResultFile::batch(const v1::ResultBatch& batch) {
  if (path_.empty()) return;
  if (format_ == ResultFormat::Csv) {
    csv_batch(batch);
  } else {
    out_ << nlohmann::ordered_json{{"batch", gateway::to_json(batch)}}.dump() << '\n';
  }
}

void ResultFile::csv_batch(const v1::ResultBatch& batch) {
  std::vector<std::string> header;
  if (batch.has_window()) header = {"window_start", "window_end"};
  header.insert(header.end(), batch.columns().begin(), batch.columns().end());
  if (header != csv_header_) {
    for (size_t i = 0; i < header.size(); ++i) out_ << (i ? "," : "") << header[i];
    out_ << '\n';
    csv_header_ = std::move(header);
  }
  const std::string window =
      batch.has_window() ? fmt::format("{},{},", batch.window().start(), batch.window().end()) : std::string();
  for (const v1::Row& row : batch.rows()) {
    out_ << window;
    for (int i = 0; i < row.values_size(); ++i) out_ << (i ? "," : "") << csv_field(row.values(i));
    out_ << '\n';
  }
}

void ResultFile::summary(const v1::Summary& summary) {
  if (path_.empty()) return;
  for (const v1::ResultBatch& b : summary.results()) batch(b);
  v1::Summary rest = summary;
  rest.clear_results();
  nlohmann::ordered_json json = gateway::to_json(rest, {});
  json.erase("results");
  json["counters"].erase("chunks_in");
  const std::string failed = write_summary_line(nlohmann::ordered_json{{"summary", std::move(json)}}.dump());
  if (!failed.empty()) throw Error(ErrorCode::DataLoss, fmt::format("writing result file '{}' failed", failed));
}

void ResultFile::error(ErrorCode code) {
  if (path_.empty()) return;
  out_.close();
  out_.open(path_, std::ios::trunc);  // a failed stream's partial results are not kept
  // Best effort: the stream has failed already, and the report says how.
  write_summary_line(nlohmann::ordered_json{{"error", std::string(error_code_name(code))}}.dump());
}

std::string ResultFile::write_summary_line(const std::string& json_line) {
  if (format_ == ResultFormat::Csv) {
    std::ofstream summary(summary_path_, std::ios::trunc);
    summary << json_line << '\n';
    if (!summary) return summary_path_;
  } else {
    out_ << json_line << '\n';
  }
  out_.flush();
  return out_ ? "" : path_;
}

Comparison compare_result_dirs(const std::string& dir_a, const std::string& dir_b) {
  const auto files_a = result_files_in(dir_a);
  const auto files_b = result_files_in(dir_b);
  std::set<std::string> names;
  for (const auto& [name, path] : files_a) names.insert(name);
  for (const auto& [name, path] : files_b) names.insert(name);
  Comparison comparison;
  comparison.files = names.size();
  for (const std::string& name : names) {
    const auto a = files_a.find(name), b = files_b.find(name);
    if (a == files_a.end() || b == files_b.end()) {
      comparison.differences.push_back(fmt::format("{}: only in {}", name, a == files_a.end() ? dir_b : dir_a));
    } else if (std::string difference = first_difference(a->second, b->second); !difference.empty()) {
      comparison.differences.push_back(fmt::format("{}: {}", name, difference));
    }
  }
  return comparison;
}

}  // namespace sluice::replay
