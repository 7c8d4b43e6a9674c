#include "pipeline/stages/aggregate_functions.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "pipeline/stages/ddsketch.h"
#include "pipeline/stages/group_table.h"
#include "tests/support/aggregates.h"

namespace sluice::pipeline {
namespace {

const std::vector<double> kQuantiles = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};

// The lower q-quantile, as DDSketch defines it: the element at rank floor(q * (n - 1)).
double exact_quantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)))];
}

std::vector<double> sorted(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values;
}

// The stated guarantee, |estimate - exact| <= alpha * |exact|, with room only for the rounding
// of the logarithms (far below one bucket, which is 2 * alpha wide).
void expect_within_relative_error(double estimate, double exact, double alpha, double q) {
  EXPECT_LE(std::abs(estimate - exact), alpha * std::abs(exact) * (1 + 1e-9))
      << "q=" << q << " estimate=" << estimate << " exact=" << exact;
}

void expect_sketch_meets_bound(const std::vector<double>& values, double alpha) {
  DDSketch sketch(alpha);
  for (double v : values) sketch.add(v);
  ASSERT_EQ(sketch.count(), values.size());
  const auto exact = sorted(values);
  for (double q : kQuantiles) expect_within_relative_error(*sketch.quantile(q), exact_quantile(exact, q), alpha, q);
}

template <typename Distribution>
std::vector<double> draw(size_t n, Distribution distribution, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> values(n);
  for (double& v : values) v = distribution(rng);
  return values;
}

// Negative lognormals, exact zeros and positive uniforms, shuffled together.
std::vector<double> mixed_signs_with_zeros(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> lognormal(1, 1.5);
  std::uniform_real_distribution<double> uniform(0.001, 500);
  std::vector<double> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = i % 3 == 0 ? -lognormal(rng) : i % 3 == 1 ? 0.0 : uniform(rng);
  std::shuffle(values.begin(), values.end(), rng);
  return values;
}

TEST(DDSketch, MeetsTheRelativeErrorBoundAcrossDistributionsAndSizes) {
  for (size_t n : {size_t{1}, size_t{2}, size_t{10}, size_t{1000}, size_t{100'000}}) {
    SCOPED_TRACE(fmt::format("n={}", n));
    for (double alpha : {0.01, 0.05, 0.001}) {
      SCOPED_TRACE(fmt::format("alpha={}", alpha));
      expect_sketch_meets_bound(draw(n, std::uniform_real_distribution<double>(1, 1000), 1), alpha);
      expect_sketch_meets_bound(draw(n, std::lognormal_distribution<double>(0, 2), 2), alpha);
      expect_sketch_meets_bound(draw(n, std::normal_distribution<double>(0, 100), 3), alpha);
      expect_sketch_meets_bound(mixed_signs_with_zeros(n, 4), alpha);
    }
  }
}

TEST(DDSketch, IntegersWithManyDuplicatesAndAllZeros) {
  std::vector<double> small_ints = draw(5000, std::uniform_int_distribution<int>(-3, 3), 5);
  expect_sketch_meets_bound(small_ints, 0.01);
  DDSketch zeros;
  for (int i = 0; i < 10; ++i) zeros.add(0);
  EXPECT_EQ(zeros.quantile(0.5), 0.0);
  EXPECT_EQ(zeros.bucket_count(), 0u);
}

TEST(DDSketch, FinerAccuracyGetsMoreBucketsForTheSameRange) {
  EXPECT_EQ(DDSketch::max_buckets_for(0.01), 2048u);
  EXPECT_EQ(DDSketch::max_buckets_for(0.05), 2048u);
  EXPECT_NEAR(static_cast<double>(DDSketch::max_buckets_for(0.001)), 20480, 20);
}

TEST(DDSketch, EmptyHasNoQuantileAndInfinitiesAreIgnored) {
  DDSketch sketch;
  EXPECT_EQ(sketch.quantile(0.5), std::nullopt);
  sketch.add(std::numeric_limits<double>::infinity());
  sketch.add(std::nan(""));
  EXPECT_EQ(sketch.count(), 0u);
  sketch.add(42);
  expect_within_relative_error(*sketch.quantile(0.5), 42, 0.01, 0.5);
}

TEST(DDSketch, MemoryStaysWithinTheBucketLimit) {
  // lognormal(0, 8) spans ~1e-30 .. 1e30: far more than 2048 buckets of 2% width.
  const auto values = draw(100'000, std::lognormal_distribution<double>(0, 8), 6);
  DDSketch sketch;
  for (double v : values) sketch.add(v);
  EXPECT_EQ(sketch.bucket_count(), DDSketch::kDefaultMaxBuckets);
  // Collapsing merges the smallest magnitudes only: the upper quantiles keep the guarantee.
  const auto exact = sorted(values);
  for (double q : {0.5, 0.9, 0.99, 1.0}) expect_within_relative_error(*sketch.quantile(q), exact_quantile(exact, q), 0.01, q);
}

TEST(DDSketch, CollapsedLowBucketsOverestimateOnlyTheSmallestValues) {
  std::vector<double> values;
  for (int e = -6; e <= 6; ++e) {
    for (int i = 1; i <= 100; ++i) values.push_back(i * std::pow(10.0, e));  // 1e-6 .. 1e8
  }
  std::vector<double> negated;
  for (double v : values) negated.push_back(-v);
  for (const auto& data : {values, negated}) {
    DDSketch sketch(0.01, 100);  // 100 buckets of ~2% cover a factor of ~7 only
    for (double v : data) sketch.add(v);
    EXPECT_EQ(sketch.bucket_count(), 100u);
    const bool positive = data.front() > 0;
    const double top = positive ? 1.0 : 0.0;  // the quantile of the largest magnitude
    expect_within_relative_error(*sketch.quantile(top), exact_quantile(sorted(data), top), 0.01, top);
    // The smallest magnitude now reads as the lowest bucket kept: far above 1e-6 in magnitude.
    const double bottom = 1 - top;
    EXPECT_GT(std::abs(*sketch.quantile(bottom)), 1e-6 * 1e5);
  }
}

// An accumulator built through the catalogue as group_by builds it: the one group of a table.
class LoneAccumulator {
 public:
  LoneAccumulator(std::string_view function, AggregateArgs args)
      : aggregate_(testing::bound(function, std::move(args))),
        table_(0, std::span(&aggregate_, 1)),
        accumulator_(table_.insert(0, [](size_t) -> const Value& { throw std::logic_error("no key"); })[0]) {}
  LoneAccumulator(const LoneAccumulator&) = delete;
  LoneAccumulator& operator=(const LoneAccumulator&) = delete;
  Accumulator* operator->() const { return accumulator_; }

 private:
  BoundAggregate aggregate_;  // the table refers to it
  GroupTable table_;
  Accumulator* accumulator_;
};

LoneAccumulator make(std::string_view function, AggregateArgs args = {}) { return {function, std::move(args)}; }

TEST(AggregateFunctions, QuantileFunctionsMeetTheirBoundOnTheirQuantile) {
  const auto values = draw(20'000, std::lognormal_distribution<double>(3, 1), 7);
  const auto exact = sorted(values);
  const std::vector<std::pair<std::string_view, double>> fixed = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}};
  for (const auto& [name, q] : fixed) {
    auto accumulator = make(name);
    for (double v : values) accumulator->add(v);
    expect_within_relative_error(std::get<double>(accumulator->result()), exact_quantile(exact, q), 0.01, q);
  }
  AggregateArgs args;
  args.quantile = 0.95;
  args.relative_accuracy = 0.002;
  auto p95 = make("quantile", args);
  for (double v : values) p95->add(v);
  p95->add(Value{});  // nulls are skipped
  expect_within_relative_error(std::get<double>(p95->result()), exact_quantile(exact, 0.95), 0.002, 0.95);
  EXPECT_EQ(make("p50")->result(), Value{});
}

TEST(AggregateFunctions, QuantilesTakeIntsAsNumbers) {
  auto median = make("p50");
  for (int64_t i = 1; i <= 101; ++i) median->add(i);
  expect_within_relative_error(std::get<double>(median->result()), 51, 0.01, 0.5);
}

TEST(AggregateFunctions, QuantilesCountEveryValueOnceWhateverTheBurst) {
  // The quantile functions hand values to their sketch in bursts: a result read at any point, and
  // again later, must count each value added so far exactly once. Values 1..n: the median is
  // the value at rank floor((n - 1) / 2), the maximum n.
  auto median = make("p50");
  AggregateArgs top_args;
  top_args.quantile = 1;
  auto top = make("quantile", top_args);
  for (int64_t n = 1; n <= 1200; ++n) {
    median->add(n);
    top->add(n);
    // Results read often (within bursts), then rarely (a burst fills between two reads).
    if (n <= 300 ? n % 7 : n % 257 && n != 1200) continue;
    SCOPED_TRACE(n);
    expect_within_relative_error(std::get<double>(median->result()), static_cast<double>((n - 1) / 2 + 1), 0.01, 0.5);
    expect_within_relative_error(std::get<double>(top->result()), static_cast<double>(n), 0.01, 1);
  }
}

TEST(AggregateFunctions, CountDistinctCountsExactlyAndIgnoresNulls) {
  std::mt19937 rng(8);
  auto distinct = make("count_distinct");
  std::set<int64_t> reference;
  for (int i = 0; i < 50'000; ++i) {
    const int64_t v = rng() % 20'000;
    reference.insert(v);
    distinct->add(v);
    distinct->add(Value{});
  }
  EXPECT_EQ(distinct->result(), Value{static_cast<int64_t>(reference.size())});

  auto mixed = make("count_distinct");
  for (const Value& v : {Value{int64_t{1}}, Value{1.0}, Value{std::string("1")}, Value{true}, Value{1.5}}) mixed->add(v);
  EXPECT_EQ(mixed->result(), Value{int64_t{4}});  // 1 and 1.0 are one value, as in group keys
}

TEST(AggregateFunctions, DistinctValuesBeyondMaxDistinctExhaustTheGroup) {
  for (std::string_view function : {"count_distinct", "top_k"}) {
    SCOPED_TRACE(function);
    AggregateArgs args;
    args.field = "user_id";
    args.max_distinct = 3;
    auto accumulator = make(function, args);
    for (int64_t v : {1, 2, 3, 3, 2, 1}) accumulator->add(v);  // repeats of known values are fine
    try {
      accumulator->add(int64_t{4});
      FAIL() << "expected ResourceExhausted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::ResourceExhausted);
      EXPECT_NE(std::string(e.what()).find("'user_id'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("max_distinct"), std::string::npos) << e.what();
    }
  }
}

TEST(AggregateFunctions, TopKMatchesAnIndependentCountWithTiesByValue) {
  std::mt19937 rng(9);
  const std::vector<std::string> countries = {"US", "DE", "FR", "IN", "BR", "JP", "AU"};
  for (size_t k : {size_t{1}, size_t{3}, size_t{7}, size_t{10}}) {
    SCOPED_TRACE(k);
    AggregateArgs args;
    args.k = k;
    auto top = make("top_k", args);
    std::map<std::string, int64_t> counts;
    for (int i = 0; i < 300; ++i) {
      const std::string& c = countries[rng() % 3 == 0 ? 0 : rng() % countries.size()];
      ++counts[c];
      top->add(c);
    }
    std::vector<std::pair<int64_t, std::string>> ranked;
    for (const auto& [value, count] : counts) ranked.emplace_back(-count, value);
    std::sort(ranked.begin(), ranked.end());
    std::string expected;
    for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
      expected += fmt::format("{}{}:{}", i ? "," : "", ranked[i].second, -ranked[i].first);
    }
    EXPECT_EQ(top->result(), Value{expected});
  }

  auto ties = make("top_k");
  for (const char* v : {"c", "b", "a", "c", "b", "a", "d"}) ties->add(std::string(v));
  EXPECT_EQ(ties->result(), Value{std::string("a:2,b:2,c:2")});
  EXPECT_EQ(make("top_k")->result(), Value{});
}

TEST(AggregateFunctions, FirstAndLastSkipNulls) {
  auto first = make("first");
  auto last = make("last");
  for (const Value& v : {Value{}, Value{std::string("x")}, Value{int64_t{2}}, Value{3.5}, Value{}}) {
    first->add(v);
    last->add(v);
  }
  EXPECT_EQ(first->result(), Value{std::string("x")});
  EXPECT_EQ(last->result(), Value{3.5});
  EXPECT_EQ(make("first")->result(), Value{});
}

TEST(AggregateFunctions, CatalogueDeclaresOptionsAndInputKinds) {
  for (std::string_view name : {"p50", "p90", "p99", "quantile"}) {
    const AggregateFunction* f = find_aggregate_function(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_TRUE(f->numeric_only && f->finite_only) << name;
  }
  EXPECT_EQ(find_aggregate_function("quantile")->required_option, AggregateOption::Quantile);
  EXPECT_FALSE(find_aggregate_function("top_k")->numeric_only);
  EXPECT_TRUE(find_aggregate_function("first")->options.empty());
}

}  // namespace
}  // namespace sluice::pipeline
