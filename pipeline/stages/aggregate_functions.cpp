#include "pipeline/stages/aggregate_functions.h"

#include <cmath>

namespace sluice::pipeline {

namespace {

class Count : public Accumulator {
 public:
  explicit Count(bool of_field) : of_field_(of_field) {}
  void add(const Value& value) override { n_ += (!of_field_ || !is_null(value)) ? 1 : 0; }
  Value result() const override { return n_; }

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
  Value result() const override { return is_double_ ? Value{double_sum_} : Value{int_sum_}; }

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
  Value result() const override { return n_ ? Value{(sum_ + compensation_) / static_cast<double>(n_)} : Value{}; }

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
  Value result() const override { return best_; }

 private:
  int sign_;
  Value best_;
};

}  // namespace

const std::vector<AggregateFunction>& aggregate_functions() {
  static const std::vector<AggregateFunction> functions = {
      {"count", "records in the group (with a field: its non-null values)", false, false,
       [](const AggregateArgs& args) { return std::make_unique<Count>(args.has_field); }},
      {"sum", "sum of a numeric field (exact for ints)", true, true, [](const AggregateArgs&) { return std::make_unique<Sum>(); }},
      {"mean", "arithmetic mean of a numeric field", true, true, [](const AggregateArgs&) { return std::make_unique<Mean>(); }},
      {"min", "smallest value of a field", true, false, [](const AggregateArgs&) { return std::make_unique<Extreme>(-1); }},
      {"max", "largest value of a field", true, false, [](const AggregateArgs&) { return std::make_unique<Extreme>(1); }},
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
