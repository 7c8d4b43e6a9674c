#include "core/byte_masks.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sluice {

namespace {

uint64_t prefix_xor(uint64_t bits) {
  for (int shift = 1; shift < 64; shift *= 2) bits ^= bits << shift;
  return bits;
}

}  // namespace

void classify_chunks_portable(const char* p, size_t chunks, char delimiter, ChunkMasks* out) {
  for (size_t c = 0; c < chunks; ++c, p += 64) {
    ChunkMasks& masks = out[c];
    masks = {};
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), newline = _mm_set1_epi8('\n'), delim = _mm_set1_epi8(delimiter);
    for (int i = 0; i < 4; ++i) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
      auto bits = [&](__m128i c) {
        return static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, c)))) << (16 * i);
      };
      masks.quotes |= bits(quote);
      masks.newlines |= bits(newline);
      masks.delimiters |= bits(delim);
    }
#else
    for (int i = 0; i < 64; ++i) {
      masks.quotes |= uint64_t{p[i] == '"'} << i;
      masks.newlines |= uint64_t{p[i] == '\n'} << i;
      masks.delimiters |= uint64_t{p[i] == delimiter} << i;
    }
#endif
    masks.quote_parity = prefix_xor(masks.quotes);
  }
}

#if defined(__x86_64__)
namespace {

// prefix_xor in one instruction: a carry-less multiplication by all ones makes bit i the xor of
// bits 0..i.
[[gnu::target("pclmul")]] inline uint64_t prefix_xor_clmul(uint64_t bits) {
  const __m128i product = _mm_clmulepi64_si128(_mm_cvtsi64_si128(static_cast<long long>(bits)), _mm_set1_epi8(-1), 0);
  return static_cast<uint64_t>(_mm_cvtsi128_si64(product));
}

// Bit i: whether byte i of the 64 in low and high equals c.
[[gnu::target("avx2")]] inline uint64_t equal_bits(__m256i low, __m256i high, __m256i c) {
  return static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(low, c)))) |
         static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(high, c)))) << 32;
}

}  // namespace

[[gnu::target("avx512bw,pclmul")]] void classify_chunks_avx512(const char* p, size_t chunks, char delimiter,
                                                               ChunkMasks* out) {
  const __m512i quote = _mm512_set1_epi8('"'), newline = _mm512_set1_epi8('\n'), delim = _mm512_set1_epi8(delimiter);
  for (size_t c = 0; c < chunks; ++c, p += 64) {
    const __m512i bytes = _mm512_loadu_si512(p);
    ChunkMasks& masks = out[c];
    masks.quotes = _mm512_cmpeq_epi8_mask(bytes, quote);
    masks.newlines = _mm512_cmpeq_epi8_mask(bytes, newline);
    masks.delimiters = _mm512_cmpeq_epi8_mask(bytes, delim);
    masks.quote_parity = prefix_xor_clmul(masks.quotes);
  }
}

[[gnu::target("avx2,pclmul")]] void classify_chunks_avx2(const char* p, size_t chunks, char delimiter,
                                                         ChunkMasks* out) {
  const __m256i quote = _mm256_set1_epi8('"'), newline = _mm256_set1_epi8('\n'), delim = _mm256_set1_epi8(delimiter);
  for (size_t c = 0; c < chunks; ++c, p += 64) {
    const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    ChunkMasks& masks = out[c];
    masks.quotes = equal_bits(low, high, quote);
    masks.newlines = equal_bits(low, high, newline);
    masks.delimiters = equal_bits(low, high, delim);
    masks.quote_parity = prefix_xor_clmul(masks.quotes);
  }
}

// __builtin_cpu_init: the checks may run before libgcc's own constructor has (a static framer).
bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("pclmul");
}
bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul");
}
#endif

ClassifyChunks best_chunk_classifier() {
#if defined(__x86_64__)
  static const ClassifyChunks best = cpu_has_avx512() ? classify_chunks_avx512
                                     : cpu_has_avx2() ? classify_chunks_avx2
                                                      : classify_chunks_portable;
  return best;
#else
  return classify_chunks_portable;
#endif
}

}  // namespace sluice
