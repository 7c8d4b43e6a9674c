#pragma once
// `csv`: RFC 4180 records (quoted fields, "" escapes, delimiters and newlines inside quotes,
// CRLF or LF, optional UTF-8 BOM) into typed records. Columns come from a header row or are
// declared; values are strings unless their type is declared or type inference is on.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/node.h"
#include "core/value.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

struct CsvConfig {
  bool header = true;                          // the first record names the columns
  std::vector<std::string> columns;            // declared columns (required without a header)
  char delimiter = ',';
  std::map<std::string, ValueType> types;      // declared column types
  bool infer_types = false;                    // untyped columns: int, double, bool or string

  static CsvConfig from_yaml(const config::Node& node);
};

class CsvParseStage : public ParseStage {
 public:
  explicit CsvParseStage(CsvConfig config);
  Framing framing() const override { return Framing::csv(config_.delimiter); }
  std::unique_ptr<Parser> start_stream() const override;

 private:
  CsvConfig config_;
};

void register_csv_parse(StageRegistry& registry);

}  // namespace sluice::pipeline
