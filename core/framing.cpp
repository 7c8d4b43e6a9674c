#include "core/framing.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

#include "core/byte_scan.h"
#include "core/error.h"

namespace sluice {

namespace {

const char* find_char(const char* p, const char* end, char c) {
  return static_cast<const char*>(std::memchr(p, c, static_cast<size_t>(end - p)));
}

}  // namespace

RecordFramer::RecordFramer(Framing framing, size_t max_record_bytes, ClassifyChunks classify_chunks)
    : framing_(framing), max_record_bytes_(max_record_bytes), classify_chunks_(classify_chunks) {}

RecordFramer::Boundaries RecordFramer::scan(std::string_view s) {
  Boundaries b;
  if (framing_.kind == Framing::Kind::Lines) {
    const char* const base = s.data();
    const char* const end = base + s.size();
    if (carry_.size() + s.size() <= max_record_bytes_) {  // no record here can pass the limit
      const char* first = find_char(base, end, '\n');
      if (!first) return b;
      b.first = static_cast<size_t>(first - base);
      b.last =
          static_cast<size_t>(static_cast<const char*>(memrchr(first, '\n', static_cast<size_t>(end - first))) - base);
      return b;
    }
    for (const char* nl = find_char(base, end, '\n'); nl; nl = find_char(nl + 1, end, '\n')) {
      note_record_end(s, static_cast<size_t>(nl - base), b);
    }
    return b;
  }
  // CSV, 64 bytes at a time. Where every quote that opens a field stands at a field start (or
  // right after a closing quote, for a "" pair), which is so in well-formed CSV, a byte lies inside
  // quotes if an odd number of quotes precede it, and the record ends are the '\n' outside quotes.
  // Elsewhere (a stray quote inside an unquoted field is a literal) the bytes are read one by one.
  const size_t start =
      at_stream_start_ ? static_cast<size_t>(skip_leading_bom(s.data(), s.data() + s.size()) - s.data()) : 0;
  // The state lives in locals while the chunk is scanned, and so in registers.
  bool inside_quotes = inside_quotes_;
  bool quote_opens = quote_opens_;
  std::array<ChunkMasks, 16> batch;  // classified together: one call per kilobyte
  for (size_t at = start; at < s.size();) {
    size_t chunks = std::min(batch.size(), (s.size() - at) / 64);
    if (chunks > 0) {
      classify_chunks_(s.data() + at, chunks, framing_.delimiter, batch.data());
    } else {  // the last, partial chunk
      const size_t n = s.size() - at;
      std::array<char, 64> padded{};
      std::copy_n(s.data() + at, n, padded.data());
      classify_chunks_(padded.data(), 1, framing_.delimiter, batch.data());
      const uint64_t in_chunk = (uint64_t{1} << n) - 1;
      batch[0].quotes &= in_chunk;
      batch[0].newlines &= in_chunk;
      batch[0].delimiters &= in_chunk;
      chunks = 1;
    }
    for (size_t c = 0; c < chunks; ++c, at += 64) {
      const ChunkMasks& masks = batch[c];
      const size_t n = std::min<size_t>(64, s.size() - at);
      const uint64_t inside = masks.quote_parity ^ (inside_quotes ? ~uint64_t{0} : 0);
      const uint64_t closing = masks.quotes & ~inside;
      const uint64_t opens_next = masks.delimiters | masks.newlines | closing;  // a quote after one opens a field
      uint64_t record_ends;
      if ((masks.quotes & inside) & ~((opens_next << 1) | uint64_t{quote_opens})) {
        const ByteScan scanned = scan_bytes(s.data() + at, n, inside_quotes, quote_opens);
        record_ends = scanned.record_ends;
        inside_quotes = scanned.inside_quotes;
        quote_opens = scanned.quote_opens;
      } else {
        record_ends = masks.newlines & ~inside;
        inside_quotes = (inside >> (n - 1)) & 1;
        quote_opens = (opens_next >> (n - 1)) & 1;
      }
      if (!record_ends) continue;
      if (b.first == std::string_view::npos) b.first = at + static_cast<size_t>(__builtin_ctzll(record_ends));
      // A record ending here is no longer than the carry and the chunk up to here. Only when that
      // could pass the limit is every record end visited, so that the limit holds for each record
      // whether or not it straddles chunks: the same input must fail or pass however it is cut.
      if (carry_.size() + at + n <= max_record_bytes_) {
        b.last = at + 63 - static_cast<size_t>(__builtin_clzll(record_ends));
        continue;
      }
      for (; record_ends; record_ends &= record_ends - 1) {
        note_record_end(s, at + static_cast<size_t>(__builtin_ctzll(record_ends)), b);
      }
    }
  }
  inside_quotes_ = inside_quotes;
  quote_opens_ = quote_opens;
  return b;
}

void RecordFramer::note_record_end(std::string_view chunk, size_t newline, Boundaries& b) const {
  check_record_length(chunk, b.last, newline + 1);
  if (b.first == std::string_view::npos) b.first = newline;
  b.last = newline;
}

RecordFramer::ByteScan RecordFramer::scan_bytes(const char* p, size_t n, bool inside_quotes, bool quote_opens) const {
  uint64_t record_ends = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (inside_quotes) {
      if (c == '"') {  // closes the field, or is the first of a "" pair
        inside_quotes = false;
        quote_opens = true;
      }
    } else if (c == '"') {
      inside_quotes = quote_opens;  // else a literal quote inside an unquoted field
      quote_opens = false;
    } else {
      if (c == '\n') record_ends |= uint64_t{1} << i;
      quote_opens = c == '\n' || c == framing_.delimiter;
    }
  }
  return {record_ends, inside_quotes, quote_opens};
}

// The parser drops the mark, so the first field starts after it: a quote there opens the field.
const char* RecordFramer::skip_leading_bom(const char* p, const char* end) {
  static constexpr std::string_view kBom = "\xEF\xBB\xBF";
  while (p < end && bom_bytes_seen_ < kBom.size() && *p == kBom[bom_bytes_seen_]) {
    ++p;
    ++bom_bytes_seen_;
  }
  if (p == end && bom_bytes_seen_ < kBom.size()) return p;  // the next chunk tells
  at_stream_start_ = false;
  // A partial mark was the start of the first field's text, not a mark.
  if (bom_bytes_seen_ > 0 && bom_bytes_seen_ < kBom.size()) quote_opens_ = false;
  return p;
}

Block RecordFramer::make_block(std::string buffer, size_t begin, size_t end) {
  Block block;
  block.offset = offset_;
  block.first_line = line_;
  block.begin = begin;
  block.end = end;
  block.buffer = std::move(buffer);
  const std::string_view text = block.text();
  offset_ += text.size();
  line_ += count_newlines(text);
  return block;
}

void RecordFramer::check_record_length(std::string_view chunk, size_t previous_end, size_t record_end) const {
  const bool carried = previous_end == std::string_view::npos;  // the record began in carry_
  const size_t record_begin = carried ? 0 : previous_end + 1;
  const size_t length = (carried ? carry_.size() : 0) + record_end - record_begin;
  if (length > max_record_bytes_) record_too_long(chunk, record_begin);
}

void RecordFramer::record_too_long(std::string_view chunk, size_t record_begin) const {
  const std::string_view before = chunk.substr(0, record_begin);
  const bool carried = record_begin == 0;  // the record began in an earlier chunk
  const uint64_t line = carried ? line_ : line_ + count_newlines(carry_) + count_newlines(before);
  const uint64_t offset = carried ? offset_ : offset_ + carry_.size() + record_begin;
  throw Error(ErrorCode::InvalidArgument,
              fmt::format("record starting at line {} (offset {}) is longer than max_record_bytes ({})", line, offset,
                          max_record_bytes_));
}

void RecordFramer::push(std::string chunk, std::vector<Block>& out) {
  const Boundaries b = scan(chunk);
  check_record_length(chunk, b.last, chunk.size());  // the unfinished record at the end
  if (b.first == std::string_view::npos) {
    if (carry_.empty()) {
      carry_ = std::move(chunk);
    } else {
      carry_.append(chunk);
    }
    return;
  }
  size_t bulk_begin = 0;
  if (!carry_.empty()) {
    // The record straddling the previous chunk: the only bytes that are copied.
    carry_.append(chunk, 0, b.first + 1);
    std::string head = std::move(carry_);
    const size_t head_size = head.size();
    out.push_back(make_block(std::move(head), 0, head_size));
    bulk_begin = b.first + 1;
  }
  std::string tail = chunk.substr(b.last + 1);
  if (b.last + 1 > bulk_begin) out.push_back(make_block(std::move(chunk), bulk_begin, b.last + 1));
  carry_ = std::move(tail);
}

std::optional<Block> RecordFramer::finish() {
  if (framing_.kind == Framing::Kind::CsvQuoted && inside_quotes_) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("input ends inside a quoted field (record starting at line {}, offset {})", line_,
                            offset_));
  }
  if (carry_.empty()) return std::nullopt;
  std::string last = std::move(carry_);
  carry_.clear();
  const size_t n = last.size();
  return make_block(std::move(last), 0, n);
}

}  // namespace sluice
