#include "core/record.h"

#include <algorithm>

namespace sluice {

std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // A UTF-8 character is at most 4 bytes: back up over at most 3 continuation bytes (10xxxxxx).
  for (int i = 0; i < 3 && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80; ++i) --cut;
  return text.substr(0, cut);
}

Schema::Schema(std::vector<std::string> names) : names_(std::move(names)) {}

int Schema::index_of(std::string_view name) const {
  auto it = std::find(names_.begin(), names_.end(), name);
  return it == names_.end() ? -1 : static_cast<int>(it - names_.begin());
}

namespace {
// A string's own heap allocation: none while the text fits in the object (the short-string buffer).
size_t heap_bytes(const std::string& s) {
  static const size_t inline_capacity = std::string().capacity();
  return s.capacity() > inline_capacity ? s.capacity() + 1 : 0;
}
}  // namespace

size_t RecordBatch::memory_bytes() const {
  size_t bytes = cells.capacity() * sizeof(Value) + origins.capacity() * sizeof(Origin) +
                 rejections.capacity() * sizeof(Rejection);
  for (const Value& cell : cells) {
    if (const auto* text = std::get_if<std::string>(&cell)) bytes += heap_bytes(*text);
  }
  for (const Rejection& r : rejections) bytes += heap_bytes(r.reason) + heap_bytes(r.field) + heap_bytes(r.record);
  return bytes;
}

void RecordBatch::reject(size_t r, std::string reason, std::string field) {
  rejections.push_back({std::move(reason), std::move(field), origins[r], {}});
}

}  // namespace sluice
