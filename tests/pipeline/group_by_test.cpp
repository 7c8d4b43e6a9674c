#include "pipeline/stages/group_by.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/pipeline_harness.h"

namespace sluice::pipeline {
namespace {

using sluice::testing::config_error;
using sluice::testing::pipeline_from_yaml;
using sluice::testing::run_chunked;

void expect_mentions(const std::exception& e, const std::string& part) {
  EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
}

void expect_config_error(const std::string& yaml, int line, int column, const std::string& message) {
  SCOPED_TRACE(yaml);
  const auto e = config_error(yaml);
  EXPECT_EQ(e.line(), line);
  EXPECT_EQ(e.column(), column);
  expect_mentions(e, message);
}

Error stream_error(const PipelinePtr& pipeline, const std::string& input) {
  try {
    run_chunked(pipeline, input, 64);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected the stream to fail";
  return Error(ErrorCode::Ok, "");
}

TEST(GroupBy, CountSumMeanMinMaxPerKeySortedByKey) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {v: int}
  - type: group_by
    keys: [k]
    aggregates:
      - {fn: count}
      - {fn: sum, field: v}
      - {fn: mean, field: v}
      - {fn: min, field: v}
      - {fn: max, field: v, as: biggest}
      - {fn: count, field: v, as: non_null}
)");
  const auto run = run_chunked(pipeline, "k,v\nb,1\na,2\nb,3\na,\nb,5\n", 4);
  ASSERT_EQ(run.results.size(), 1u);
  const ResultBatch& r = run.results[0];
  EXPECT_FALSE(r.windowed);
  EXPECT_EQ(r.columns, (std::vector<std::string>{"k", "count", "sum_v", "mean_v", "min_v", "biggest", "non_null"}));
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0], (std::vector<Value>{std::string("a"), int64_t{2}, int64_t{2}, 2.0, int64_t{2}, int64_t{2}, int64_t{1}}));
  EXPECT_EQ(r.rows[1], (std::vector<Value>{std::string("b"), int64_t{3}, int64_t{9}, 3.0, int64_t{1}, int64_t{5}, int64_t{3}}));
}

TEST(GroupBy, SumOverflowContinuesInDouble) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {v: int}
  - type: group_by
    aggregates: [{fn: sum, field: v}]
)");
  const auto run = run_chunked(pipeline, "v\n9223372036854775807\n10\n", 64);
  ASSERT_EQ(run.results.at(0).rows.size(), 1u);
  EXPECT_EQ(run.results[0].rows[0][0], Value{9223372036854775817.0});
}

TEST(GroupBy, NonNumericValueRejectsTheWholeRecord) {
  const auto pipeline = pipeline_from_yaml(R"(
on_error: dead_letter
stages:
  - type: csv
    infer_types: true
  - type: group_by
    keys: [k]
    aggregates: [{fn: count}, {fn: sum, field: v}]
)");
  const auto run = run_chunked(pipeline, "k,v\na,1\na,oops\na,2\n", 64);
  EXPECT_EQ(run.results.at(0).rows.at(0)[1], Value{int64_t{2}});  // counted once per accepted record
  EXPECT_EQ(run.summary.counters.records_rejected, 1u);
  EXPECT_EQ(run.summary.counters.records_out, 2u);
  ASSERT_EQ(run.summary.dead_letters.size(), 1u);
  EXPECT_EQ(run.summary.dead_letters[0].field, "v");
  EXPECT_EQ(run.summary.dead_letters[0].origin.line, 3u);
}

TEST(GroupBy, MoreGroupsThanTheLimitFailsWithResourceExhausted) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
  - type: group_by
    keys: [k]
    max_groups: 2
    aggregates: [{fn: count}]
)");
  EXPECT_EQ(stream_error(pipeline, "k\na\nb\nc\n").code(), ErrorCode::ResourceExhausted);
}

TEST(GroupBy, UnknownKeyFieldFailsTheStreamNamingIt) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
  - type: group_by
    keys: [country]
    aggregates: [{fn: count}]
)");
  const Error e = stream_error(pipeline, "k\na\n");
  expect_mentions(e, "'country'");
}

TEST(GroupBy, ConfigIsValidatedStrictly) {
  EXPECT_THROW(pipeline_from_yaml("stages:\n  - type: csv\n  - type: group_by\n    aggregates: [{fn: median, field: v}]\n"),
               config::ConfigError);
  EXPECT_THROW(pipeline_from_yaml("stages:\n  - type: csv\n  - type: group_by\n    aggregates: [{fn: sum}]\n"),
               config::ConfigError);
  EXPECT_THROW(pipeline_from_yaml("stages:\n  - type: csv\n  - type: group_by\n    aggregates: []\n"),
               config::ConfigError);
}

// ---- the aggregate catalogue through the config ----

double exact_lower_quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(std::floor(q * static_cast<double>(values.size() - 1)))];
}

TEST(GroupBy, CatalogueFunctionsMatchAnIndependentComputation) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {user: int, latency: double}
  - type: group_by
    keys: [k]
    aggregates:
      - {fn: count_distinct, field: user}
      - {fn: top_k, field: country, k: 2}
      - {fn: first, field: latency}
      - {fn: last, field: latency}
      - {fn: p50, field: latency}
      - {fn: p90, field: latency}
      - {fn: p99, field: latency}
      - {fn: quantile, field: latency, q: 0.95}
      - {fn: quantile, field: latency, q: 0.999, relative_accuracy: 0.005, as: tail}
)");
  struct Reference {
    std::set<int64_t> users;
    std::map<std::string, int64_t> countries;
    std::vector<double> latencies;
  };
  std::map<std::string, Reference> reference;
  std::mt19937 rng(11);
  std::lognormal_distribution<double> latency(3, 1);
  const std::vector<std::string> countries = {"US", "DE", "FR", "IN"};
  std::string csv = "k,user,country,latency\n";
  for (int i = 0; i < 3000; ++i) {
    const std::string k(1, static_cast<char>('a' + rng() % 3));
    const bool null_user = rng() % 10 == 0, null_latency = rng() % 10 == 0;
    const int64_t user = rng() % 400;
    const std::string& country = countries[rng() % 3 == 0 ? 0 : rng() % countries.size()];
    const double ms = latency(rng);
    csv += fmt::format("{},{},{},{}\n", k, null_user ? "" : std::to_string(user), country,
                       null_latency ? "" : fmt::format("{}", ms));
    Reference& ref = reference[k];
    if (!null_user) ref.users.insert(user);
    ++ref.countries[country];
    if (!null_latency) ref.latencies.push_back(ms);
  }
  const auto run = run_chunked(pipeline, csv, 4096);
  ASSERT_EQ(run.results.size(), 1u);
  const ResultBatch& r = run.results[0];
  EXPECT_EQ(r.columns, (std::vector<std::string>{"k", "count_distinct_user", "top_k_country", "first_latency",
                                                 "last_latency", "p50_latency", "p90_latency", "p99_latency",
                                                 "p95_latency", "tail"}));
  ASSERT_EQ(r.rows.size(), reference.size());
  size_t i = 0;
  for (const auto& [k, ref] : reference) {
    SCOPED_TRACE(k);
    const auto& row = r.rows[i++];
    EXPECT_EQ(row[0], Value{k});
    EXPECT_EQ(row[1], Value{static_cast<int64_t>(ref.users.size())});
    std::vector<std::pair<int64_t, std::string>> ranked;
    for (const auto& [country, count] : ref.countries) ranked.emplace_back(-count, country);
    std::sort(ranked.begin(), ranked.end());
    EXPECT_EQ(row[2], Value{fmt::format("{}:{},{}:{}", ranked[0].second, -ranked[0].first, ranked[1].second,
                                        -ranked[1].first)});
    EXPECT_EQ(row[3], Value{ref.latencies.front()});
    EXPECT_EQ(row[4], Value{ref.latencies.back()});
    const std::vector<std::tuple<size_t, double, double>> quantiles = {
        {5, 0.5, 0.01}, {6, 0.9, 0.01}, {7, 0.99, 0.01}, {8, 0.95, 0.01}, {9, 0.999, 0.005}};
    for (const auto& [column, q, alpha] : quantiles) {
      const double exact = exact_lower_quantile(ref.latencies, q);
      EXPECT_LE(std::abs(std::get<double>(row[column]) - exact), alpha * exact * (1 + 1e-9)) << "q=" << q;
    }
  }
}

// Without a window the engine splits groups by key over parallel partitions; each key's records
// still arrive in input order, so even order-sensitive results (floating-point sums, first, last)
// and the rejections are exactly those of one serial pass.
TEST(GroupBy, PartitionedByKeyGivesExactlyTheSerialResult) {
  const std::string stages = R"(
stages:
  - type: csv
    types: {v: double}
  - type: group_by
    keys: [k, j]
    aggregates:
      - {fn: count}
      - {fn: sum, field: v}
      - {fn: mean, field: v}
      - {fn: first, field: v}
      - {fn: last, field: v}
      - {fn: p99, field: v}
      - {fn: count_distinct, field: w}
      - {fn: top_k, field: w, k: 2}
)";
  const auto serial = pipeline_from_yaml("parallelism: 1\non_error: dead_letter\n" + stages);
  const auto partitioned = pipeline_from_yaml("parallelism: 4\non_error: dead_letter\n" + stages);
  ASSERT_EQ(serial->aggregate->start_partitioned(1), nullptr);
  ASSERT_NE(partitioned->aggregate->start_partitioned(4), nullptr);

  std::mt19937 rng(5);
  std::uniform_real_distribution<double> value(-1e6, 1e6);
  std::string csv = "k,j,v,w\n";
  for (int i = 0; i < 20000; ++i) {
    // Values of very different magnitude: their sum depends on the order they are added in.
    const double v = value(rng) * std::pow(10.0, static_cast<int>(rng() % 12) - 6);
    csv += fmt::format("{},{},{},{}\n", rng() % 50, rng() % 3, rng() % 500 == 0 ? "x" : fmt::format("{}", v),
                       rng() % 20);
  }
  const auto reference = run_chunked(serial, csv, 4096);
  ASSERT_EQ(reference.results.size(), 1u);
  EXPECT_EQ(reference.results[0].rows.size(), 150u);
  EXPECT_GT(reference.summary.counters.records_rejected, 0u);
  for (size_t chunk : {size_t{61}, size_t{4096}, csv.size()}) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(partitioned, csv, chunk);
    ASSERT_EQ(run.results.size(), 1u);
    EXPECT_EQ(run.results[0].columns, reference.results[0].columns);
    EXPECT_EQ(run.results[0].rows, reference.results[0].rows);
    const Counters& c = run.summary.counters;
    const Counters& want = reference.summary.counters;
    EXPECT_EQ(c.records_in, want.records_in);
    EXPECT_EQ(c.records_out, want.records_out);
    EXPECT_EQ(c.records_rejected, want.records_rejected);
    EXPECT_EQ(c.rejected_by_reason, want.rejected_by_reason);
    ASSERT_EQ(run.summary.dead_letters.size(), reference.summary.dead_letters.size());
    for (size_t i = 0; i < run.summary.dead_letters.size(); ++i) {
      EXPECT_EQ(run.summary.dead_letters[i].origin.line, reference.summary.dead_letters[i].origin.line);
    }
  }
}

// An int key and a double key that compare equal are one group, serial or split over partitions
// (whose routing hashes the key in one place and looks it up in another).
TEST(GroupBy, KeysThatCompareEqualAreOneGroupWhateverTheirTypeAndTheParallelism) {
  for (const char* parallelism : {"1", "4"}) {
    SCOPED_TRACE(parallelism);
    const auto pipeline = pipeline_from_yaml(std::string("parallelism: ") + parallelism + R"(
stages:
  - type: csv
    infer_types: true
  - type: group_by
    keys: [k, j]
    aggregates:
      - {fn: count}
)");
    std::string csv = "k,j\n";
    for (int i = 0; i < 300; ++i) csv += fmt::format("{},{}\n", i % 3 == 0 ? "7" : "7.0", i % 2 == 0 ? "x" : "y");
    const auto run = run_chunked(pipeline, csv, 97);
    ASSERT_EQ(run.results.size(), 1u);
    const auto& rows = run.results[0].rows;
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(as_double(rows[0][0]), 7.0);
    EXPECT_EQ(rows[0][1], Value{std::string("x")});
    EXPECT_EQ(rows[0][2], Value{int64_t{150}});
    EXPECT_EQ(rows[1][1], Value{std::string("y")});
    EXPECT_EQ(rows[1][2], Value{int64_t{150}});
  }
}

TEST(GroupBy, WindowsAreNotPartitioned) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: lines
  - type: group_by
    aggregates: [{fn: count}]
    window: {type: tumbling_count, size: 10}
)");
  EXPECT_EQ(pipeline->aggregate->start_partitioned(4), nullptr);
}

TEST(GroupBy, SketchesRejectRecordsWithInfiniteValues) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {latency: double}
  - type: group_by
    aggregates: [{fn: count}, {fn: p99, field: latency}, {fn: sum, field: latency}]
)");
  const auto run = run_chunked(pipeline, "latency\n1\ninf\n3\n", 64);
  EXPECT_EQ(run.results.at(0).rows.at(0)[0], Value{int64_t{2}});
  EXPECT_EQ(run.results[0].rows[0][2], Value{4.0});  // sum would accept inf: the record is rejected whole
  ASSERT_EQ(run.summary.counters.rejected_by_reason.size(), 1u);
  EXPECT_EQ(run.summary.counters.rejected_by_reason.begin()->first.rfind("p99 needs a finite number, got double", 0), 0u)
      << run.summary.counters.rejected_by_reason.begin()->first;
}

TEST(GroupBy, TooManyDistinctValuesFailTheStreamNamingFieldAndLine) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
  - type: group_by
    aggregates: [{fn: count_distinct, field: u, max_distinct: 2}]
)");
  const Error e = stream_error(pipeline, "u\n1\n2\n1\n3\n");
  EXPECT_EQ(e.code(), ErrorCode::ResourceExhausted);
  expect_mentions(e, "count_distinct of 'u'");
  expect_mentions(e, "line 5");
}

TEST(GroupBy, AggregateOptionsAreCheckedAtTheirLineAndColumn) {
  const std::string prefix = "stages:\n  - type: csv\n  - type: group_by\n    aggregates:\n";
  struct Case {
    std::string item;
    int line, column;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"      - fn: sum\n        field: v\n        q: 0.5\n", 7, 9, "'q' does not apply to aggregate 'sum' (it takes no options)"},
      {"      - fn: count_distinct\n        field: v\n        relative_accuracy: 0.1\n", 7, 9,
       "'relative_accuracy' does not apply to aggregate 'count_distinct' (it takes: max_distinct)"},
      {"      - fn: p50\n        field: v\n        max_distinct: 5\n", 7, 9, "(it takes: relative_accuracy)"},
      {"      - fn: first\n        field: v\n        k: 2\n", 7, 9, "'k' does not apply to aggregate 'first'"},
      {"      - fn: quantile\n        field: v\n", 5, 9, "aggregate 'quantile' needs `q`"},
      {"      - fn: quantile\n        field: v\n        q: 1.5\n", 7, 12, "q must be between 0 and 1"},
      {"      - fn: top_k\n        field: v\n        k: 0\n", 7, 12, "k must be positive"},
      {"      - fn: top_k\n        field: v\n        max_distinct: -1\n", 7, 23, "max_distinct must be positive"},
      {"      - fn: p99\n        field: v\n        relative_accuracy: 0.0001\n", 7, 28, "at least 0.001"},
      {"      - fn: p99\n        field: v\n        quantile: 0.5\n", 7, 9, "unknown key 'quantile'"},
  };
  for (const Case& c : cases) expect_config_error(prefix + c.item, c.line, c.column, c.message);
}

// ---- windows ----

// One line per result: "[start,end) key,agg...; key,agg..." ("all" when not windowed).
std::string render(const std::vector<ResultBatch>& results) {
  std::string out;
  for (const ResultBatch& r : results) {
    out += r.windowed ? fmt::format("[{},{})", r.window_start, r.window_end) : std::string("all");
    for (size_t i = 0; i < r.rows.size(); ++i) {
      out += i ? "; " : " ";
      for (size_t c = 0; c < r.rows[i].size(); ++c) out += (c ? "," : "") + to_display(r.rows[i][c]);
    }
    out += "\n";
  }
  return out;
}

TEST(GroupByWindows, CountWindowsCloseEverySizeRecordsThatReachTheAggregate) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    infer_types: true
  - type: filter
    where: k != 'skip'
  - type: group_by
    keys: [k]
    window: {type: tumbling_count, size: 3}
    aggregates: [{fn: count}, {fn: sum, field: v}, {fn: first, field: v}]
)");
  // Filtered and rejected records take no index; the last window is partial.
  const std::string csv = "k,v\na,1\nskip,100\nb,2\na,x\na,3\nb,4\nb,5\nc,6\na,7\n";
  const std::string expected = "[0,3) a,2,4,1; b,1,2,2\n[3,6) b,2,9,4; c,1,6,6\n[6,7) a,1,7,7\n";
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{64}, size_t{4096}}) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, csv, chunk);
    EXPECT_EQ(render(run.results), expected);
    EXPECT_EQ(run.summary.counters.records_rejected, 1u);
    EXPECT_EQ(run.summary.counters.records_filtered, 1u);
  }
  EXPECT_EQ(render(run_chunked(pipeline, "k,v\n", 64).results), "");  // no records, no windows
}

constexpr const char* kTimeWindowYaml = R"(
on_error: dead_letter
stages:
  - type: csv
    infer_types: true
  - type: group_by
    keys: [k]
    window: {type: tumbling_time, field: t, unit: s, size: 10s, allowed_lateness: 5s}
    aggregates: [{fn: count}]
)";

TEST(GroupByWindows, TimeWindowsCloseAfterTheLatenessAndRejectLateRecords) {
  const auto pipeline = pipeline_from_yaml(kTimeWindowYaml);
  const std::string csv =
      "t,k\n"
      "-1,d\n"   // line 2: [-10,0)
      "0,a\n"    // [0,10)
      "12,b\n"   // [10,20); 12 > 0 + 5 closes [-10,0)
      "3,a\n"    // [0,10) is still open: 12 <= 10 + 5
      "16,c\n"   // 16 > 15 closes [0,10)
      "9,a\n"    // line 7: late
      ",a\n"     // line 8: no time
      "x,a\n"    // line 9: not an int
      "25,e\n"   // 25 is not past 20 + 5: [10,20) stays open
      "26,f\n";  // closes [10,20); [20,30) is emitted at the end
  const std::string expected = "[-10,0) d,1\n[0,10) a,2\n[10,20) b,1; c,1\n[20,30) e,1; f,1\n";
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{64}, size_t{4096}}) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, csv, chunk);
    EXPECT_EQ(render(run.results), expected);
    const Counters& c = run.summary.counters;
    EXPECT_EQ(c.records_rejected, 3u);
    EXPECT_EQ(c.records_out, 7u);
    EXPECT_EQ(c.rejected_by_reason, (std::map<std::string, uint64_t>{{"late record for a closed window", 1},
                                                                     {"null event time", 1},
                                                                     {"event time must be an int, got string", 1}}));
    ASSERT_EQ(run.summary.dead_letters.size(), 3u);
    for (const Rejection& r : run.summary.dead_letters) EXPECT_EQ(r.field, "t");
    EXPECT_EQ(run.summary.dead_letters[0].origin.line, 7u);
  }
}

TEST(GroupByWindows, TimeSizesAreInTheUnitOfTheTimeField) {
  const std::string csv = "ts\n999\n1000\n2500\n";
  const auto in_ms = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {ts: int}
  - type: group_by
    window: {type: tumbling_time, field: ts, size: 1s}
    aggregates: [{fn: count}]
)");
  EXPECT_EQ(render(run_chunked(in_ms, csv, 64).results), "[0,1000) 1\n[1000,2000) 1\n[2000,3000) 1\n");
  const auto in_us = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {ts: int}
  - type: group_by
    window: {type: tumbling_time, field: ts, unit: us, size: 2ms}
    aggregates: [{fn: count}]
)");
  EXPECT_EQ(render(run_chunked(in_us, csv, 64).results), "[0,2000) 2\n[2000,4000) 1\n");
}

struct Event {
  int64_t time;
  std::string key;
  int64_t value;
};

// The windowing rule, straight from its definition: a record is late when the largest time seen
// before it is past its window's end + lateness; every window that got a record is reported, with
// count and sum per key.
std::vector<ResultBatch> reference_time_windows(const std::vector<Event>& events, int64_t size, int64_t lateness,
                                                uint64_t& late) {
  std::map<int64_t, std::map<std::string, std::pair<int64_t, int64_t>>> windows;
  std::optional<int64_t> max_time;
  late = 0;
  for (const Event& e : events) {
    const int64_t start = static_cast<int64_t>(std::floor(static_cast<double>(e.time) / static_cast<double>(size))) * size;
    if (max_time && *max_time > start + size + lateness) {
      ++late;
      continue;
    }
    auto& [count, sum] = windows[start][e.key];
    ++count;
    sum += e.value;
    max_time = std::max(max_time.value_or(e.time), e.time);
  }
  std::vector<ResultBatch> out;
  for (const auto& [start, groups] : windows) {
    ResultBatch& window = out.emplace_back(ResultBatch{{"k", "count", "sum_v"}, {}, true, start, start + size});
    for (const auto& [key, aggregates] : groups) window.rows.push_back({key, aggregates.first, aggregates.second});
  }
  return out;
}

TEST(GroupByWindows, OutOfOrderEventsMatchTheReferenceRuleForEveryChunkSize) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {t: int, v: int}
  - type: group_by
    keys: [k]
    window: {type: tumbling_time, field: t, size: 10s, allowed_lateness: 2s}
    aggregates: [{fn: count}, {fn: sum, field: v}]
)");
  std::mt19937 rng(12);
  std::vector<Event> events;
  int64_t clock = -30'000;
  std::string csv = "t,k,v\n";
  for (int i = 0; i < 3000; ++i) {
    clock += rng() % 100;
    // Mostly in order, some up to 5 s behind: those beyond the 2 s lateness may be late.
    const int64_t time = rng() % 8 == 0 ? clock - static_cast<int64_t>(rng() % 5000) : clock;
    events.push_back({time, std::string(1, static_cast<char>('a' + rng() % 4)), static_cast<int64_t>(rng() % 1000)});
    csv += fmt::format("{},{},{}\n", time, events.back().key, events.back().value);
  }
  uint64_t late = 0;
  const std::string expected = render(reference_time_windows(events, 10'000, 2'000, late));
  ASSERT_GT(late, 0u);
  ASSERT_GT(std::count(expected.begin(), expected.end(), '\n'), 10);  // ~150 s of events
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{64}, size_t{4096}}) {
    SCOPED_TRACE(chunk);
    const auto run = run_chunked(pipeline, csv, chunk);
    EXPECT_EQ(render(run.results), expected);
    EXPECT_EQ(run.summary.counters.records_rejected, late);
    EXPECT_EQ(run.summary.counters.rejected_by_reason.at("late record for a closed window"), late);
  }
}

// Streams `input` without ending it and returns the first result emitted, then ends the input
// and returns everything.
std::pair<std::string, std::string> first_result_before_finish(const PipelinePtr& pipeline, const std::string& input) {
  std::mutex mu;
  std::condition_variable changed;
  std::vector<ResultBatch> results;
  std::optional<Status> finished;
  Stream* stream_ptr = nullptr;
  Stream::Callbacks callbacks;
  callbacks.on_result = [&](ResultBatch&& result) {
    {
      std::lock_guard lock(mu);
      results.push_back(std::move(result));
    }
    stream_ptr->result_consumed();
    changed.notify_all();
  };
  callbacks.on_finish = [&](const Status& status) {
    std::lock_guard lock(mu);
    finished = status;
    changed.notify_all();
  };
  Stream stream(pipeline, {}, std::move(callbacks));
  stream_ptr = &stream;
  stream.push(input);
  std::unique_lock lock(mu);
  // A bound, not a sleep: the wait ends as soon as the result arrives.
  if (!changed.wait_for(lock, std::chrono::seconds(60), [&] { return !results.empty() || finished; })) {
    ADD_FAILURE() << "no result before the end of the input";
    return {};
  }
  EXPECT_FALSE(finished) << "the stream finished before finish() was called";
  std::string first = render(results);
  lock.unlock();
  stream.finish();
  lock.lock();
  changed.wait_for(lock, std::chrono::seconds(60), [&] { return finished.has_value(); });
  EXPECT_TRUE(finished && finished->ok());
  return {first, render(results)};
}

TEST(GroupByWindows, WindowsAreEmittedAsTheyCloseWhileTheInputIsOpen) {
  const auto by_count = pipeline_from_yaml(R"(
stages:
  - type: csv
  - type: group_by
    keys: [k]
    window: {type: tumbling_count, size: 2}
    aggregates: [{fn: count}]
)");
  EXPECT_EQ(first_result_before_finish(by_count, "k\na\nb\nc\n"),
            std::make_pair(std::string("[0,2) a,1; b,1\n"), std::string("[0,2) a,1; b,1\n[2,3) c,1\n")));

  const auto by_time = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {t: int}
  - type: group_by
    window: {type: tumbling_time, field: t, size: 10ms, allowed_lateness: 5ms}
    aggregates: [{fn: count}]
)");
  EXPECT_EQ(first_result_before_finish(by_time, "t\n1\n9\n16\n"),
            std::make_pair(std::string("[0,10) 2\n"), std::string("[0,10) 2\n[10,20) 1\n")));
}

TEST(GroupByWindows, MaxGroupsBoundsTheGroupsOfAllOpenWindows) {
  // Closed windows give their groups back: three windows of two groups fit max_groups: 2.
  const auto by_count = pipeline_from_yaml(R"(
stages:
  - type: csv
  - type: group_by
    keys: [k]
    max_groups: 2
    window: {type: tumbling_count, size: 2}
    aggregates: [{fn: count}]
)");
  EXPECT_EQ(run_chunked(by_count, "k\na\nb\nc\nd\ne\nf\n", 64).results.size(), 3u);
  // Windows held open by the lateness share the limit.
  const auto by_time = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {t: int}
  - type: group_by
    keys: [k]
    max_groups: 2
    window: {type: tumbling_time, field: t, size: 10ms, allowed_lateness: 1s}
    aggregates: [{fn: count}]
)");
  const Error e = stream_error(by_time, "t,k\n0,a\n0,b\n10,c\n");
  EXPECT_EQ(e.code(), ErrorCode::ResourceExhausted);
  expect_mentions(e, "line 4");
}

TEST(GroupByWindows, MissingTimeFieldFailsTheStreamNamingIt) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
  - type: group_by
    window: {type: tumbling_time, field: timestamp, size: 1m}
    aggregates: [{fn: count}]
)");
  const Error e = stream_error(pipeline, "t\n1\n");
  expect_mentions(e, "window field 'timestamp'");
}

TEST(GroupByWindows, WindowConfigErrorsPointAtTheirLineAndColumn) {
  const std::string prefix = "stages:\n  - type: csv\n  - type: group_by\n    aggregates: [{fn: count}]\n    window: ";
  struct Case {
    std::string window;
    std::string at;  // the text the error must point at, on line 5
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{type: tumbling_time, field: t, size: 60x}", "60x", "expected a duration such as 500ms, 60s, 5m or 1h"},
      {"{type: tumbling_time, field: t, size: 60}", "60}", "expected a duration"},
      {"{type: tumbling_time, field: t, size: 1h, allowed_lateness: -5s}", "-5s", "expected a duration"},
      {"{type: tumbling_time, field: t, unit: s, size: 1500ms}", "1500ms", "1500ms is not a whole number of s"},
      {"{type: tumbling_time, field: t, unit: ns, size: 1s}", "ns", "unknown time unit 'ns' (known: s, ms, us)"},
      {"{type: tumbling_time, field: t, size: 0s}", "0s", "window size must be positive"},
      {"{type: tumbling_time, size: 1s}", "{", "window 'tumbling_time' needs the key 'field'"},
      {"{type: sliding, size: 10}", "sliding", "unknown window type 'sliding' (known: tumbling_count, tumbling_time)"},
      {"{type: tumbling_count, size: 0}", "0}", "window size must be a positive number of records"},
      {"{type: tumbling_count, size: 10, allowed_lateness: 1s}", "allowed_lateness", "unknown key 'allowed_lateness'"},
      {"tumbling_count", "tumbling_count", "window must be a map"},
  };
  for (const Case& c : cases) {
    const int column = static_cast<int>(std::string("    window: ").size() + c.window.find(c.at) + 1);
    expect_config_error(prefix + c.window + "\n", 5, column, c.message);
  }
}

TEST(GroupByWindows, ExampleConfigBuildsAndWindowsTheSampleLog) {
  const auto pipelines = build_pipelines(
      config::load_file(SLUICE_SOURCE_DIR "/config/examples/windows.yaml").require("pipelines", "config"),
      StageRegistry::with_builtins());
  std::ifstream in(SLUICE_SOURCE_DIR "/samples/access_log.csv", std::ios::binary);
  const std::string csv((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(csv.empty());
  for (const auto& [name, pipeline] : pipelines) {
    SCOPED_TRACE(name);
    const auto run = run_chunked(pipeline, csv, 65536);
    ASSERT_GT(run.results.size(), 1u);
    for (size_t i = 0; i < run.results.size(); ++i) {
      EXPECT_TRUE(run.results[i].windowed);
      EXPECT_LT(run.results[i].window_start, run.results[i].window_end);
      if (i > 0) {
        EXPECT_LE(run.results[i - 1].window_end, run.results[i].window_start);
      }
    }
    EXPECT_EQ(run.summary.counters.records_rejected, 0u);
  }
}

}  // namespace
}  // namespace sluice::pipeline
