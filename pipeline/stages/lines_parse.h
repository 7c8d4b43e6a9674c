#pragma once
// `lines`: each line of the input is one record with one string field (`line` unless `field`
// names it). LF or CRLF line endings; a UTF-8 byte order mark at the start is dropped; empty
// lines are skipped unless `skip_empty: false`, which makes them empty strings.
#include <memory>
#include <string>

#include "config/node.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

struct LinesConfig {
  std::string field = "line";  // the one column's name
  bool skip_empty = true;

  static LinesConfig from_yaml(const config::Node& node);
};

class LinesParseStage : public ParseStage {
 public:
  explicit LinesParseStage(LinesConfig config);
  Framing framing() const override { return Framing::lines(); }
  std::unique_ptr<Parser> start_stream() const override;

 private:
  LinesConfig config_;
  SchemaPtr schema_;  // the same for every stream
};

void register_lines_parse(StageRegistry& registry);

}  // namespace sluice::pipeline
