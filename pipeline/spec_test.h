#pragma once
// Config-level tests (in the spirit of `vector test` / `benthos test`): a YAML file names a
// config, inputs and the results expected from a pipeline, so a config change is checked like
// code. Run by `sluice test FILE...` and by the project's own ctest.
//
//   config: ../examples/default.yaml        # relative to this file; its `pipelines:` are used
//   tests:
//     - name: errors per country
//       pipeline: http_errors
//       input: |                            # or input_file: path relative to this file
//         country,status
//         US,404
//       chunk_sizes: [1, 7, 65536]          # each must give the expected output (default [65536])
//       expect:
//         results:                          # result batches in order; rows compared typed
//           - columns: [country, status, requests]
//             rows: [[US, 404, 1]]
//         counters: {records_in: 1, records_rejected: 0}
//         rejected_by_reason: {"expected int, got 'x'": 1}
//         error: max_record_bytes           # instead: the stream must fail with this in its message
#include <string>
#include <vector>

#include "pipeline/registry.h"

namespace sluice::pipeline {

struct SpecTestResult {
  std::string name;
  bool passed = false;
  std::string failure;  // why it failed (first difference), empty when passed
};

// Throws config::ConfigError (file:line:column) when the spec file itself is malformed.
std::vector<SpecTestResult> run_spec_file(const std::string& path, const StageRegistry& registry);

}  // namespace sluice::pipeline
