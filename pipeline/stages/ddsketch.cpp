#include "pipeline/stages/ddsketch.h"

#include <algorithm>
#include <cmath>

namespace sluice::pipeline {

namespace {

double log_gamma_for(double relative_accuracy) { return std::log((1 + relative_accuracy) / (1 - relative_accuracy)); }

}  // namespace

size_t DDSketch::max_buckets_for(double relative_accuracy) {
  const double buckets = static_cast<double>(kDefaultMaxBuckets) * log_gamma_for(kDefaultRelativeAccuracy) /
                         log_gamma_for(relative_accuracy);
  return std::max(kDefaultMaxBuckets, static_cast<size_t>(std::ceil(buckets)));
}

DDSketch::DDSketch(double relative_accuracy, size_t max_buckets)
    : gamma_((1 + relative_accuracy) / (1 - relative_accuracy)),
      log_gamma_(log_gamma_for(relative_accuracy)),
      negative_(max_buckets),
      positive_(max_buckets) {}

void DDSketch::add(double x) {
  if (!std::isfinite(x)) return;  // no bucket holds them; callers reject them where they can report it
  if (x > 0) {
    positive_.add(index_of(x));
  } else if (x < 0) {
    negative_.add(index_of(-x));
  } else {
    ++zero_count_;
  }
}

std::optional<double> DDSketch::quantile(double q) const {
  const uint64_t n = count();
  if (n == 0) return std::nullopt;
  uint64_t rank = std::min(n - 1, static_cast<uint64_t>(std::floor(q * static_cast<double>(n - 1))));
  // In value order: negatives from the largest magnitude down, then zeros, then positives up.
  if (rank < negative_.total()) return -value_of(negative_.index_at_rank(rank, true));
  rank -= negative_.total();
  if (rank < zero_count_) return 0.0;
  rank -= zero_count_;
  return value_of(positive_.index_at_rank(rank, false));
}

int64_t DDSketch::index_of(double magnitude) const {
  return static_cast<int64_t>(std::ceil(std::log(magnitude) / log_gamma_));
}

double DDSketch::value_of(int64_t index) const {
  return std::exp(static_cast<double>(index) * log_gamma_) * (2 / (gamma_ + 1));
}

void DDSketch::Store::add(int64_t index) {
  ++total_;
  if (counts_.empty()) {
    offset_ = index;
    counts_.push_back(1);
    return;
  }
  const int64_t limit = static_cast<int64_t>(max_buckets_);
  const int64_t highest = offset_ + static_cast<int64_t>(counts_.size()) - 1;
  if (index > highest) {
    // Grow upwards; the buckets that fall below the new lowest one are merged into it.
    const int64_t lowest = std::max(offset_, index - limit + 1);
    std::vector<uint64_t> grown(static_cast<size_t>(index - lowest + 1), 0);
    for (size_t i = 0; i < counts_.size(); ++i) {
      grown[static_cast<size_t>(std::max<int64_t>(0, offset_ + static_cast<int64_t>(i) - lowest))] += counts_[i];
    }
    grown.back() += 1;
    counts_ = std::move(grown);
    offset_ = lowest;
    return;
  }
  if (index < offset_) {
    // Grow downwards, but never past the bucket limit: smaller values join the lowest bucket kept
    // (the span never exceeds the limit, so that bucket is at or below offset_).
    index = std::max(index, highest - limit + 1);
    counts_.insert(counts_.begin(), static_cast<size_t>(offset_ - index), 0);
    offset_ = index;
  }
  counts_[static_cast<size_t>(index - offset_)] += 1;
}

int64_t DDSketch::Store::index_at_rank(uint64_t rank, bool descending) const {
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    const size_t at = descending ? counts_.size() - 1 - i : i;
    seen += counts_[at];
    if (seen > rank) return offset_ + static_cast<int64_t>(at);
  }
  return offset_ + static_cast<int64_t>(descending ? 0 : counts_.size() - 1);
}

}  // namespace sluice::pipeline
