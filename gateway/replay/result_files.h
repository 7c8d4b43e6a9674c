#pragma once
// Result files: a replay writes each stream's results to OUT_DIR, in one of two formats.
//
// JSON lines, OUT_DIR/<name>.jsonl:
//   {"batch": {...}}     one line per result batch, in order (result_format's to_json)
//   {"summary": {...}}   last: pipeline, counters and dead letters
//   {"error": "CODE"}    instead, the only line of a stream that failed (the report has the message)
//
// CSV, OUT_DIR/<name>.csv and OUT_DIR/<name>.summary.json:
//   the rows of every batch under a header line of the columns (written again when the columns
//   change); windowed results start with window_start,window_end. RFC 4180 quoting; a null is an
//   empty field and an empty string is "". The summary (or {"error": "CODE"}) goes beside it.
//
// The files hold only what the input data and the pipeline determine: chunks_in (how the sender
// cut the input) is left out, so an offline run and a gateway run write byte-identical files.
#include <cstddef>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "sluice/v1/sluice.pb.h"

namespace sluice::replay {

// Stable, unique file stems for the labels, in order: characters other than letters, digits,
// '.', '_' and '-' become '_', and a stem already taken gets "-2", "-3"...
std::vector<std::string> result_names(const std::vector<std::string>& labels);

enum class ResultFormat { JsonLines, Csv };

// The file that holds a stream's results: NAME.jsonl or NAME.csv.
std::string result_file_name(const std::string& name, ResultFormat format);

class ResultFile {
 public:
  // Creates (truncates) the stream's file in DIR; with an empty `dir` nothing is written.
  // Throws Error(FailedPrecondition) naming the file when it cannot be created.
  ResultFile(const std::string& dir, const std::string& name, ResultFormat format = ResultFormat::JsonLines);

  void batch(const v1::ResultBatch& batch);
  // The summary's own results (Upload returns them inside it) are written as batch lines first.
  // Throws Error(DataLoss) naming the file if any write failed.
  void summary(const v1::Summary& summary);
  // Replaces what was written with the failure's code.
  void error(ErrorCode code);

 private:
  // Returns the path of a file that could not be written, or "".
  std::string write_summary_line(const std::string& json_line);
  void csv_batch(const v1::ResultBatch& batch);

  ResultFormat format_;
  std::string path_;
  std::string summary_path_;  // CSV: the summary's own file
  std::ofstream out_;
  std::vector<std::string> csv_header_;  // the columns of the last header line written
};

struct Comparison {
  size_t files = 0;                      // files present in either directory
  std::vector<std::string> differences;  // one entry per differing or missing file
  bool same() const { return differences.empty(); }
};

// Compares the result files (*.jsonl, *.csv, *.json) of two replays; a differing file's entry shows its first
// differing line from both sides. Throws Error(NotFound) when a directory does not exist.
Comparison compare_result_dirs(const std::string& dir_a, const std::string& dir_b);

}  // namespace sluice::replay
