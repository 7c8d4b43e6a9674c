#pragma once
// Helpers shared by the stages that address fields by name: lookups whose errors list the
// batch's fields, column rebuilding that moves values instead of copying them, and the config
// readers these stages have in common.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "config/node.h"
#include "core/record.h"

namespace sluice::pipeline {

// Position of `name` in `schema`. Otherwise throws Error(InvalidArgument):
// "<role> '<name>' is not a field of the input (fields: a, b)".
size_t field_index(const Schema& schema, std::string_view name, std::string_view role);

// Keeps only `columns` of every row, in that order, under one new schema.
void select_columns(RecordBatch& batch, const std::vector<size_t>& columns);

// Positions of `names` in the batch; each name the batch lacks is appended as a null column.
std::vector<size_t> add_columns(RecordBatch& batch, const std::vector<std::string>& names);

// A value for an error message: quoted, and clipped so that a huge field cannot bloat the
// message (rejection reasons are also counted by reason).
std::string quote_value(const Value& value);

// Config: a non-empty list of distinct field names, e.g. `fields: [a, b]`.
std::vector<std::string> field_name_list(const config::Node& node);

// Config: a keyword out of a few, e.g. `on_error: reject | null`. YAML reads a bare `null` as
// no value at all, so a null node stands for the keyword "null".
template <typename T>
T parse_keyword(const config::Node& node, std::initializer_list<std::pair<std::string_view, T>> choices) {
  const std::string word = node.is_null() ? "null" : node.as_string();
  std::string expected;
  for (const auto& [name, value] : choices) {
    if (name == word) return value;
    expected += fmt::format("{}{}", expected.empty() ? "" : " | ", name);
  }
  node.fail(fmt::format("expected {}, got '{}'", expected, word));
}

}  // namespace sluice::pipeline
