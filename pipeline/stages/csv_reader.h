#pragma once
// The CSV parser's record splitter (internal to the `csv` stage; here so that its two readers can
// be tested against each other).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>

#include "core/byte_scan.h"

namespace sluice::pipeline::csv_detail {

// One field of a record: its text as it stands in the block, and whether it was quoted ("" is an
// empty string, an empty unquoted field is null). A quoted field's text is what lies between its
// quotes, each quote in it still written twice (`escaped`): only a field whose text is used pays
// for unescaping it.
struct CsvField {
  std::string_view text;
  bool quoted = false;
  bool escaped = false;  // the text holds "" pairs, each standing for one quote

  bool operator==(const CsvField&) const = default;
};

// Splits records out of a block of whole CSV records. Fields are views into the block.
class CsvReader {
 public:
  CsvReader(std::string_view text, char delimiter) : text_(text), delimiter_(delimiter) {}

  bool at_end() const { return pos_ >= text_.size(); }
  size_t position() const { return pos_; }
  // The '\n' read so far, record ends and those inside quoted fields alike: lines = 1 + this.
  uint64_t newlines() const { return newlines_; }

  // Reads one record into `fields` (views stay valid until the next call). Returns an error
  // message for a malformed record, having skipped to its end. The well-formed record is read 32
  // bytes at a time; a malformed one is read again, byte by byte, by the reader that explains it.
  std::optional<std::string> next(std::vector<CsvField>& fields) {
    const size_t start = pos_;
    const uint64_t newlines_at_start = newlines_;
    if (next_well_formed(fields)) return std::nullopt;
    pos_ = start;
    newlines_ = newlines_at_start;
    return next_by_bytes(fields);
  }

  // next(), a byte at a time: the reference that next() must agree with.
  std::optional<std::string> next_by_bytes(std::vector<CsvField>& fields) {
    fields.clear();
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
        if ((end == text_.size() || text_[end] == '\n') && field.ends_with('\r')) field.remove_suffix(1);
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
  // Bits i of a window of at most 32 bytes from `p`: `ends` where p[i] ends a field (the
  // delimiter or '\n'), `quotes` where it is a quote.
  struct WindowMasks {
    uint32_t ends = 0;
    uint32_t newlines = 0;  // the ends that are '\n'
    uint32_t quotes = 0;
  };
  WindowMasks classify(const char* p, size_t n) const {
    WindowMasks masks;
#if defined(__SSE2__)
    if (n == 32) {  // two 16-byte halves
      for (int half = 0; half < 2; ++half) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * half));
        const auto bits = [&](__m128i of) {
          return static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, of))) << (16 * half);
        };
        const uint32_t newlines = bits(newline_bytes_);
        masks.newlines |= newlines;
        masks.ends |= newlines | bits(delimiter_bytes_);
        masks.quotes |= bits(quote_bytes_);
      }
      return masks;
    }
#endif
    for (size_t i = 0; i < n; ++i) {
      masks.newlines |= static_cast<uint32_t>(p[i] == '\n') << i;
      masks.ends |= static_cast<uint32_t>(p[i] == delimiter_ || p[i] == '\n') << i;
      masks.quotes |= static_cast<uint32_t>(p[i] == '"') << i;
    }
    return masks;
  }

  // Reads a well-formed record: its unquoted fields are split at the delimiters found 32 bytes at
  // a time, and a quoted field is read from quote to quote. Returns false, having read part of
  // the record, at what makes it malformed: a quote inside an unquoted field, anything but a
  // delimiter or the record's end after a closing quote, a quoted field the block ends in.
  bool next_well_formed(std::vector<CsvField>& fields) {
    fields.clear();
    const char* const base = text_.data();
    const size_t size = text_.size();
    size_t field_start = pos_;
    uint64_t quoted_newlines = 0;
    for (size_t window = pos_; window < size;) {
      const size_t n = std::min<size_t>(32, size - window);
      auto [ends, newlines, quotes] = classify(base + window, n);
      if (quotes) ends &= (quotes & -quotes) - 1;  // the fields that end before the first quote
      for (; ends; ends &= ends - 1) {
        const unsigned bit = static_cast<unsigned>(__builtin_ctz(ends));
        const size_t end = window + bit;
        if (newlines & (uint32_t{1} << bit)) {
          const size_t text_end = end > field_start && base[end - 1] == '\r' ? end - 1 : end;
          fields.push_back({std::string_view(base + field_start, text_end - field_start)});
          pos_ = end + 1;
          newlines_ += 1 + quoted_newlines;
          return true;
        }
        fields.push_back({std::string_view(base + field_start, end - field_start)});
        field_start = end + 1;
      }
      if (!quotes) {
        window += 32;
        continue;
      }
      if (window + static_cast<unsigned>(__builtin_ctz(quotes)) != field_start)
        return false;  // a quote inside an unquoted field
      const std::optional<size_t> after = read_quoted_well_formed(fields, field_start, quoted_newlines);
      if (!after) return false;
      if (*after == size || base[*after] == '\n') {
        pos_ = *after == size ? size : *after + 1;
        newlines_ += quoted_newlines + (*after == size ? 0 : 1);
        return true;
      }
      field_start = window = *after + 1;  // after a delimiter
    }
    // The block's last record, without a '\n'.
    std::string_view field = text_.substr(field_start);
    if (field.ends_with('\r')) field.remove_suffix(1);
    fields.push_back({field});
    pos_ = size;
    newlines_ += quoted_newlines;
    return true;
  }

  // Reads the quoted field that opens at `open`. Returns the position of the delimiter, '\n' or
  // block end that follows its closing quote (with at most a '\r' between), or nullopt if the
  // field is malformed.
  std::optional<size_t> read_quoted_well_formed(std::vector<CsvField>& fields, size_t open, uint64_t& newlines) {
    bool escaped = false;
    for (size_t from = open + 1;;) {
      // The next quote, or a newline inside the field to count ('\n' twice: the scan takes three bytes).
      const size_t q = find_first_of3(text_, from, '"', '\n', '\n');
      if (q == text_.size()) return std::nullopt;  // unterminated
      if (text_[q] == '\n') {
        ++newlines;
        from = q + 1;
        continue;
      }
      if (q + 1 < text_.size() && text_[q + 1] == '"') {  // "" is an escaped quote
        escaped = true;
        from = q + 2;
        continue;
      }
      fields.push_back({std::string_view(text_.data() + open + 1, q - open - 1), true, escaped});
      size_t after = q + 1;
      if (after < text_.size() && text_[after] == '\r') ++after;
      if (after < text_.size() && text_[after] != delimiter_ && text_[after] != '\n') return std::nullopt;
      return after;
    }
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
#if defined(__SSE2__)
  // Each byte of the window is compared with these: built once, not per window.
  __m128i delimiter_bytes_ = _mm_set1_epi8(delimiter_);
  __m128i newline_bytes_ = _mm_set1_epi8('\n');
  __m128i quote_bytes_ = _mm_set1_epi8('"');
#endif
  size_t pos_ = 0;
  uint64_t newlines_ = 0;
};

}  // namespace sluice::pipeline::csv_detail
