#include "pipeline/stages/jsonl_parse.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/byte_scan.h"
#include "core/error.h"
#include "pipeline/expr/expression.h"
#include "pipeline/stages/parse_support.h"

// simdjson's DOM parser rather than On-Demand, by measurement: 200,000 synthetic access-log lines
// (~217 bytes, 10 keys, one nested object and one array), each line parsed and every leaf turned
// into a Value, took ~830 ns/line with DOM and ~940 ns/line with On-Demand, built with this
// project's flags (no -march). DOM runs the SIMD kernel that the library picks at run time
// (icelake on the measuring machine); On-Demand is compiled into our code for the baseline x86-64
// target, i.e. simdjson's scalar fallback (with -march=haswell: DOM ~880, On-Demand ~1000 ns/line).
// DOM also validates the whole line, so a malformed value under an unused key still rejects the
// record. The whole parse() on the same lines in 1 MiB blocks, one thread: ~1.5 us/line flattened
// to 11 columns, ~0.9 us/line picking 4 `fields`; beyond simdjson, the time goes mostly to the
// path lookups (since skipped for keys that come where they came in the previous record) and the
// freshly allocated cells.
namespace dom = simdjson::dom;

namespace sluice::pipeline {

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

std::string_view json_type_name(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY: return "an array";
    case dom::element_type::OBJECT: return "an object";
    case dom::element_type::STRING: return "a string";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE: return "a number";
    case dom::element_type::BOOL: return "a boolean";
    case dom::element_type::NULL_VALUE: return "null";
  }
  return "?";
}

// The value as the JSON gives it.
Value json_value(dom::element element) {
  switch (element.type()) {
    case dom::element_type::STRING: return std::string(element.get_string().value_unsafe());
    case dom::element_type::INT64: return element.get_int64().value_unsafe();
    case dom::element_type::UINT64: return element.get_double().value_unsafe();  // only those beyond int64
    case dom::element_type::DOUBLE: return element.get_double().value_unsafe();
    case dom::element_type::BOOL: return element.get_bool().value_unsafe();
    case dom::element_type::NULL_VALUE: return Value{};
    case dom::element_type::ARRAY:
    case dom::element_type::OBJECT: return simdjson::minify(element);
  }
  return Value{};
}

// The value converted to a declared type, or nullopt when it does not fit. Strings convert as
// csv text does, null fits every type, and numbers only convert exactly (2.5 is not an int).
std::optional<Value> typed_value(dom::element element, ValueType to) {
  const dom::element_type type = element.type();
  if (type == dom::element_type::NULL_VALUE) return Value{};
  if (type == dom::element_type::STRING) return convert_text(element.get_string().value_unsafe(), to);
  switch (to) {
    case ValueType::Null: return Value{};
    case ValueType::String: return Value{simdjson::minify(element)};
    case ValueType::Int:
      if (type == dom::element_type::INT64) return Value{element.get_int64().value_unsafe()};
      return std::nullopt;
    case ValueType::Double:
      if (double d; element.get_double().get(d) == simdjson::SUCCESS) return Value{d};
      return std::nullopt;
    case ValueType::Bool:
      if (type == dom::element_type::BOOL) return Value{element.get_bool().value_unsafe()};
      return std::nullopt;
  }
  return std::nullopt;
}

// The leaves of the first record, as dotted paths in document order: scalars, arrays and empty
// objects. Objects with keys are descended into.
void collect_leaf_paths(dom::object object, std::string& path, std::vector<std::string>& paths,
                        std::set<std::string, std::less<>>& seen) {
  const size_t prefix_length = path.size();
  for (const dom::key_value_pair field : object) {
    path.resize(prefix_length);
    path += field.key;
    dom::object child;
    if (field.value.get_object().get(child) == simdjson::SUCCESS && child.begin() != child.end()) {
      path += '.';
      collect_leaf_paths(child, path, paths, seen);
    } else if (seen.insert(path).second) {
      paths.push_back(path);
    }
  }
  path.resize(prefix_length);
}

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

// simdjson reads up to SIMDJSON_PADDING bytes past the end of its input. A line that many bytes
// of its block's buffer follow is parsed in place; the last line or so of a block is copied into
// `copy` first. Only the buffer's initialized bytes count, not its spare capacity.
simdjson::padded_string_view padded(const Block& block, std::string_view line, std::string& copy) {
  const size_t available = static_cast<size_t>(block.buffer.data() + block.buffer.size() - line.data());
  if (available - line.size() >= simdjson::SIMDJSON_PADDING) {
    return simdjson::padded_string_view(line.data(), line.size(), available);
  }
  copy.assign(line);
  copy.append(simdjson::SIMDJSON_PADDING, ' ');
  return simdjson::padded_string_view(copy.data(), line.size(), copy.size());
}

// Parses one line of `block` into `object`; returns why not when it is not a JSON object.
std::optional<std::string> parse_object(dom::parser& parser, const Block& block, std::string_view line,
                                        std::string& copy, dom::object& object) {
  dom::element root;
  const simdjson::error_code error = parser.parse(padded(block, line, copy)).get(root);
  // Not the record's fault: fail the stream rather than reject the record.
  if (error == simdjson::MEMALLOC) throw Error(ErrorCode::ResourceExhausted, "jsonl: out of memory parsing a line");
  if (error) return fmt::format("invalid JSON: {}", simdjson::error_message(error));
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return fmt::format("expected a JSON object, got {}", json_type_name(root.type()));
  }
  return std::nullopt;
}

}  // namespace

// Which element of a record's object each column takes, and the column's declared type.
class JsonlProjection {
 public:
  // Column i is found at paths[i] and named names[i].
  JsonlProjection(const std::vector<std::string>& paths, std::vector<std::string> names,
                  const std::map<std::string, ValueType>& types) {
    for (size_t i = 0; i < paths.size(); ++i) {
      column_of_path_.emplace(paths[i], i);
      for (size_t dot = paths[i].find('.'); dot != std::string::npos; dot = paths[i].find('.', dot + 1)) {
        parents_.insert(paths[i].substr(0, dot));
      }
      auto type = types.find(names[i]);
      types_.push_back(type == types.end() ? std::nullopt : std::optional<ValueType>(type->second));
    }
    schema_ = std::make_shared<const Schema>(std::move(names));
  }

  // Without `fields`: the first record's leaves, then the typed columns that it lacks.
  static std::shared_ptr<const JsonlProjection> from_first_record(dom::object object,
                                                                  const std::map<std::string, ValueType>& types) {
    std::vector<std::string> paths;
    std::set<std::string, std::less<>> seen;
    std::string path;
    collect_leaf_paths(object, path, paths, seen);
    for (const auto& typed : types) {
      if (!seen.contains(typed.first)) paths.push_back(typed.first);
    }
    return std::make_shared<const JsonlProjection>(paths, paths, types);
  }

  const SchemaPtr& schema() const { return schema_; }

  // What a key's path is to the projection: the column it fills (-1: none), and whether columns
  // lie below it.
  struct PathRole {
    int column = -1;
    bool parent = false;
  };

  // Reused across the records of one parse() call.
  struct Scratch {
    std::string path;
    std::vector<std::optional<dom::element>> found;
    // The path and role of the k-th key visited in the previous record: the records of a stream
    // mostly repeat their keys in the same order, and a path met again at the same place needs
    // only a comparison, not the hash lookups.
    std::vector<std::pair<std::string, PathRole>> roles;
    size_t visited = 0;
  };

  // A predicate given to Parser::keep_only, for the records of one parse() call.
  struct RowFilter {
    explicit RowFilter(const expr::Expression& p) : predicate(p) {}
    const expr::Expression& predicate;
    std::vector<char> tested;  // per column: read by the predicate (built first)
    // Bound at the first row it tests, where the filter it stands for would bind: an unknown field
    // fails the stream then, as it would there.
    std::optional<expr::BoundExpression> bound;
  };
  enum class RowFate { Kept, Dropped, Rejected };  // Dropped: the predicate is not true for it

  // Appends the record's row to `out` (Kept), or its rejection when a typed value does not convert
  // (Rejected). With a filter, the columns it reads are built first, and a row for which it is not
  // true is dropped once the other typed values are checked: a record that does not fit its types
  // is rejected, as it would be without the filter.
  RowFate append_row(dom::object object, const TextLine& line, RecordBatch& out, Scratch& scratch,
                     RowFilter* filter) const {
    const size_t width = types_.size();
    scratch.found.assign(width, std::nullopt);
    scratch.path.clear();
    scratch.visited = 0;
    locate(object, scratch);
    const size_t row_begin = out.cells.size();
    out.cells.resize(row_begin + width);
    Value* const row = out.cells.data() + row_begin;
    // Column i's value into the row, or with no row only checked; false when it does not fit.
    const auto convert = [&](size_t i, Value* into) {
      const std::optional<dom::element>& element = scratch.found[i];
      if (!element) return true;
      if (!types_[i]) {
        if (into) into[i] = json_value(*element);
        return true;
      }
      auto value = typed_value(*element, *types_[i]);
      if (!value) return false;
      if (into) into[i] = std::move(*value);
      return true;
    };
    const auto convert_all = [&](bool tested, Value* into) {
      for (size_t i = 0; i < width; ++i) {
        if ((filter && filter->tested[i]) == tested && !convert(i, into)) return false;
      }
      return true;
    };
    bool fits = true;
    if (filter) {
      fits = convert_all(true, row);
      if (fits) {
        if (!filter->bound) filter->bound = filter->predicate.bind(*schema_);
        if (!filter->bound->test({row, width})) {
          if (convert_all(false, nullptr)) {
            out.cells.resize(row_begin);
            return RowFate::Dropped;
          }
          fits = false;
        }
      }
    }
    if (fits && convert_all(false, row)) return RowFate::Kept;
    out.cells.resize(row_begin);
    size_t i = 0;  // the first column that does not fit, in input order (there is one)
    while (convert(i, nullptr)) ++i;
    std::string_view text;
    const std::string shown = scratch.found[i]->get_string().get(text) == simdjson::SUCCESS
                                  ? std::string(text)
                                  : simdjson::minify(*scratch.found[i]);
    out.rejections.push_back({fmt::format("expected {}, got '{}'", type_name(*types_[i]), shown), schema_->names()[i],
                              line.origin, rejected_text(line.text)});
    return RowFate::Rejected;
  }

  // The filter of one parse() call: which columns the predicate reads.
  RowFilter filter_for(const expr::Expression& predicate) const {
    RowFilter filter(predicate);
    filter.tested.assign(types_.size(), 0);
    for (const std::string& field : predicate.fields()) {
      if (const int column = schema_->index_of(field); column >= 0) filter.tested[static_cast<size_t>(column)] = 1;
    }
    return filter;
  }

 private:
  // Notes the element of each column under `object`, whose own path is scratch.path (with its
  // trailing dot, or empty for the record). Objects are descended into only on the way to a column.
  void locate(dom::object object, Scratch& scratch) const {
    std::string& path = scratch.path;
    const size_t prefix_length = path.size();
    for (const dom::key_value_pair field : object) {
      // A key of the record itself is its own path, looked up as it stands rather than copied.
      std::string_view key_path = field.key;
      if (prefix_length > 0) {
        path.resize(prefix_length);
        path += field.key;
        key_path = path;
      }
      const PathRole role = role_of(key_path, scratch);
      if (role.column >= 0) scratch.found[static_cast<size_t>(role.column)] = field.value;
      dom::object child;
      if (role.parent && field.value.get_object().get(child) == simdjson::SUCCESS) {
        path.resize(prefix_length);
        path += field.key;
        path += '.';
        locate(child, scratch);
      }
    }
    path.resize(prefix_length);
  }

  PathRole role_of(std::string_view path, Scratch& scratch) const {
    const size_t k = scratch.visited++;
    if (k < scratch.roles.size() && scratch.roles[k].first == path) return scratch.roles[k].second;
    PathRole role;
    if (auto column = column_of_path_.find(path); column != column_of_path_.end()) {
      role.column = static_cast<int>(column->second);
    }
    role.parent = parents_.contains(path);
    if (k >= scratch.roles.size()) scratch.roles.resize(k + 1);
    scratch.roles[k] = {std::string(path), role};
    return role;
  }

  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> column_of_path_;
  std::unordered_set<std::string, StringHash, std::equal_to<>> parents_;  // proper prefixes of the paths
  std::vector<std::optional<ValueType>> types_;                            // per column; nullopt = as the JSON says
  SchemaPtr schema_;
};

namespace {

class JsonlParser : public Parser {
 public:
  JsonlParser(const JsonlConfig& config, std::shared_ptr<const JsonlProjection> declared)
      : config_(config), projection_(std::move(declared)) {}

  void prepare(Block& block) override {
    skip_bom(block);
    if (projection()) return;
    // No `fields`: the first object of the stream fixes the columns.
    dom::parser parser;
    std::string copy;
    LineCursor cursor(block);
    TextLine line;
    while (cursor.next(line)) {
      dom::object object;
      if (is_blank(line.text) || parse_object(parser, block, line.text, copy, object)) continue;
      auto found = JsonlProjection::from_first_record(object, config_.types);
      std::lock_guard lock(projection_mu_);
      projection_ = std::move(found);
      return;
    }
  }

  bool keep_only(const expr::Expression& predicate) override {
    predicate_ = predicate;
    return true;
  }

  size_t parse(const Block& block, RecordBatch& out) const override {
    // Null only before the block holding the stream's first object, and such blocks hold no
    // object, so they need no schema: prepare() saw the same lines.
    const std::shared_ptr<const JsonlProjection> projection = this->projection();
    if (projection) {
      out.schema = projection->schema();
      // Room for a row per line: growing the vector of cells would move every value already in it.
      const std::string_view text = block.text();
      const size_t lines = static_cast<size_t>(count_newlines(text)) + 1;
      out.cells.reserve(lines * projection->schema()->size());
      out.origins.reserve(lines);
    }
    dom::parser parser;  // one per call: parse() runs concurrently on different blocks
    std::string copy;
    JsonlProjection::Scratch scratch;
    LineCursor cursor(block);
    TextLine line;
    std::optional<JsonlProjection::RowFilter> filter;  // with a predicate, from the first object on
    size_t records = 0;
    while (cursor.next(line)) {
      if (is_blank(line.text)) continue;
      ++records;
      dom::object object;
      if (auto reason = parse_object(parser, block, line.text, copy, object)) {
        out.rejections.push_back({std::move(*reason), {}, line.origin, rejected_text(line.text)});
      } else if (!projection) {
        throw Error(ErrorCode::Internal, "jsonl: a record was parsed before the stream's columns were fixed");
      } else {
        if (predicate_ && !filter) filter.emplace(projection->filter_for(*predicate_));
        const auto fate = projection->append_row(object, line, out, scratch, filter ? &*filter : nullptr);
        if (fate == JsonlProjection::RowFate::Kept) out.origins.push_back(line.origin);
      }
    }
    return records;
  }

 private:
  std::shared_ptr<const JsonlProjection> projection() const {
    std::lock_guard lock(projection_mu_);
    return projection_;
  }

  const JsonlConfig& config_;
  std::optional<expr::Expression> predicate_;  // see keep_only
  // Written by prepare() (serial) at most once, read by parse() concurrently. A mutex, not
  // std::atomic<std::shared_ptr>: TSan reports the internal lock of libstdc++ 12's version (a
  // load against a later store); taken once a block, the mutex costs nothing.
  mutable std::mutex projection_mu_;
  std::shared_ptr<const JsonlProjection> projection_;
};

bool is_dotted_path(std::string_view path) {
  return !path.empty() && path.front() != '.' && path.back() != '.' && path.find("..") == std::string_view::npos;
}

}  // namespace

std::vector<std::string> JsonlConfig::column_names() const {
  std::vector<std::string> names;
  for (const std::string& path : fields) {
    auto rename = renames.find(path);
    names.push_back(rename == renames.end() ? path : rename->second);
  }
  return names;
}

JsonlConfig JsonlConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "fields", "as", "types"}, "stage 'jsonl'");
  JsonlConfig config;
  if (auto fields = node.get("fields")) {
    for (const config::Node& item : fields->items()) {
      std::string path = item.as_string();
      if (!is_dotted_path(path)) item.fail(fmt::format("'{}' is not a dotted path such as user.id", path));
      if (std::find(config.fields.begin(), config.fields.end(), path) != config.fields.end()) {
        item.fail(fmt::format("field '{}' is listed twice", path));
      }
      config.fields.push_back(std::move(path));
    }
    if (config.fields.empty()) fields->fail("stage 'jsonl' needs at least one field in `fields`, or no `fields` at all");
  }
  if (auto renames = node.get("as")) {
    if (config.fields.empty()) renames->fail("`as` renames entries of `fields`, and there is no `fields`");
    for (const auto& [path, name_node] : renames->entries()) {
      if (std::find(config.fields.begin(), config.fields.end(), path) == config.fields.end()) {
        name_node.fail(fmt::format("`as` renames '{}', which is not in `fields`", path));
      }
      const std::string name = name_node.as_string();
      if (name.empty()) name_node.fail(fmt::format("`as` gives '{}' an empty name", path));
      config.renames[path] = name;
    }
    std::set<std::string_view> seen;
    for (const std::string& name : config.column_names()) {
      if (!seen.insert(name).second) renames->fail(fmt::format("two columns would be named '{}'", name));
    }
  }
  if (auto types = node.get("types")) {
    config.types = parse_column_types(*types);
    const std::vector<std::string> columns = config.column_names();
    for (const auto& [name, type_node] : types->entries()) {
      if (!columns.empty() && std::find(columns.begin(), columns.end(), name) == columns.end()) {
        type_node.fail(fmt::format("`types` names '{}', which is not one of the columns in `fields`", name));
      }
    }
  }
  return config;
}

JsonlParseStage::JsonlParseStage(JsonlConfig config) : config_(std::move(config)) {
  if (!config_.fields.empty()) {
    declared_ = std::make_shared<const JsonlProjection>(config_.fields, config_.column_names(), config_.types);
  }
}

std::unique_ptr<Parser> JsonlParseStage::start_stream() const {
  return std::make_unique<JsonlParser>(config_, declared_);
}

void register_jsonl_parse(StageRegistry& registry) {
  registry.add("jsonl", StageKind::Parse, "JSON Lines: one JSON object per line, nested keys as dotted paths",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const JsonlParseStage>(JsonlConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
