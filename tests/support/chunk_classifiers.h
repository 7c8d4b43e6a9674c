#pragma once
// The chunk classifiers (core/byte_masks.h) this CPU runs, narrowest first, for tests to run each.
#include <string>
#include <utility>
#include <vector>

#include "core/byte_masks.h"

namespace sluice::testing {

inline std::vector<std::pair<std::string, ClassifyChunks>> runnable_classifiers() {
  std::vector<std::pair<std::string, ClassifyChunks>> classifiers = {{"portable", classify_chunks_portable}};
#if defined(__x86_64__)
  if (cpu_has_avx2()) classifiers.emplace_back("avx2", classify_chunks_avx2);
  if (cpu_has_avx512()) classifiers.emplace_back("avx512", classify_chunks_avx512);
#endif
  return classifiers;
}

}  // namespace sluice::testing
