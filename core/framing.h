#pragma once
// Chunk framing: turns arbitrary chunks of a byte stream into blocks of whole records, carrying
// the incomplete tail of one chunk over to the next. Records end at '\n'; with CSV quoting, a
// '\n' inside a quoted field does not end the record. Framing is serial and cheap (memchr for
// lines, bit masks of 64 bytes at a time for CSV), so that the expensive parsing of blocks can run
// in parallel.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_masks.h"

namespace sluice {

// How records end: at every '\n' (Lines), or at a '\n' outside a quoted CSV field (CsvQuoted).
// With CSV, a quote opens a quoted field only at the start of a field (after the delimiter or a
// record end), and "" inside a quoted field is an escaped quote, as RFC 4180 says.
struct Framing {
  enum class Kind { Lines, CsvQuoted };
  Kind kind = Kind::Lines;
  char delimiter = ',';

  static Framing lines() { return {Kind::Lines, ','}; }
  static Framing csv(char delimiter) { return {Kind::CsvQuoted, delimiter}; }
};

struct Block {
  std::string buffer;     // owns the bytes; the block is buffer[begin, end)
  size_t begin = 0;
  size_t end = 0;
  uint64_t offset = 0;      // stream byte offset of buffer[begin]
  uint64_t first_line = 1;  // 1-based line number of the block's first byte

  std::string_view text() const { return std::string_view(buffer).substr(begin, end - begin); }
  size_t size() const { return end - begin; }
};

class RecordFramer {
 public:
  // `classify_chunks`: the default is the fastest on this CPU; tests pass the others.
  RecordFramer(Framing framing, size_t max_record_bytes, ClassifyChunks classify_chunks = best_chunk_classifier());

  // Appends 0..2 blocks of whole records cut from `chunk` (and the carried tail) to `out`.
  // Throws Error(InvalidArgument) when a record (with its '\n') is longer than max_record_bytes,
  // whether it lies within one chunk or straddles several.
  void push(std::string chunk, std::vector<Block>& out);

  // End of input: the carried tail (a last record without its newline), if any. Throws
  // Error(InvalidArgument) when the input ends inside a quoted field.
  std::optional<Block> finish();

  uint64_t bytes_seen() const { return offset_ + carry_.size(); }
  size_t carried_bytes() const { return carry_.size(); }

 private:
  struct Boundaries {
    size_t first = std::string_view::npos;  // first record end ('\n') in the chunk
    size_t last = std::string_view::npos;   // last record end
  };
  Boundaries scan(std::string_view s);
  // Checks the record that ends at chunk[newline] and makes it the last one found.
  void note_record_end(std::string_view chunk, size_t newline, Boundaries& b) const;
  // The CSV scan, one byte at a time, over p[0, n) (n <= 64) from the given state: the bits of the
  // record ends, and the state after.
  struct ByteScan {
    uint64_t record_ends;
    bool inside_quotes;
    bool quote_opens;
  };
  ByteScan scan_bytes(const char* p, size_t n, bool inside_quotes, bool quote_opens) const;
  // The record from just after chunk[previous_end] (npos: from the start of carry_) to
  // chunk[record_end) must fit max_record_bytes; else record_too_long.
  void check_record_length(std::string_view chunk, size_t previous_end, size_t record_end) const;
  // Throws the error for the record that starts at chunk[record_begin] (at 0: in carry_, if any).
  [[noreturn]] void record_too_long(std::string_view chunk, size_t record_begin) const;
  Block make_block(std::string buffer, size_t begin, size_t end);
  // Steps over a UTF-8 byte order mark at the stream's start, which may come split across chunks.
  const char* skip_leading_bom(const char* p, const char* end);

  Framing framing_;
  size_t max_record_bytes_;
  ClassifyChunks classify_chunks_;
  // CSV state carried across bytes and chunks: whether the next byte lies inside a quoted field,
  // and whether a quote there would open one (at a field start, or after a closing quote: "").
  bool inside_quotes_ = false;
  bool quote_opens_ = true;
  bool at_stream_start_ = true;  // a byte order mark may still come
  size_t bom_bytes_seen_ = 0;
  std::string carry_;
  uint64_t offset_ = 0;  // stream offset of carry_[0]
  uint64_t line_ = 1;    // line number of carry_[0]
};

}  // namespace sluice
