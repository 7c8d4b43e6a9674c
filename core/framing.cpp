#include "core/framing.h"

#include <cstring>

#include <fmt/format.h>

#include "core/byte_scan.h"
#include "core/error.h"

namespace sluice {

namespace {
const char* find_char(const char* p, const char* end, char c) {
  return static_cast<const char*>(std::memchr(p, c, static_cast<size_t>(end - p)));
}
const char* find_last_char(const char* p, const char* end, char c) {
  return static_cast<const char*>(memrchr(p, c, static_cast<size_t>(end - p)));
}
}  // namespace

RecordFramer::RecordFramer(Framing framing, size_t max_record_bytes)
    : framing_(framing), max_record_bytes_(max_record_bytes) {}

RecordFramer::Boundaries RecordFramer::scan(std::string_view s) {
  const char* const base = s.data();
  const char* const end = base + s.size();
  Boundaries b;
  // Only the chunk's first and last record ends matter: the first is searched for forwards, in each
  // stretch outside quotes until found; the last once, backwards from the last stretch, when the
  // scan is done (a stretch mostly ends one field after a record end, and memrchr stops there).
  unsearched_.clear();
  auto find_last_record_end = [&] {
    for (auto stretch = unsearched_.rbegin(); stretch != unsearched_.rend(); ++stretch) {
      if (const char* nl = find_last_char(stretch->first, stretch->second, '\n')) {
        b.last = static_cast<size_t>(nl - base);
        break;
      }
    }
    unsearched_.clear();
  };
  auto note_newlines = [&](const char* from, const char* to) {
    if (from >= to) return;
    // A record ending here is no longer than the carry and the chunk up to `to`. Only when that
    // could pass the limit is every record end visited, so that the limit holds for each record
    // whether or not it straddles chunks: the same input must fail or pass however it is cut.
    if (carry_.size() + static_cast<size_t>(to - base) <= max_record_bytes_) {
      if (b.first == std::string_view::npos) {
        const char* first = find_char(from, to, '\n');
        if (!first) return;
        b.first = static_cast<size_t>(first - base);
        from = first;
      }
      unsearched_.emplace_back(from, to);
      return;
    }
    find_last_record_end();  // check_record_length measures from it
    for (const char* nl = find_char(from, to, '\n'); nl; nl = find_char(nl + 1, to, '\n')) {
      const size_t record_end = static_cast<size_t>(nl - base) + 1;
      check_record_length(s, b.last, record_end);
      if (b.first == std::string_view::npos) b.first = record_end - 1;
      b.last = record_end - 1;
    }
  };
  if (framing_.kind == Framing::Kind::Lines) {
    note_newlines(base, end);
    find_last_record_end();
    return b;
  }
  // Outside quotes only '"' at a field start matters, so the scan jumps from quote to quote
  // with memchr and notes the newlines in between.
  const char* p = at_stream_start_ ? skip_leading_bom(base, end) : base;
  [&] {
    while (p < end) {
      switch (csv_state_) {
        case CsvState::QuotedSawQuote:
          if (*p == '"') {  // "" : an escaped quote, still inside the field
            csv_state_ = CsvState::Quoted;
            ++p;
          } else {
            csv_state_ = CsvState::InField;  // the field's closing quote
          }
          break;
        case CsvState::Quoted: {
          const char* q = find_char(p, end, '"');
          if (!q) return;
          csv_state_ = CsvState::QuotedSawQuote;
          p = q + 1;
          break;
        }
        case CsvState::FieldStart:
          if (*p == '"') {
            csv_state_ = CsvState::Quoted;
            ++p;
            break;
          }
          csv_state_ = CsvState::InField;
          [[fallthrough]];
        case CsvState::InField: {
          // Find the next quote that opens a field: one right after a delimiter or a newline. (A
          // quote at the chunk's first byte is mid-field: a field start would be FieldStart.)
          const char* q = p;
          while ((q = find_char(q, end, '"')) != nullptr) {
            if (q > base && (q[-1] == framing_.delimiter || q[-1] == '\n')) break;
            ++q;
          }
          note_newlines(p, q ? q : end);
          if (!q) {
            // The next chunk's first byte may start a field.
            const char last = end[-1];
            csv_state_ = (last == framing_.delimiter || last == '\n') ? CsvState::FieldStart : CsvState::InField;
            return;
          }
          csv_state_ = CsvState::Quoted;
          p = q + 1;
          break;
        }
      }
    }
  }();
  find_last_record_end();
  return b;
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
  if (bom_bytes_seen_ > 0 && bom_bytes_seen_ < kBom.size()) csv_state_ = CsvState::InField;
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
  if (framing_.kind == Framing::Kind::CsvQuoted && csv_state_ == CsvState::Quoted) {
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
