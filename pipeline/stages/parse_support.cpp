#include "pipeline/stages/parse_support.h"

#include <algorithm>

#include <fmt/format.h>

namespace sluice::pipeline {

namespace {
constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr size_t kMaxRejectedText = 256;
}  // namespace

void skip_prefix(Block& block, size_t n) {
  const std::string_view skipped = block.text().substr(0, n);
  block.first_line += static_cast<uint64_t>(std::count(skipped.begin(), skipped.end(), '\n'));
  block.offset += skipped.size();
  block.begin += skipped.size();
}

void skip_bom(Block& block) {
  if (block.offset == 0 && block.text().starts_with(kBom)) skip_prefix(block, kBom.size());
}

bool LineCursor::next(TextLine& line) {
  if (pos_ >= text_.size()) return false;
  const size_t newline = text_.find('\n', pos_);
  const size_t end = newline == std::string_view::npos ? text_.size() : newline;
  std::string_view text = text_.substr(pos_, end - pos_);
  if (text.ends_with('\r')) text.remove_suffix(1);
  line = {text, {offset_ + pos_, line_}};
  pos_ = newline == std::string_view::npos ? text_.size() : newline + 1;
  ++line_;
  return true;
}

std::string rejected_text(std::string_view record) {
  while (!record.empty() && (record.back() == '\n' || record.back() == '\r')) record.remove_suffix(1);
  return std::string(utf8_prefix(record, kMaxRejectedText));
}

std::map<std::string, ValueType> parse_column_types(const config::Node& types) {
  std::map<std::string, ValueType> out;
  for (const auto& [name, type_node] : types.entries()) {
    auto type = parse_type_name(type_node.as_string());
    if (!type) {
      type_node.fail(fmt::format("unknown type '{}' for column '{}' (int, double, bool or string)",
                                 type_node.as_string(), name));
    }
    out[name] = *type;
  }
  return out;
}

}  // namespace sluice::pipeline
