#pragma once
// DDSketch (Masson, Rim and Lee, VLDB 2019): approximate quantiles with a relative-error guarantee
// in bounded memory.
//
// Guarantee: for relative accuracy alpha, quantile(q) returns x' with |x' - x| <= alpha * |x|,
// where x is the exact lower q-quantile: the element at 0-based rank floor(q * (n - 1)) of the
// sorted input. It holds for every distribution because a value x > 0 lands in bucket
// i = ceil(log_gamma(x)), gamma = (1 + alpha) / (1 - alpha), which covers (gamma^(i-1), gamma^i],
// and the bucket is reported as 2 * gamma^i / (gamma + 1), at relative distance <= alpha from
// both ends. Negative values mirror this in a store of their own; zeros are counted exactly.
//
// Memory: at most max_buckets counters per sign. When the values of one sign span more buckets,
// the buckets of smallest magnitude are merged into the smallest one kept, and quantiles that fall
// in the merged bucket are overestimated in magnitude. By default max_buckets is 2048 at
// alpha = 0.01 and more for finer accuracy (20480 at alpha = 0.001), so that the buckets always
// span magnitudes within a factor of about 6e17 of the largest before anything is merged.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace sluice::pipeline {

class DDSketch {
 public:
  static constexpr double kDefaultRelativeAccuracy = 0.01;
  static constexpr size_t kDefaultMaxBuckets = 2048;  // at the default accuracy

  // The bucket limit that spans the same range of magnitudes as 2048 buckets at alpha = 0.01.
  static size_t max_buckets_for(double relative_accuracy);

  // relative_accuracy in (0, 1); max_buckets >= 1.
  explicit DDSketch(double relative_accuracy = kDefaultRelativeAccuracy)
      : DDSketch(relative_accuracy, max_buckets_for(relative_accuracy)) {}
  DDSketch(double relative_accuracy, size_t max_buckets);

  // Infinities and NaN are ignored.
  void add(double x);
  // q in [0, 1]; nullopt when nothing was added.
  std::optional<double> quantile(double q) const;

  uint64_t count() const { return negative_.total() + zero_count_ + positive_.total(); }
  size_t bucket_count() const { return negative_.size() + positive_.size(); }

 private:
  // Dense counters for the bucket indices [offset_, offset_ + counts_.size()), collapsing the
  // lowest indices (smallest magnitudes) beyond max_buckets.
  class Store {
   public:
    explicit Store(size_t max_buckets) : max_buckets_(max_buckets) {}
    void add(int64_t index);
    // The bucket index that holds the 0-based rank `rank`, counting from the lowest index (or
    // from the highest with `descending`); rank must be < total().
    int64_t index_at_rank(uint64_t rank, bool descending) const;
    uint64_t total() const { return total_; }
    size_t size() const { return counts_.size(); }

   private:
    size_t max_buckets_;
    int64_t offset_ = 0;
    std::vector<uint64_t> counts_;
    uint64_t total_ = 0;
  };

  int64_t index_of(double magnitude) const;
  double value_of(int64_t index) const;

  double gamma_;
  double log_gamma_;
  Store negative_;  // indexed by magnitude
  Store positive_;
  uint64_t zero_count_ = 0;
};

}  // namespace sluice::pipeline
