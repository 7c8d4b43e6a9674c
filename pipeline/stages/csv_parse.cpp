#include "pipeline/stages/csv_parse.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <set>
#include <span>

#include <fmt/format.h>

#include "core/error.h"
#include "pipeline/expr/expression.h"
#include "pipeline/stages/csv_reader.h"
#include "pipeline/stages/parse_support.h"

namespace sluice::pipeline {

namespace {

using csv_detail::CsvField;
using csv_detail::CsvReader;

// Appends the field's value to `out`, each "" of an escaped field as one quote.
void append_unescaped(const CsvField& field, std::string& out) {
  if (!field.escaped) {
    out.append(field.text);
    return;
  }
  for (size_t from = 0;;) {
    const size_t quote = field.text.find('"', from);
    if (quote == std::string_view::npos) {
      out.append(field.text.substr(from));
      return;
    }
    out.append(field.text.substr(from, quote + 1 - from));  // up to and including the pair's first quote
    from = quote + 2;
  }
}

// The field's value as text: a view of the block, or of `scratch` when it had quotes to unescape.
std::string_view unescaped_text(const CsvField& field, std::string& scratch) {
  if (!field.escaped) return field.text;
  scratch.clear();
  append_unescaped(field, scratch);
  return scratch;
}

class CsvParser : public Parser {
 public:
  explicit CsvParser(const CsvConfig& config) : config_(config) {
    if (!config_.header) set_columns(config_.columns);
  }

  void prepare(Block& block) override {
    skip_bom(block);
    if (schema_) return;
    CsvReader reader(block.text(), config_.delimiter);
    while (reader.skip_blank_line()) {
    }
    std::vector<CsvField> fields;
    if (reader.at_end()) {
      skip_prefix(block, reader.position());
      return;
    }
    if (auto error = reader.next(fields)) {
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("line {} (offset {}): malformed CSV header: {}", block.first_line, block.offset, *error));
    }
    std::vector<std::string> names = config_.columns;
    if (names.empty()) {
      for (size_t i = 0; i < fields.size(); ++i) {
        std::string scratch;
        const std::string_view name = unescaped_text(fields[i], scratch);
        names.push_back(name.empty() ? fmt::format("column_{}", i + 1) : std::string(name));
      }
    }
    std::set<std::string_view> seen;
    for (const std::string& n : names) {
      if (!seen.insert(n).second) {
        throw Error(ErrorCode::InvalidArgument,
                    fmt::format("line {}: the CSV header names the column '{}' twice", block.first_line, n));
      }
    }
    set_columns(std::move(names));
    skip_prefix(block, reader.position());
  }

  void read_only(const std::vector<std::string>& names) override {
    fields_read_ = std::set<std::string, std::less<>>(names.begin(), names.end());
    if (schema_) set_columns(input_names_);
  }

  bool keep_only(const expr::Expression& predicate) override {
    predicate_ = predicate;
    if (schema_) set_columns(input_names_);
    return true;
  }

  size_t parse(const Block& block, RecordBatch& out) const override {
    // prepare() consumes every block up to and including the header, so a block seen before the
    // header is empty here; it must not read schema_, which prepare() may be setting meanwhile
    // for a later block (parse() runs concurrently with the next chunk's prepare()).
    if (block.size() == 0) return 0;
    out.schema = schema_;
    const size_t width = types_.size();
    const size_t output_width = schema_->size();
    const std::string_view text = block.text();
    CsvReader reader(text, config_.delimiter);
    std::vector<CsvField> fields;
    std::string scratch;  // an escaped field's value, while it is converted
    // Bound at the first row it tests, where the filter it stands for would bind: an unknown field
    // fails the stream then, as it would there.
    std::optional<expr::BoundExpression> predicate;
    // Whether out.cells ends with a row of null cells for the next record: a row the predicate
    // drops is made null again and kept for the next, not removed and added back.
    bool spare_row = false;
    size_t records = 0;
    // Room for as many cells per byte as the last block kept, and a quarter more: the cells
    // vector then rarely grows (each growth moves every value in it), nor holds room for rows that
    // never come, which the in-flight budget would count (RecordBatch::memory_bytes).
    const size_t cells_per_mib = cells_per_mib_.load(std::memory_order_relaxed);
    out.cells.reserve(cells_per_mib * text.size() / (1 << 20) * 5 / 4);
    while (!reader.at_end()) {
      const size_t start = reader.position();
      if (reader.skip_blank_line()) continue;
      ++records;
      const Origin origin{block.offset + start, block.first_line + reader.newlines()};
      auto error = reader.next(fields);
      const std::string_view record_text = text.substr(start, reader.position() - start);
      if (!error && fields.size() != width) {
        error = fmt::format("expected {} fields, got {}", width, fields.size());
      }
      std::string bad_field;
      if (!error) {
        if (!spare_row) out.cells.resize(out.cells.size() + output_width);
        spare_row = false;
        const size_t row_begin = out.cells.size() - output_width;
        Value* const row = out.cells.data() + row_begin;
        const RowFate fate = build_row({fields.data(), text.data()}, row, scratch, predicate);
        if (fate == RowFate::Kept) {
          out.origins.push_back(origin);
          continue;
        }
        if (fate == RowFate::Dropped) {
          for (const Step& step : predicate_steps_) row[step.output] = std::monostate{};
          spare_row = true;
          continue;
        }
        out.cells.resize(row_begin);
        const size_t misfit = first_misfit(fields.data(), scratch);
        bad_field = input_names_[misfit];
        error =
            fmt::format("expected {}, got '{}'", type_name(*types_[misfit]), unescaped_text(fields[misfit], scratch));
      }
      out.rejections.push_back({*error, std::move(bad_field), origin, rejected_text(record_text)});
    }
    if (spare_row) out.cells.resize(out.cells.size() - output_width);
    // Not from a small block, such as the record or two the framer cuts where two chunks meet.
    if (text.size() >= kHintBlockBytes) {
      cells_per_mib_.store(out.cells.size() * (1 << 20) / text.size(), std::memory_order_relaxed);
    }
    return records;
  }

 private:
  // What building a row does with one input field, worked out once per header: the row is then
  // built by running down a list of these, with nothing to look up per field.
  struct Step {
    enum class Kind : uint8_t {
      Text,   // untyped: stored as text (or as the type it looks like, with infer_types)
      Typed,  // converted to its type and stored
      Check,  // typed but not read downstream, or in a row the predicate dropped: only checked
    };
    Kind kind;
    ValueType type = ValueType::String;  // Typed and Check
    uint32_t input = 0;
    uint32_t output = 0;  // Text and Typed
  };

  enum class RowFate { Kept, Dropped, Misfit };  // Dropped: the predicate is not true for it

  // A record's fields, and where its block begins: the number parsers may read the bytes of the
  // block before a field (number_text.h).
  struct Record {
    const CsvField* fields;
    const char* block_begin;
  };

  // The output rows hold only the fields read downstream (see read_only), when all of those are
  // in the input; otherwise every field, so that an error about a missing field lists them all.
  void set_columns(std::vector<std::string> names) {
    const bool narrow = fields_read_ && std::all_of(fields_read_->begin(), fields_read_->end(), [&](const auto& read) {
                          return std::find(names.begin(), names.end(), read) != names.end();
                        });
    std::vector<std::string> output_names;
    types_.clear();
    predicate_steps_.clear();
    other_steps_.clear();
    dropped_row_checks_.clear();
    for (const std::string& name : names) {
      const uint32_t input = static_cast<uint32_t>(types_.size());
      std::optional<ValueType>& type = types_.emplace_back();
      if (auto it = config_.types.find(name); it != config_.types.end()) type = it->second;
      const bool kept = !narrow || fields_read_->contains(name);
      if (kept) output_names.push_back(name);
      const uint32_t output = static_cast<uint32_t>(output_names.size() - 1);
      const bool tested =
          kept && predicate_ && std::ranges::find(predicate_->fields(), name) != predicate_->fields().end();
      if (tested) {
        predicate_steps_.push_back(type ? Step{Step::Kind::Typed, *type, input, output}
                                        : Step{Step::Kind::Text, {}, input, output});
        continue;
      }
      if (type) {
        other_steps_.push_back(kept ? Step{Step::Kind::Typed, *type, input, output}
                                    : Step{Step::Kind::Check, *type, input});
        dropped_row_checks_.push_back({Step::Kind::Check, *type, input});
      } else if (kept) {
        other_steps_.push_back({Step::Kind::Text, {}, input, output});
      }
    }
    input_names_ = std::move(names);
    schema_ = std::make_shared<const Schema>(std::move(output_names));
  }

  // Builds the record's row. With a predicate, the fields it reads are built first, and when it is
  // not true the other fields are only checked against their types: the row is not kept, but a
  // record that does not fit its types is still rejected, as it would be without the predicate.
  RowFate build_row(Record record, Value* row, std::string& scratch,
                    std::optional<expr::BoundExpression>& predicate) const {
    if (predicate_) {
      if (!run_steps(predicate_steps_, record, scratch, row)) return RowFate::Misfit;
      if (!predicate) predicate = predicate_->bind(*schema_);
      if (!predicate->test({row, schema_->size()})) {
        return run_steps(dropped_row_checks_, record, scratch, row) ? RowFate::Dropped : RowFate::Misfit;
      }
    }
    return run_steps(other_steps_, record, scratch, row) ? RowFate::Kept : RowFate::Misfit;
  }

  // Out of line, so that GCC inlines the steps and the number parsers here, once (number_text.h
  // says why they must be inline). False when a field does not fit its declared type.
  [[gnu::noinline]] bool run_steps(std::span<const Step> steps, Record record, std::string& scratch, Value* row) const {
    const bool infer_types = config_.infer_types;
    for (const Step& step : steps) {
      const CsvField& field = record.fields[step.input];
      if (field.text.empty() && !field.quoted) continue;  // an empty unquoted field is null
      if (step.kind == Step::Kind::Text) {
        if (infer_types && !field.quoted) {
          row[step.output] = infer_value(field.text);
        } else {
          append_unescaped(field, row[step.output].emplace<std::string>());
        }
        continue;
      }
      const std::string_view text = unescaped_text(field, scratch);
      const size_t readable_before = field.escaped ? 0 : static_cast<size_t>(text.data() - record.block_begin);
      const bool fits = step.kind == Step::Kind::Check
                            ? convert_typed<false>(text, step.type, readable_before, nullptr)
                            : convert_typed<true>(text, step.type, readable_before, &row[step.output]);
      if (!fits) return false;
    }
    return true;
  }

  // The first input column whose field does not fit its type: the one a rejection names (there is
  // one: build_row found it).
  size_t first_misfit(const CsvField* record, std::string& scratch) const {
    for (size_t i = 0;; ++i) {
      const CsvField& field = record[i];
      if (!types_[i] || (field.text.empty() && !field.quoted)) continue;
      if (!convert_typed<false>(unescaped_text(field, scratch), *types_[i], 0, nullptr)) return i;
    }
  }

  // Converts `text` to `type` into *out (a null cell, built in place), or without kStore only
  // checks it: a separate instantiation, so that a check computes no value. False when the text
  // does not fit. `readable_before` as for parse_int.
  template <bool kStore>
  static bool convert_typed(std::string_view text, ValueType type, size_t readable_before, Value* out) {
    if (type == ValueType::Int) return store<kStore>(parse_int(text, readable_before), out);
    if (type == ValueType::Double) return store<kStore>(parse_double(text, readable_before), out);
    return store<kStore>(convert_text(text, type), out);
  }

  template <bool kStore, typename T>
  static bool store(std::optional<T>&& parsed, Value* out) {
    if constexpr (kStore) {
      if (parsed) *out = std::move(*parsed);
    }
    return parsed.has_value();
  }

  const CsvConfig& config_;
  std::vector<std::string> input_names_;                           // the header's (or the config's) columns
  std::vector<std::optional<ValueType>> types_;                    // one per input column; nullopt: untyped
  SchemaPtr schema_;                                               // the output rows' columns
  std::optional<std::set<std::string, std::less<>>> fields_read_;  // nullopt: every field is read
  std::optional<expr::Expression> predicate_;                      // see keep_only
  // How a row is built, each list in input order; columns neither kept nor typed are in none. With
  // a predicate, the fields it reads are built first; then the others, or, when it drops the row,
  // only the checks of their types.
  std::vector<Step> predicate_steps_;
  std::vector<Step> other_steps_;
  std::vector<Step> dropped_row_checks_;
  // What parse() reserves by: the cells per MiB of text of the block parsed last. Blocks parse
  // concurrently, so it is only a hint: a stale one costs a growth of the vector, or some room.
  mutable std::atomic<size_t> cells_per_mib_{0};
  static constexpr size_t kHintBlockBytes = 16 << 10;
};

}  // namespace

CsvConfig CsvConfig::from_yaml(const config::Node& node) {
  node.expect_keys({"type", "header", "columns", "delimiter", "types", "infer_types"}, "stage 'csv'");
  CsvConfig config;
  config.header = node.bool_or("header", true);
  if (auto columns = node.get("columns")) config.columns = columns->as_string_list();
  if (!config.header && config.columns.empty()) {
    node.fail("stage 'csv' needs `columns` when `header: false`");
  }
  if (auto delimiter = node.get("delimiter")) {
    const std::string d = delimiter->as_string();
    if (d.size() != 1 || d == "\"" || d == "\n" || d == "\r") {
      delimiter->fail(fmt::format("delimiter must be a single character other than a quote or newline, got '{}'", d));
    }
    config.delimiter = d[0];
  }
  if (auto types = node.get("types")) config.types = parse_column_types(*types);
  config.infer_types = node.bool_or("infer_types", false);
  return config;
}

CsvParseStage::CsvParseStage(CsvConfig config) : config_(std::move(config)) {}

std::unique_ptr<Parser> CsvParseStage::start_stream() const { return std::make_unique<CsvParser>(config_); }

void register_csv_parse(StageRegistry& registry) {
  registry.add("csv", StageKind::Parse, "RFC 4180 CSV with a header row or declared columns",
               [](const config::Node& node) -> StagePtr {
                 return std::make_shared<const CsvParseStage>(CsvConfig::from_yaml(node));
               });
}

}  // namespace sluice::pipeline
