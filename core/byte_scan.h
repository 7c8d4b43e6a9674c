#pragma once
// Byte scans on the hot path of framing and parsing, 16 bytes at a time with SSE2 (part of every
// x86-64 CPU); other targets take the plain loop, which gives the same answers.
#include <cstddef>
#include <cstdint>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice {

// The number of '\n' in `text`.
inline uint64_t count_newlines(std::string_view text) {
  const char* p = text.data();
  const char* const end = p + text.size();
  uint64_t count = 0;
#if defined(__SSE2__)
  // Each compare adds 1 (as -1 subtracted) to per-byte tallies, which are summed (psadbw) before
  // they can overflow at 255.
  const __m128i newline = _mm_set1_epi8('\n');
  while (end - p >= 16) {
    __m128i tallies = _mm_setzero_si128();
    for (int i = 0; i < 255 && end - p >= 16; ++i, p += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      tallies = _mm_sub_epi8(tallies, _mm_cmpeq_epi8(bytes, newline));
    }
    const __m128i sums = _mm_sad_epu8(tallies, _mm_setzero_si128());
    count += static_cast<uint64_t>(_mm_cvtsi128_si64(sums)) + static_cast<uint64_t>(_mm_extract_epi16(sums, 4));
  }
#endif
  for (; p < end; ++p) count += *p == '\n';
  return count;
}

// The position of the first of the bytes a, b or c at or after `from`; text.size() if none.
inline size_t find_first_of3(std::string_view text, size_t from, char a, char b, char c) {
  const char* const base = text.data();
  const char* p = base + from;
  const char* const end = base + text.size();
#if defined(__SSE2__)
  const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b), vc = _mm_set1_epi8(c);
  for (; end - p >= 16; p += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, va), _mm_cmpeq_epi8(bytes, vb)),
                                      _mm_cmpeq_epi8(bytes, vc));
    if (const int mask = _mm_movemask_epi8(hits)) return static_cast<size_t>(p - base) + __builtin_ctz(mask);
  }
#endif
  for (; p < end; ++p) {
    if (*p == a || *p == b || *p == c) break;
  }
  return static_cast<size_t>(p - base);
}

}  // namespace sluice
