#include "pipeline/stages/csv_parse.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <span>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>

#include "core/byte_scan.h"
#include "core/error.h"
#include "pipeline/expr/expression.h"
#include "pipeline/stages/parse_support.h"

namespace sluice::pipeline {

namespace {

// One field of a record: its text as it stands in the block, and whether it was quoted ("" is an
// empty string, an empty unquoted field is null). A quoted field's text is what lies between its
// quotes, each quote in it still written twice (`escaped`): only a field whose text is used pays
// for unescaping it.
struct CsvField {
  std::string_view text;
  bool quoted = false;
  bool escaped = false;  // the text holds "" pairs, each standing for one quote
};

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

// Splits records out of a block of whole CSV records. Fields are views into the block.
class CsvReader {
 public:
  CsvReader(std::string_view text, char delimiter) : text_(text), delimiter_(delimiter) {}

  bool at_end() const { return pos_ >= text_.size(); }
  size_t position() const { return pos_; }
  // The '\n' read so far, record ends and those inside quoted fields alike: lines = 1 + this.
  uint64_t newlines() const { return newlines_; }

  // Reads one record into `fields` (views stay valid until the next call). Returns an error
  // message for a malformed record, having skipped to its end.
  std::optional<std::string> next(std::vector<CsvField>& fields) {
    fields.clear();
    if (next_plain(fields)) return std::nullopt;
    std::optional<std::string> error;
    for (;;) {
      if (pos_ < text_.size() && text_[pos_] == '"') {
        if (auto e = read_quoted(fields); e && !error) error = e;
      } else {
        size_t end = find_first_of3(text_, pos_, delimiter_, '\n', '"');
        if (end < text_.size() && text_[end] == '"') {
          if (!error) error = fmt::format("field {} has a quote inside an unquoted field", fields.size() + 1);
          while (end < text_.size() && text_[end] != delimiter_ && text_[end] != '\n') ++end;
        }
        std::string_view field = text_.substr(pos_, end - pos_);
        if (end < text_.size() && text_[end] == '\n' && !field.empty() && field.back() == '\r') field.remove_suffix(1);
        else if (end == text_.size() && !field.empty() && field.back() == '\r') field.remove_suffix(1);
        fields.push_back({field});
        pos_ = end;
      }
      if (pos_ >= text_.size()) return error;
      const char c = text_[pos_++];
      if (c == '\n') {
        ++newlines_;
        return error;
      }
      // c is the delimiter: another field follows.
    }
  }

  // Skips a record that consists of nothing (a blank line); true if one was skipped.
  bool skip_blank_line() {
    size_t p = pos_;
    if (p < text_.size() && text_[p] == '\r') ++p;
    if (p < text_.size() && text_[p] == '\n') {
      pos_ = p + 1;
      ++newlines_;
      return true;
    }
    if (p == text_.size() && p > pos_) {  // a lone '\r' at the very end
      pos_ = p;
      return true;
    }
    return false;
  }

 private:
  // Bits i of a window of at most 16 bytes from `p`: `ends` where p[i] ends a field (the
  // delimiter or '\n'), `others` where p[i] is a quote or '\r', which only the full reader handles.
  struct WindowMasks {
    uint32_t ends = 0;
    uint32_t newlines = 0;  // the ends that are '\n'
    uint32_t others = 0;
  };
  WindowMasks classify(const char* p, size_t n) const {
    WindowMasks masks;
#if defined(__SSE2__)
    if (n == 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i delimiters = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(delimiter_));
      const __m128i newlines = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\n'));
      const __m128i others =
          _mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('"')), _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\r')));
      masks.newlines = static_cast<uint32_t>(_mm_movemask_epi8(newlines));
      masks.ends = masks.newlines | static_cast<uint32_t>(_mm_movemask_epi8(delimiters));
      masks.others = static_cast<uint32_t>(_mm_movemask_epi8(others));
      return masks;
    }
#endif
    for (size_t i = 0; i < n; ++i) {
      masks.newlines |= static_cast<uint32_t>(p[i] == '\n') << i;
      masks.ends |= static_cast<uint32_t>(p[i] == delimiter_ || p[i] == '\n') << i;
      masks.others |= static_cast<uint32_t>(p[i] == '"' || p[i] == '\r') << i;
    }
    return masks;
  }

  // Reads the fields of a record up to its end, or up to the field holding its first quote or
  // '\r': the common record has none, and its fields are split at the delimiters found 16 bytes at
  // a time. Returns false when it stopped at such a field, which the full reader then takes on.
  bool next_plain(std::vector<CsvField>& fields) {
    const char* const base = text_.data();
    size_t field_start = pos_;
    for (size_t window = pos_; window < text_.size(); window += 16) {
      const size_t n = std::min<size_t>(16, text_.size() - window);
      auto [ends, newlines, others] = classify(base + window, n);
      if (others) ends &= (others & -others) - 1;  // the field ends before the first quote or '\r'
      for (; ends; ends &= ends - 1) {
        const unsigned bit = static_cast<unsigned>(__builtin_ctz(ends));
        const size_t end = window + bit;
        fields.push_back({std::string_view(base + field_start, end - field_start)});
        field_start = end + 1;
        if (newlines & (1u << bit)) {
          pos_ = field_start;
          ++newlines_;
          return true;
        }
      }
      if (others) {
        pos_ = field_start;
        return false;
      }
    }
    fields.push_back({text_.substr(field_start)});  // the block's last record, without a '\n'
    pos_ = text_.size();
    return true;
  }

  std::optional<std::string> read_quoted(std::vector<CsvField>& fields) {
    const size_t open = pos_++;
    bool escaped = false;
    for (;;) {
      const size_t q = text_.find('"', pos_);
      if (q == std::string_view::npos) {
        const std::string_view rest = text_.substr(open + 1);
        newlines_ += count_newlines(rest);
        pos_ = text_.size();
        fields.push_back({rest, true});
        return "unterminated quoted field";
      }
      if (q + 1 < text_.size() && text_[q + 1] == '"') {  // "" is an escaped quote
        escaped = true;
        pos_ = q + 2;
        continue;
      }
      const std::string_view field = text_.substr(open + 1, q - open - 1);
      newlines_ += count_newlines(field);
      fields.push_back({field, true, escaped});
      pos_ = q + 1;
      // After the closing quote: a delimiter, the end of the record, or the end of the block.
      if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
      if (pos_ < text_.size() && text_[pos_] != delimiter_ && text_[pos_] != '\n') {
        const char found = text_[pos_];
        // The rest of the field is skipped as the framer sees it, unquoted, up to the next
        // delimiter: a quote opening the next field still counts, or records would end
        // elsewhere than where the framer cut the blocks, and results would depend on chunking.
        while (pos_ < text_.size() && text_[pos_] != delimiter_ && text_[pos_] != '\n') ++pos_;
        return fmt::format("unexpected character '{}' after the closing quote of field {}", found, fields.size());
      }
      return std::nullopt;
    }
  }

  std::string_view text_;
  char delimiter_;
  size_t pos_ = 0;
  uint64_t newlines_ = 0;
};

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
    const size_t width = columns_.size();
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
    out.cells.reserve(output_width * (text.size() / 64 + 1));
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
        const RowFate fate = build_row(fields.data(), row, scratch, predicate);
        if (fate == RowFate::Kept) {
          out.origins.push_back(origin);
          continue;
        }
        if (fate == RowFate::Dropped) {
          for (const uint32_t i : predicate_inputs_) row[*columns_[i].output] = std::monostate{};
          spare_row = true;
          continue;
        }
        out.cells.resize(row_begin);
        const size_t misfit = first_misfit(fields.data(), scratch);
        bad_field = input_names_[misfit];
        error = fmt::format("expected {}, got '{}'", type_name(*columns_[misfit].type),
                            unescaped_text(fields[misfit], scratch));
      }
      out.rejections.push_back({*error, std::move(bad_field), origin, rejected_text(record_text)});
    }
    if (spare_row) out.cells.resize(out.cells.size() - output_width);
    return records;
  }

 private:
  // Where an input column's value goes: into the output row, or nowhere when nothing downstream
  // reads it (a typed one is still checked: it decides whether the record is rejected).
  struct Column {
    std::optional<ValueType> type;  // nullopt: untyped
    std::optional<size_t> output;   // position in the output row; nullopt: not kept
  };

  enum class RowFate { Kept, Dropped, Misfit };  // Dropped: the predicate is not true for it

  // The output rows hold only the fields read downstream (see read_only), when all of those are
  // in the input; otherwise every field, so that an error about a missing field lists them all.
  void set_columns(std::vector<std::string> names) {
    const bool narrow = fields_read_ && std::all_of(fields_read_->begin(), fields_read_->end(), [&](const auto& read) {
                          return std::find(names.begin(), names.end(), read) != names.end();
                        });
    std::vector<std::string> output_names;
    columns_.clear();
    predicate_inputs_.clear();
    other_inputs_.clear();
    for (const std::string& name : names) {
      const uint32_t input = static_cast<uint32_t>(columns_.size());
      Column& column = columns_.emplace_back();
      if (auto it = config_.types.find(name); it != config_.types.end()) column.type = it->second;
      if (!narrow || fields_read_->contains(name)) {
        column.output = output_names.size();
        output_names.push_back(name);
      }
      const bool tested =
          column.output && predicate_ && std::ranges::find(predicate_->fields(), name) != predicate_->fields().end();
      if (tested) {
        predicate_inputs_.push_back(input);
      } else if (column.output || column.type) {
        other_inputs_.push_back(input);
      }
    }
    input_names_ = std::move(names);
    schema_ = std::make_shared<const Schema>(std::move(output_names));
  }

  // Builds the record's row. With a predicate, the fields it reads are built first, and when it is
  // not true the other fields are only checked against their types: the row is not kept, but a
  // record that does not fit its types is still rejected, as it would be without the predicate.
  RowFate build_row(const CsvField* record, Value* row, std::string& scratch,
                    std::optional<expr::BoundExpression>& predicate) const {
    if (predicate_) {
      if (!convert_all(predicate_inputs_, record, scratch, row)) return RowFate::Misfit;
      if (!predicate) predicate = predicate_->bind(*schema_);
      if (!predicate->test({row, schema_->size()})) {
        return convert_all(other_inputs_, record, scratch, nullptr) ? RowFate::Dropped : RowFate::Misfit;
      }
    }
    return convert_all(other_inputs_, record, scratch, row) ? RowFate::Kept : RowFate::Misfit;
  }

  // Out of line, so that GCC inlines convert() and the number parsers here, once (number_text.h
  // says why they must be inline).
  [[gnu::noinline]] bool convert_all(std::span<const uint32_t> inputs, const CsvField* record, std::string& scratch,
                                     Value* row) const {
    // The columns in a local: the cells written may alias the vector's members, which would be
    // reloaded for every field.
    const Column* const columns = columns_.data();
    for (const uint32_t i : inputs) {
      if (!convert(columns[i], record[i], scratch, row)) return false;
    }
    return true;
  }

  // The first input column whose field does not fit its type: the one a rejection names (there is
  // one: build_row found it).
  size_t first_misfit(const CsvField* record, std::string& scratch) const {
    size_t i = 0;
    while (convert(columns_[i], record[i], scratch, nullptr)) ++i;
    return i;
  }

  // Converts the field into its place in `row` (null cells, built in place: no temporaries on the
  // hot path), or with no row only checks it; false when the text does not fit the column's
  // declared type. `scratch` holds the unescaped text of a typed field that had quotes to unescape.
  bool convert(const Column& column, const CsvField& field, std::string& scratch, Value* row) const {
    if (field.text.empty() && !field.quoted) return true;  // an empty unquoted field is null
    if (!column.type) {
      if (!row || !column.output) return true;
      if (config_.infer_types && !field.quoted) {
        row[*column.output] = infer_value(field.text);
      } else {
        append_unescaped(field, row[*column.output].emplace<std::string>());
      }
      return true;
    }
    const std::string_view text = unescaped_text(field, scratch);
    if (!row || !column.output) return fits(text, *column.type);
    Value& out = row[*column.output];
    if (*column.type == ValueType::Int) return store(parse_int(text), out);
    if (*column.type == ValueType::Double) return store(parse_double(text), out);
    auto value = convert_text(text, *column.type);
    if (value) out = std::move(*value);
    return value.has_value();
  }

  static bool fits(std::string_view text, ValueType type) {
    if (type == ValueType::Int) return parse_int(text).has_value();
    if (type == ValueType::Double) return parse_double(text).has_value();
    return convert_text(text, type).has_value();
  }

  template <typename T>
  static bool store(const std::optional<T>& parsed, Value& out) {
    if (parsed) out.emplace<T>(*parsed);
    return parsed.has_value();
  }

  const CsvConfig& config_;
  std::vector<std::string> input_names_;                           // the header's (or the config's) columns
  std::vector<Column> columns_;                                    // one per input column
  SchemaPtr schema_;                                               // the output rows' columns
  std::optional<std::set<std::string, std::less<>>> fields_read_;  // nullopt: every field is read
  std::optional<expr::Expression> predicate_;                      // see keep_only
  // The input columns a row is built from, each in input order; columns neither kept nor checked
  // are in neither. With a predicate, those that feed it are built first.
  std::vector<uint32_t> predicate_inputs_;
  std::vector<uint32_t> other_inputs_;
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
