#pragma once
// Result files: a replay writes each stream's results to OUT_DIR/<name>.jsonl as JSON lines:
//
//   {"batch": {...}}     one line per result batch, in order (result_format's to_json)
//   {"summary": {...}}   last: pipeline, counters and dead letters
//   {"error": "CODE"}    instead, the only line of a stream that failed (the report has the message)
//
// The lines hold only what the input data and the pipeline determine: chunks_in (how the sender
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

class ResultFile {
 public:
  // Creates (truncates) DIR/NAME.jsonl; with an empty `dir` nothing is written.
  // Throws Error(FailedPrecondition) naming the file when it cannot be created.
  ResultFile(const std::string& dir, const std::string& name);

  void batch(const v1::ResultBatch& batch);
  // The summary's own results (Upload returns them inside it) are written as batch lines first.
  // Throws Error(DataLoss) naming the file if any write failed.
  void summary(const v1::Summary& summary);
  // Replaces what was written with the failure's code.
  void error(ErrorCode code);

 private:
  std::string path_;
  std::ofstream out_;
};

struct Comparison {
  size_t files = 0;                      // files present in either directory
  std::vector<std::string> differences;  // one entry per differing or missing file
  bool same() const { return differences.empty(); }
};

// Compares the result files (*.jsonl) of two replays; a differing file's entry shows its first
// differing line from both sides. Throws Error(NotFound) when a directory does not exist.
Comparison compare_result_dirs(const std::string& dir_a, const std::string& dir_b);

}  // namespace sluice::replay
