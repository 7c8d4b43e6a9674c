#pragma once
// Bit masks of where the bytes that structure CSV (quotes, newlines, delimiters) lie, for runs of
// 64-byte chunks: what the CSV framer reads instead of the bytes. The work is picked once per
// process by what the CPU offers: AVX-512BW compares 64 bytes in one instruction, AVX2 in two,
// SSE2 (part of every x86-64 CPU) in four; other targets take a plain loop. All give the same
// masks.
#include <cstddef>
#include <cstdint>

namespace sluice {

// Bit i stands for byte i of the chunk.
struct ChunkMasks {
  uint64_t quotes = 0;
  uint64_t newlines = 0;
  uint64_t delimiters = 0;
  uint64_t quote_parity = 0;  // bit i: whether an odd number of the quotes 0..i are set
};

// Fills out[0, chunks) from the chunks * 64 bytes at p.
using ClassifyChunks = void (*)(const char* p, size_t chunks, char delimiter, ChunkMasks* out);

void classify_chunks_portable(const char* p, size_t chunks, char delimiter, ChunkMasks* out);
#if defined(__x86_64__)
void classify_chunks_avx512(const char* p, size_t chunks, char delimiter, ChunkMasks* out);
void classify_chunks_avx2(const char* p, size_t chunks, char delimiter, ChunkMasks* out);
// Whether the CPU runs the function above (each also needs carry-less multiplication).
bool cpu_has_avx512();
bool cpu_has_avx2();
#endif

// The fastest of the above on this CPU.
ClassifyChunks best_chunk_classifier();

}  // namespace sluice
