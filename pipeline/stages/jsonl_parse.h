#pragma once
// `jsonl`: JSON Lines, one JSON object per line (LF or CRLF; blank lines skipped; a UTF-8 byte
// order mark at the start is dropped). Nested objects are reached by dotted paths: `user.id` is
// the `id` key of the object under `user`. Arrays are not indexed into.
//
// Columns:
//   - with `fields: [status, user.id, request.headers.host]`, exactly those, in that order, named
//     by their paths unless `as: {user.id: user_id}` renames them. A path missing from a record
//     (or running into a non-object) is null.
//   - without `fields`, the first JSON object of the stream fixes the columns: its leaves,
//     flattened to dotted paths in document order, then any column named in `types` that it
//     lacks. Later records fill those columns only: their extra keys are ignored and their
//     missing keys are null. (Downstream stages need one schema per stream, and the first record
//     is the only one that every block can agree on without a second pass.)
//
// Values: a JSON string is a string, an integer an int (one beyond int64 a double), other
// numbers doubles, true/false bools, null null, and an array or object at a column's path its
// minified JSON text. `types: {status: int}` converts a column like csv does (the string "404"
// converts to int; a number converts to string as its JSON text); a value that does not convert
// rejects the record. So does a line that is not valid JSON or not an object. With duplicate
// keys in an object, the last one wins.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/node.h"
#include "core/value.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace sluice::pipeline {

struct JsonlConfig {
  std::vector<std::string> fields;              // dotted paths; empty: the first record's leaves
  std::map<std::string, std::string> renames;   // `as`: path -> column name (paths of `fields`)
  std::map<std::string, ValueType> types;       // column name -> type

  static JsonlConfig from_yaml(const config::Node& node);
  // The column names that `fields` and `as` declare, in order.
  std::vector<std::string> column_names() const;
};

class JsonlProjection;

class JsonlParseStage : public ParseStage {
 public:
  explicit JsonlParseStage(JsonlConfig config);
  Framing framing() const override { return Framing::lines(); }
  std::unique_ptr<Parser> start_stream() const override;

 private:
  JsonlConfig config_;
  std::shared_ptr<const JsonlProjection> declared_;  // with `fields`: the same for every stream
};

void register_jsonl_parse(StageRegistry& registry);

}  // namespace sluice::pipeline
