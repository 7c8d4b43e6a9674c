#pragma once
// What the parse stages share: the byte order mark, line endings, the text a rejection carries,
// and the `types:` option.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "config/node.h"
#include "core/framing.h"
#include "core/record.h"
#include "core/value.h"

namespace sluice::pipeline {

// Moves a block's start forward by n bytes, keeping its stream offset and line number right.
void skip_prefix(Block& block, size_t n);

// Drops a UTF-8 byte order mark at the very start of the stream. For Parser::prepare, which sees
// the stream's first block first, and whole: framing never cuts the first record.
void skip_bom(Block& block);

// One line of a block: its text without the "\n" or "\r\n" that ends it, and where it starts.
struct TextLine {
  std::string_view text;
  Origin origin;
};

// Walks the lines of a block of whole lines. A last line without '\n' is a line too; a '\r'
// right before the line end (or the end of the block) belongs to the line ending.
class LineCursor {
 public:
  explicit LineCursor(const Block& block) : text_(block.text()), offset_(block.offset), line_(block.first_line) {}
  bool next(TextLine& line);

 private:
  std::string_view text_;
  size_t pos_ = 0;
  uint64_t offset_;
  uint64_t line_;
};

// The text a rejection carries for dead letters: the record without its line ending, clipped to
// 256 bytes at a UTF-8 character boundary (a dead letter is sent as a protobuf string).
std::string rejected_text(std::string_view record);

// The `types:` option of a parse stage: a map of column name -> int, double, bool or string.
std::map<std::string, ValueType> parse_column_types(const config::Node& types);

}  // namespace sluice::pipeline
