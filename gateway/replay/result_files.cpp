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
    if (entry.is_regular_file() && entry.path().extension() == ".jsonl") files[entry.path().filename()] = entry.path();
  }
  return files;
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

ResultFile::ResultFile(const std::string& dir, const std::string& name) {
  if (dir.empty()) return;
  path_ = (fs::path(dir) / (name + ".jsonl")).string();
  out_.open(path_, std::ios::trunc);
  if (!out_) {
    throw Error(ErrorCode::FailedPrecondition,
                fmt::format("cannot create result file '{}': {}", path_, std::strerror(errno)));
  }
}

void ResultFile::batch(const v1::ResultBatch& batch) {
  if (path_.empty()) return;
  out_ << nlohmann::ordered_json{{"batch", gateway::to_json(batch)}}.dump() << '\n';
}

void ResultFile::summary(const v1::Summary& summary) {
  if (path_.empty()) return;
  for (const v1::ResultBatch& b : summary.results()) batch(b);
  v1::Summary rest = summary;
  rest.clear_results();
  nlohmann::ordered_json json = gateway::to_json(rest, {});
  json.erase("results");
  json["counters"].erase("chunks_in");
  out_ << nlohmann::ordered_json{{"summary", std::move(json)}}.dump() << '\n';
  out_.flush();
  if (!out_) throw Error(ErrorCode::DataLoss, fmt::format("writing result file '{}' failed", path_));
}

void ResultFile::error(ErrorCode code) {
  if (path_.empty()) return;
  out_.close();
  out_.open(path_, std::ios::trunc);
  out_ << nlohmann::ordered_json{{"error", std::string(error_code_name(code))}}.dump() << '\n';
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
