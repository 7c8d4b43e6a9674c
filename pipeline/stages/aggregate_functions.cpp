#include "pipeline/stages/aggregate_functions.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"

namespace sluice::pipeline {

namespace {

class Count : public Accumulator {
 public:
  explicit Count(bool of_field) : of_field_(of_field) {}
  void add(const Value& value) override { n_ += (!of_field_ || !is_null(value)) ? 1 : 0; }
  Value result() override { return n_; }

 private:
  bool of_field_;
  int64_t n_ = 0;
};

// Sums ints exactly while they fit, then continues in double.
class Sum : public Accumulator {
 public:
  void add(const Value& value) override {
    if (const int64_t* i = std::get_if<int64_t>(&value)) {
      int64_t sum;
      if (!is_double_ && !__builtin_add_overflow(int_sum_, *i, &sum)) {
        int_sum_ = sum;
        return;
      }
      promote();
      double_sum_ += static_cast<double>(*i);
    } else if (const double* d = std::get_if<double>(&value)) {
      promote();
      double_sum_ += *d;
    }
  }
  Value result() override { return is_double_ ? Value{double_sum_} : Value{int_sum_}; }

 private:
  void promote() {
    if (is_double_) return;
    is_double_ = true;
    double_sum_ = static_cast<double>(int_sum_);
  }
  bool is_double_ = false;
  int64_t int_sum_ = 0;
  double double_sum_ = 0;
};

// Compensated (Kahan-Babuska) sum divided by the count: as exact as doubles allow.
class Mean : public Accumulator {
 public:
  void add(const Value& value) override {
    if (auto d = as_double(value)) {
      ++n_;
      const double t = sum_ + *d;
      compensation_ += std::abs(sum_) >= std::abs(*d) ? (sum_ - t) + *d : (*d - t) + sum_;
      sum_ = t;
    }
  }
  Value result() override { return n_ ? Value{(sum_ + compensation_) / static_cast<double>(n_)} : Value{}; }

 private:
  int64_t n_ = 0;
  double sum_ = 0;
  double compensation_ = 0;
};

// min (sign < 0) or max (sign > 0) under compare_values; nulls are ignored.
class Extreme : public Accumulator {
 public:
  explicit Extreme(int sign) : sign_(sign) {}
  void add(const Value& value) override {
    if (is_null(value)) return;
    if (is_null(best_) || compare_values(value, best_) * sign_ > 0) best_ = value;
  }
  Value result() override { return best_; }

 private:
  int sign_;
  Value best_;
};

// The first (or last) non-null value in input order.
class FirstOrLast : public Accumulator {
 public:
  explicit FirstOrLast(bool last) : last_(last) {}
  void add(const Value& value) override {
    if (!is_null(value) && (last_ || is_null(kept_))) kept_ = value;
  }
  Value result() override { return kept_; }

 private:
  bool last_;
  Value kept_;
};

// Exact counts of each distinct non-null value, capped at max_distinct values so that one group
// cannot take unbounded memory.
class ValueCounts {
 public:
  ValueCounts(std::string_view function, const AggregateArgs& args)
      : function_(function), field_(args.field), max_distinct_(args.max_distinct) {}

  void add(const Value& value) {
    if (is_null(value)) return;
    auto it = counts_.find(value);
    if (it == counts_.end()) {
      if (counts_.size() >= max_distinct_) {
        throw Error(ErrorCode::ResourceExhausted,
                    fmt::format("{} of '{}': more than {} distinct values in one group (max_distinct)", function_,
                                field_, max_distinct_));
      }
      it = counts_.emplace(value, 0).first;
    }
    ++it->second;
  }
  const auto& counts() const { return counts_; }

 private:
  std::string_view function_;
  std::string field_;
  size_t max_distinct_;
  std::unordered_map<Value, int64_t, ValueHash, ValueEqual> counts_;
};

class CountDistinct : public Accumulator {
 public:
  explicit CountDistinct(const AggregateArgs& args) : values_("count_distinct", args) {}
  void add(const Value& value) override { values_.add(value); }
  Value result() override { return static_cast<int64_t>(values_.counts().size()); }

 private:
  ValueCounts values_;
};

// The k most frequent values as "value:count,...", most frequent first, ties by value ascending.
class TopK : public Accumulator {
 public:
  explicit TopK(const AggregateArgs& args) : k_(args.k), values_("top_k", args) {}
  void add(const Value& value) override { values_.add(value); }
  Value result() override {
    if (values_.counts().empty()) return {};
    std::vector<const std::pair<const Value, int64_t>*> entries;
    entries.reserve(values_.counts().size());
    for (const auto& entry : values_.counts()) entries.push_back(&entry);
    const size_t shown = std::min(k_, entries.size());
    std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(shown), entries.end(),
                      [](const auto* a, const auto* b) {
                        if (a->second != b->second) return a->second > b->second;
                        return compare_values(a->first, b->first) < 0;
                      });
    std::string out;
    for (size_t i = 0; i < shown; ++i) {
      out += fmt::format("{}{}:{}", i ? "," : "", to_display(entries[i]->first), entries[i]->second);
    }
    return out;
  }

 private:
  size_t k_;
  ValueCounts values_;
};

class Quantile : public Accumulator {
 public:
  Quantile(double q, const AggregateArgs& args) : q_(q), sketch_(args.relative_accuracy) {}
  void add(const Value& value) override {
    if (auto d = as_double(value)) {
      pending_.push_back(*d);
      if (pending_.size() == kBurst) add_pending();
    }
  }
  Value result() override {
    add_pending();
    const auto estimate = sketch_.quantile(q_);
    return estimate ? Value{*estimate} : Value{};
  }

 private:
  // Values reach the sketch in bursts: added one at a time, between the parsing of the records
  // that carry them, each found its bucket evicted from the cache (a miss per value, ~7% of the
  // reference pipeline's time); a burst's values share the cache lines of their buckets, the more
  // so the longer the burst (256: 2 KiB per sketch at most; Store::add fell from 2.5% of the
  // samples with bursts of 32 to 0.8%). The buffer grows with the group, so that a group of few
  // values stays small.
  static constexpr size_t kBurst = 256;
  void add_pending() {
    for (const double d : pending_) sketch_.add(d);
    pending_.clear();
  }

  double q_;
  DDSketch sketch_;
  std::vector<double> pending_;
};

// The builder of the accumulators `make` returns, given the arguments.
template <typename Make>
AccumulatorBuilder in_place(Make make) {
  using Built = std::invoke_result_t<Make, const AggregateArgs&>;
  static_assert(std::is_base_of_v<Accumulator, Built> && alignof(Built) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  return {sizeof(Built), alignof(Built),
          [make](void* where, const AggregateArgs& args) -> Accumulator* { return ::new (where) Built(make(args)); }};
}

AggregateFunction extreme(std::string_view name, std::string_view summary, int sign) {
  AccumulatorBuilder accumulator = in_place([sign](const AggregateArgs&) { return Extreme(sign); });
  return {.name = name, .summary = summary, .accumulator = std::move(accumulator)};
}

AggregateFunction fixed_quantile(std::string_view name, std::string_view summary, double q) {
  return {.name = name,
          .summary = summary,
          .numeric_only = true,
          .finite_only = true,
          .options = {AggregateOption::RelativeAccuracy},
          .accumulator = in_place([q](const AggregateArgs& args) { return Quantile(q, args); })};
}

}  // namespace

std::string_view option_key(AggregateOption option) {
  switch (option) {
    case AggregateOption::Quantile: return "q";
    case AggregateOption::RelativeAccuracy: return "relative_accuracy";
    case AggregateOption::K: return "k";
    case AggregateOption::MaxDistinct: return "max_distinct";
  }
  return "";
}

const std::vector<AggregateFunction>& aggregate_functions() {
  static const std::vector<AggregateFunction> functions = {
      {.name = "count",
       .summary = "records in the group (with a field: its non-null values)",
       .needs_field = false,
       .accumulator = in_place([](const AggregateArgs& args) { return Count(!args.field.empty()); })},
      {.name = "sum",
       .summary = "sum of a numeric field (exact for ints)",
       .numeric_only = true,
       .accumulator = in_place([](const AggregateArgs&) { return Sum(); })},
      {.name = "mean",
       .summary = "arithmetic mean of a numeric field",
       .numeric_only = true,
       .accumulator = in_place([](const AggregateArgs&) { return Mean(); })},
      extreme("min", "smallest non-null value of a field", -1),
      extreme("max", "largest non-null value of a field", 1),
      {.name = "first",
       .summary = "first non-null value of a field, in input order",
       .accumulator = in_place([](const AggregateArgs&) { return FirstOrLast(false); })},
      {.name = "last",
       .summary = "last non-null value of a field, in input order",
       .accumulator = in_place([](const AggregateArgs&) { return FirstOrLast(true); })},
      {.name = "count_distinct",
       .summary = "exact number of distinct non-null values (at most max_distinct, default 100000)",
       .options = {AggregateOption::MaxDistinct},
       .accumulator = in_place([](const AggregateArgs& args) { return CountDistinct(args); })},
      {.name = "top_k",
       .summary = "the k most frequent values with their exact counts, as \"value:count,...\"",
       .options = {AggregateOption::K, AggregateOption::MaxDistinct},
       .accumulator = in_place([](const AggregateArgs& args) { return TopK(args); })},
      fixed_quantile("p50", "approximate median (DDSketch, relative error <= relative_accuracy, default 0.01)", 0.5),
      fixed_quantile("p90", "approximate 90th percentile (DDSketch)", 0.9),
      fixed_quantile("p99", "approximate 99th percentile (DDSketch)", 0.99),
      {.name = "quantile",
       .summary = "approximate q-quantile (DDSketch), q in [0, 1]",
       .numeric_only = true,
       .finite_only = true,
       .options = {AggregateOption::Quantile, AggregateOption::RelativeAccuracy},
       .required_option = AggregateOption::Quantile,
       .accumulator = in_place([](const AggregateArgs& args) { return Quantile(args.quantile, args); })},
  };
  return functions;
}

const AggregateFunction* find_aggregate_function(std::string_view name) {
  for (const AggregateFunction& f : aggregate_functions()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace sluice::pipeline
