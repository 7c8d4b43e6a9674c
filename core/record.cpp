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

void RecordBatch::reject(size_t r, std::string reason, std::string field) {
  rejections.push_back({std::move(reason), std::move(field), origins[r], {}});
}

}  // namespace sluice
