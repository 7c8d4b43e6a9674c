#include "pipeline/stages/fields.h"

#include <algorithm>
#include <memory>

#include "core/error.h"

namespace sluice::pipeline {

namespace {

constexpr size_t kMaxQuotedValue = 64;

std::string list_fields(const Schema& schema) {
  std::string fields;
  for (const std::string& name : schema.names()) fields += fmt::format("{}{}", fields.empty() ? "" : ", ", name);
  return fields.empty() ? "(none)" : fields;
}

}  // namespace

size_t field_index(const Schema& schema, std::string_view name, std::string_view role) {
  const int index = schema.index_of(name);
  if (index < 0) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("{} '{}' is not a field of the input (fields: {})", role, name, list_fields(schema)));
  }
  return static_cast<size_t>(index);
}

void select_columns(RecordBatch& batch, const std::vector<size_t>& columns) {
  std::vector<std::string> names;
  names.reserve(columns.size());
  for (const size_t column : columns) names.push_back(batch.schema->names()[column]);

  std::vector<Value> cells;
  cells.reserve(batch.rows() * columns.size());
  for (size_t r = 0; r < batch.rows(); ++r) {
    const auto row = batch.row(r);
    for (const size_t column : columns) cells.push_back(std::move(row[column]));
  }
  batch.cells = std::move(cells);
  batch.schema = std::make_shared<const Schema>(std::move(names));
}

std::vector<size_t> add_columns(RecordBatch& batch, const std::vector<std::string>& names) {
  std::vector<std::string> widened = batch.schema->names();
  std::vector<size_t> positions;
  positions.reserve(names.size());
  for (const std::string& name : names) {
    const int index = batch.schema->index_of(name);
    if (index >= 0) {
      positions.push_back(static_cast<size_t>(index));
    } else {
      positions.push_back(widened.size());
      widened.push_back(name);
    }
  }
  if (widened.size() == batch.width()) return positions;

  const size_t width = widened.size();
  std::vector<Value> cells(batch.rows() * width);
  for (size_t r = 0; r < batch.rows(); ++r) {
    const auto row = batch.row(r);
    std::move(row.begin(), row.end(), cells.begin() + static_cast<std::ptrdiff_t>(r * width));
  }
  batch.cells = std::move(cells);
  batch.schema = std::make_shared<const Schema>(std::move(widened));
  return positions;
}

std::string quote_value(const Value& value) {
  std::string text = to_display(value);
  if (text.size() > kMaxQuotedValue) {
    size_t cut = kMaxQuotedValue;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
    text.resize(cut);
    text += "...";
  }
  return fmt::format("'{}'", text);
}

std::vector<std::string> field_name_list(const config::Node& node) {
  const std::vector<config::Node> items = node.items();
  if (items.empty()) node.fail("expected at least one field name");
  std::vector<std::string> names;
  for (const config::Node& item : items) {
    std::string name = item.as_string();
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      item.fail(fmt::format("field '{}' is listed twice", name));
    }
    names.push_back(std::move(name));
  }
  return names;
}

}  // namespace sluice::pipeline
