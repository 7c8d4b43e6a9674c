#include "pipeline/stages/lines_parse.h"

#include "pipeline/stages/parse_support.h"

namespace sluice::pipeline {

namespace {

class LinesParser : public Parser {
 public:
  LinesParser(SchemaPtr schema, bool skip_empty) : schema_(std::move(schema)), skip_empty_(skip_empty) {}

  void prepare(Block& block) override { skip_bom(block); }

  size_t parse(const Block& block, RecordBatch& out) const override {
    out.schema = schema_;
    LineCursor cursor(block);
    TextLine line;
    size_t records = 0;
    while (cursor.next(line)) {
      if (line.text.empty() && skip_empty_) continue;
      out.cells.emplace_back(std::string(line.text));
      out.origins.push_back(line.origin);
      ++records;
    }
    return records;
  }

 private:
  SchemaPtr schema_;
  bool skip_empty_;
};

}  // namespace

LinesConfig LinesConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "field", "skip_empty"}, "stage 'lines'");
  LinesConfig config;
  if (auto field = node.get("field")) {
    config.field = field->as_string();
    if (config.field.empty()) field->fail("stage 'lines' needs a non-empty `field` name");
  }
  config.skip_empty = node.bool_or("skip_empty", true);
  return config;
}

LinesParseStage::LinesParseStage(LinesConfig config)
    : config_(std::move(config)), schema_(std::make_shared<const Schema>(std::vector<std::string>{config_.field})) {}

std::unique_ptr<Parser> LinesParseStage::start_stream() const {
  return std::make_unique<LinesParser>(schema_, config_.skip_empty);
}

void register_lines_parse(StageRegistry& registry) {
  registry.add("lines", StageKind::Parse, "each line is a record with one string field",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const LinesParseStage>(LinesConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
