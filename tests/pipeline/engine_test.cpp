#include "pipeline/engine.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pipeline/stages/filter.h"
#include "support/access_log.h"
#include "support/pipeline_harness.h"

namespace sluice::pipeline {
namespace {

using namespace sluice::testing;

std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> as_map(const ResultBatch& r) {
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> out;
  for (const auto& row : r.rows) {
    out[{std::get<std::string>(row[0]), std::get<int64_t>(row[1])}] = {std::get<int64_t>(row[2]),
                                                                        std::get<int64_t>(row[3])};
  }
  return out;
}

// Every chunk through the graph's nodes; by default small chunks run on the pushing thread.
constexpr StreamLimits kThroughTheGraph{.max_inline_chunk_bytes = 0};

TEST(Engine, EveryChunkSizeGivesTheIndependentlyComputedAggregates) {
  const auto records = make_access_records(3000, 1);
  const std::string csv = to_csv(records);
  const auto expected = expected_error_aggregates(records);
  const auto pipeline = pipeline_from_yaml(kErrorsPipelineYaml);
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, size_t{4096}, csv.size()}) {
    for (const StreamLimits& limits : {kThroughTheGraph, StreamLimits{}}) {
      SCOPED_TRACE(fmt::format("chunk {}, inline up to {}", chunk, limits.max_inline_chunk_bytes));
      const auto run = run_chunked(pipeline, csv, chunk, limits);
      ASSERT_EQ(run.results.size(), 1u);
      EXPECT_EQ(as_map(run.results[0]), expected);
      const Counters& c = run.summary.counters;
      EXPECT_EQ(c.records_in, records.size());
      EXPECT_EQ(c.records_in, c.records_out + c.records_filtered + c.records_rejected);
      EXPECT_EQ(c.bytes_in, csv.size());
    }
  }
}

TEST(Engine, InFlightChunksNeverExceedTheBudget) {
  const std::string csv = to_csv(make_access_records(20000, 2));
  const auto pipeline = pipeline_from_yaml(kErrorsPipelineYaml);
  StreamLimits limits = kThroughTheGraph;  // chunks pushed inline are done before push returns
  limits.max_chunks_in_flight = 3;
  size_t peak = 0;
  {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Stream* stream_ptr = nullptr;
    Stream::Callbacks callbacks;
    callbacks.on_result = [&](ResultBatch&&) { stream_ptr->result_consumed(); };
    callbacks.on_room = [&] {
      std::lock_guard lock(mu);
      cv.notify_all();
    };
    callbacks.on_finish = [&](const Status& s) {
      EXPECT_TRUE(s.ok()) << s.message;
      std::lock_guard lock(mu);
      done = true;
      cv.notify_all();
    };
    Stream stream(pipeline, limits, callbacks);
    stream_ptr = &stream;
    for (size_t pos = 0; pos < csv.size(); pos += 512) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return stream.has_room(); });
      lock.unlock();
      stream.push(csv.substr(pos, 512));
      EXPECT_LE(stream.chunks_in_flight(), limits.max_chunks_in_flight);
    }
    stream.finish();
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
    peak = stream.peak_chunks_in_flight();
  }
  EXPECT_LE(peak, limits.max_chunks_in_flight);
  EXPECT_GE(peak, 1u);
}

TEST(Engine, CancelStopsTheStreamAndReportsTheStatusOnce) {
  const auto pipeline = pipeline_from_yaml(kErrorsPipelineYaml);
  std::atomic<int> finishes{0};
  Status reported;
  Stream::Callbacks callbacks;
  callbacks.on_result = [](ResultBatch&&) { ADD_FAILURE() << "a cancelled stream must not emit its aggregate"; };
  callbacks.on_finish = [&](const Status& s) {
    ++finishes;
    reported = s;
  };
  Stream stream(pipeline, {}, callbacks);
  stream.push("country,status,bytes,agent\nUS,404,1,x\n");
  stream.cancel({ErrorCode::Cancelled, "client went away"});
  stream.finish();  // ignored after cancel
  stream.push("more");
  stream.close();
  EXPECT_EQ(finishes.load(), 1);
  EXPECT_EQ(reported.code, ErrorCode::Cancelled);
  EXPECT_FALSE(stream.has_room());
}

TEST(Engine, PendingResultsBoundStopsRoom) {
  // Without an aggregate every block's records are a result; unconsumed results close the budget.
  const auto pipeline = pipeline_from_yaml("stages:\n  - type: csv\n");
  StreamLimits limits;
  limits.max_pending_results = 2;
  std::mutex mu;
  std::condition_variable cv;
  int results = 0;
  Stream::Callbacks callbacks;
  callbacks.on_result = [&](ResultBatch&&) {
    std::lock_guard lock(mu);
    ++results;
    cv.notify_all();
  };
  callbacks.on_finish = [](const Status&) {};
  Stream stream(pipeline, limits, callbacks);
  stream.push("a\n1\n");
  stream.push("2\n");
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return results == 2; });
  }
  EXPECT_FALSE(stream.has_room());  // two results are waiting to be consumed
  stream.result_consumed();
  EXPECT_TRUE(stream.has_room());
}

TEST(Engine, RecordLongerThanMaxRecordBytesFailsLoudly) {
  const auto pipeline = pipeline_from_yaml("max_record_bytes: 16\nstages:\n  - type: csv\n");
  try {
    run_chunked(pipeline, "a\n" + std::string(100, 'x') + "\n", 8);
    FAIL() << "expected failure";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("max_record_bytes"), std::string::npos);
  }
}

TEST(Engine, DistinctRejectionReasonsAreBoundedAndEveryRejectionIsStillCounted) {
  const auto pipeline = pipeline_from_yaml("max_rejection_reasons: 5\nstages:\n  - type: csv\n    types: {n: int}\n");
  std::string csv = "n\n";
  for (int i = 0; i < 1000; ++i) csv += "bad" + std::to_string(i) + "\n1\n";  // each bad value is its own reason
  const auto run = run_chunked(pipeline, csv, 64);
  const Counters& c = run.summary.counters;
  EXPECT_EQ(c.records_rejected, 1000u);
  EXPECT_EQ(c.records_out, 1000u);
  ASSERT_EQ(c.rejected_by_reason.size(), 6u);
  EXPECT_EQ(c.rejected_by_reason.at("expected int, got 'bad0'"), 1u);
  EXPECT_EQ(c.rejected_by_reason.at(std::string(kOtherRejectionReasons)), 995u);
}

TEST(Engine, ALongBadValueIsClippedInTheReasonOnAUtf8Boundary) {
  const auto pipeline =
      pipeline_from_yaml("on_error: dead_letter\nstages:\n  - type: csv\n    types: {n: int}\n");
  const std::string long_value = std::string(180, 'x') + "\xC3\xA9" + std::string(10000, 'y');
  const auto run = run_chunked(pipeline, "n\n" + long_value + "\n", 4096);
  ASSERT_EQ(run.summary.counters.rejected_by_reason.size(), 1u);
  const std::string& reason = run.summary.counters.rejected_by_reason.begin()->first;
  // "expected int, got '" is 19 bytes, so the é takes bytes 199 and 200: the cut backs up before it.
  EXPECT_EQ(reason, "expected int, got '" + std::string(180, 'x') + "...");
  ASSERT_EQ(run.summary.dead_letters.size(), 1u);
  EXPECT_EQ(run.summary.dead_letters[0].reason, reason);
  EXPECT_LE(run.summary.dead_letters[0].record.size(), 256u);
}

TEST(Engine, ConcurrentStreamsAreIndependent) {
  const auto pipeline = pipeline_from_yaml(kErrorsPipelineYaml);
  std::vector<std::thread> threads;
  std::atomic<int> correct{0};
  for (uint32_t seed = 0; seed < 8; ++seed) {
    threads.emplace_back([&, seed] {
      const auto records = make_access_records(2000, 100 + seed);
      const auto run = run_chunked(pipeline, to_csv(records), 100 + seed * 37);
      if (run.results.size() == 1 && as_map(run.results[0]) == expected_error_aggregates(records)) ++correct;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(correct.load(), 8);
}

// A partitioned aggregate that records which input lines each partition consumed, and reports
// per partition: how many, and whether they came in input order.
class LineLog : public AggregateStage {
 public:
  std::unique_ptr<Aggregator> start_stream() const override {
    ADD_FAILURE() << "the engine must use the partitioned form";
    return nullptr;
  }
  std::unique_ptr<PartitionedAggregator> start_partitioned(size_t partitions) const override {
    return std::make_unique<Partitioned>(partitions);
  }

 private:
  struct Partitioned : PartitionedAggregator {
    explicit Partitioned(size_t partitions) : lines(partitions) {}
    void route(RecordBatch& batch, std::vector<uint64_t>& route_of_row) const override {
      route_of_row.resize(batch.rows());
      for (size_t r = 0; r < batch.rows(); ++r) route_of_row[r] = batch.origins[r].line % lines.size();
    }
    void consume(size_t partition, const RecordBatch& batch, std::span<const uint64_t> route_of_row) override {
      for (size_t r = 0; r < batch.rows(); ++r) {
        if (route_of_row[r] == partition) lines[partition].push_back(batch.origins[r].line);
      }
    }
    void finish(const Emit& emit) override {
      ResultBatch result;
      result.columns = {"partition", "lines", "in_input_order", "all_of_this_partition"};
      for (size_t p = 0; p < lines.size(); ++p) {
        const auto& seen = lines[p];
        const bool own = std::all_of(seen.begin(), seen.end(), [&](uint64_t line) { return line % lines.size() == p; });
        result.rows.push_back({Value{int64_t(p)}, Value{int64_t(seen.size())},
                               Value{std::is_sorted(seen.begin(), seen.end())}, Value{own}});
      }
      emit(std::move(result));
    }
    std::vector<std::vector<uint64_t>> lines;
  };
};

TEST(Engine, EachPartitionOfAnAggregateSeesItsRecordsInInputOrderAndFinishSeesThemAll) {
  pipeline::StageRegistry registry = pipeline::StageRegistry::with_builtins();
  registry.add("line_log", StageKind::Aggregate, "test", [](const config::Node&) -> StagePtr {
    return std::make_shared<const LineLog>();
  });
  const auto pipeline = pipeline_from_yaml("parallelism: 4\nstages:\n  - type: lines\n  - type: line_log\n", registry);
  std::string input;
  constexpr int kLines = 20000;
  for (int i = 0; i < kLines; ++i) input += fmt::format("record {}\n", i);
  for (size_t chunk : {size_t{7}, size_t{100}, size_t{4096}}) {
    for (const StreamLimits& limits : {kThroughTheGraph, StreamLimits{}}) {
      SCOPED_TRACE(fmt::format("chunk {}, inline up to {}", chunk, limits.max_inline_chunk_bytes));
      const auto run = run_chunked(pipeline, input, chunk, limits);
      ASSERT_EQ(run.results.size(), 1u);
      ASSERT_EQ(run.results[0].rows.size(), 4u);
      int64_t total = 0;
      for (const auto& row : run.results[0].rows) {
        SCOPED_TRACE(to_display(row[0]));
        EXPECT_GT(std::get<int64_t>(row[1]), 0);
        EXPECT_TRUE(std::get<bool>(row[2])) << "out of input order";
        EXPECT_TRUE(std::get<bool>(row[3])) << "a record of another partition";
        total += std::get<int64_t>(row[1]);
      }
      EXPECT_EQ(total, kLines);
      EXPECT_EQ(run.summary.counters.records_out, uint64_t{kLines});
    }
  }
}

// A filter that counts the batches it is given: whether the engine ran it, or a parser applied its
// predicate instead.
class CountedFilter : public TransformStage {
 public:
  CountedFilter(const FilterConfig& config, std::shared_ptr<std::atomic<int>> applied)
      : filter_(config), applied_(std::move(applied)) {}
  void apply(RecordBatch& batch) const override {
    ++*applied_;
    filter_.apply(batch);
  }
  std::optional<std::vector<std::string>> fields_read() const override { return filter_.fields_read(); }
  const expr::Expression* row_predicate() const override { return filter_.row_predicate(); }

 private:
  FilterStage filter_;
  std::shared_ptr<std::atomic<int>> applied_;
};

// A filter first in line is applied by a parser that can (csv), and the filter itself then never
// runs, with the same aggregates and counts; after a parser that cannot (lines), it runs.
TEST(Engine, AFilterFirstInLineIsAppliedByTheParserWhenItCan) {
  auto applied = std::make_shared<std::atomic<int>>(0);
  pipeline::StageRegistry registry = pipeline::StageRegistry::with_builtins();
  registry.add("counted_filter", StageKind::Transform, "test", [applied](const config::Node& node) -> StagePtr {
    return std::make_shared<const CountedFilter>(FilterConfig::from_yaml(node), applied);
  });
  const auto records = make_access_records(3000, 3);
  const std::string csv = to_csv(records);
  const auto expected = expected_error_aggregates(records);
  const auto errors = static_cast<uint64_t>(
      std::count_if(records.begin(), records.end(), [](const AccessRecord& r) { return r.status >= 400; }));
  std::string errors_yaml = kErrorsPipelineYaml;
  errors_yaml.replace(errors_yaml.find("type: filter"), 12, "type: counted_filter");
  const auto parsed_and_filtered = pipeline_from_yaml(errors_yaml, registry);
  for (size_t chunk : {size_t{7}, size_t{4096}}) {
    for (const StreamLimits& limits : {kThroughTheGraph, StreamLimits{}}) {
      SCOPED_TRACE(fmt::format("chunk {}, inline up to {}", chunk, limits.max_inline_chunk_bytes));
      const auto run = run_chunked(parsed_and_filtered, csv, chunk, limits);
      ASSERT_EQ(run.results.size(), 1u);
      EXPECT_EQ(as_map(run.results[0]), expected);
      const Counters& c = run.summary.counters;
      EXPECT_EQ(c.records_in, records.size());
      EXPECT_EQ(c.records_out, errors);
      EXPECT_EQ(c.records_filtered, records.size() - errors);
      EXPECT_EQ(c.records_rejected, 0u);
    }
  }
  EXPECT_EQ(applied->load(), 0);

  const auto lines = pipeline_from_yaml(
      "stages:\n  - type: lines\n  - type: counted_filter\n    where: line startswith 'keep'\n", registry);
  const auto run = run_chunked(lines, "keep 1\ndrop 2\nkeep 3\n", 64);
  EXPECT_GT(applied->load(), 0);
  EXPECT_EQ(all_rows(run.results),
            (std::vector<std::vector<Value>>{{Value{std::string("keep 1")}}, {Value{std::string("keep 3")}}}));
  EXPECT_EQ(run.summary.counters.records_filtered, 1u);
}

// An aggregate that holds the first batch it is given until released, so that a test can look
// at a stream's budget while a batch is in flight.
class HoldFirstBatch : public AggregateStage {
 public:
  struct Gate {
    std::mutex mu;
    std::condition_variable changed;
    bool holding = false;
    bool released = false;
    size_t rows_held = 0;
  };
  explicit HoldFirstBatch(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {}
  std::unique_ptr<Aggregator> start_stream() const override { return std::make_unique<Hold>(gate_); }

 private:
  struct Hold : Aggregator {
    explicit Hold(std::shared_ptr<Gate> g) : gate(std::move(g)) {}
    void consume(RecordBatch& batch, const Emit&) override {
      std::unique_lock lock(gate->mu);
      if (gate->holding || gate->released) return;
      gate->holding = true;
      gate->rows_held = batch.rows();
      gate->changed.notify_all();
      gate->changed.wait(lock, [&] { return gate->released; });
    }
    void finish(const Emit&) override {}
    std::shared_ptr<Gate> gate;
  };
  std::shared_ptr<Gate> gate_;
};

// The bytes in flight are the chunks' text and the batches parsed from it: a chunk whose batch
// takes more memory than its text closes the budget that its text alone would leave open, and
// every byte counted is given back once the sink is done with it.
TEST(Engine, BytesInFlightCountTheBatchesParsedFromTheChunksNotOnlyTheirText) {
  auto gate = std::make_shared<HoldFirstBatch::Gate>();
  pipeline::StageRegistry registry = pipeline::StageRegistry::with_builtins();
  registry.add("hold_first_batch", StageKind::Aggregate, "test",
               [gate](const config::Node&) -> StagePtr { return std::make_shared<const HoldFirstBatch>(gate); });
  const auto pipeline = pipeline_from_yaml(
      "stages:\n  - type: csv\n    types: {status: int, bytes: int}\n  - type: hold_first_batch\n", registry);
  const std::string csv = to_csv(make_access_records(300, 3));
  StreamLimits limits = kThroughTheGraph;
  limits.max_bytes_in_flight = 2 * csv.size();  // the text alone would leave room for a second chunk

  std::mutex mu;
  std::condition_variable changed;
  bool finished = false;
  Stream::Callbacks callbacks;
  callbacks.on_result = [](ResultBatch&&) {};
  callbacks.on_finish = [&](const Status& s) {
    EXPECT_TRUE(s.ok()) << s.message;
    std::lock_guard lock(mu);
    finished = true;
    changed.notify_all();
  };
  callbacks.on_room = [&] {
    std::lock_guard lock(mu);
    changed.notify_all();
  };
  Stream stream(pipeline, limits, callbacks);
  stream.push(csv);
  {
    std::unique_lock lock(gate->mu);
    gate->changed.wait(lock, [&] { return gate->holding; });
  }
  const size_t width = 4;  // country, status, bytes and agent, all kept: no stage names the fields it reads
  EXPECT_EQ(gate->rows_held, 300u);
  EXPECT_GE(stream.bytes_in_flight(), csv.size() + gate->rows_held * (width * sizeof(Value) + sizeof(Origin)));
  EXPECT_FALSE(stream.has_room());
  {
    std::lock_guard lock(gate->mu);
    gate->released = true;
    gate->changed.notify_all();
  }
  {
    std::unique_lock lock(mu);
    changed.wait(lock, [&] { return stream.has_room(); });
  }
  EXPECT_EQ(stream.bytes_in_flight(), 0u);
  stream.finish();
  std::unique_lock lock(mu);
  changed.wait(lock, [&] { return finished; });
  EXPECT_EQ(stream.bytes_in_flight(), 0u);
}

std::string counters_and_dead_letters(const Summary& summary) {
  const Counters& c = summary.counters;
  std::string out = fmt::format("{} {} {} {} {}\n", c.records_in, c.records_out, c.records_filtered, c.records_rejected,
                                c.results_emitted);
  for (const Rejection& r : summary.dead_letters) {
    out += fmt::format("{}:{} {} {}\n", r.origin.line, r.origin.offset, r.field, r.reason);
  }
  return out;
}

// A small chunk pushed into a stream with nothing in flight is processed before push() returns,
// on the pushing thread; a bigger one, or any chunk with inlining off, goes to the graph's
// workers. Either way the results, counters and dead letters are the same.
TEST(Engine, SmallChunksIntoAnIdleStreamRunOnThePushingThreadWithTheGraphsResults) {
  const std::string records_yaml =
      "on_error: dead_letter\nstages:\n  - type: csv\n    types: {status: int, bytes: int}\n"
      "  - type: filter\n    where: status >= 400\n";
  const std::string windowed_yaml = kErrorsPipelineYaml + "    window: {type: tumbling_count, size: 50}\n";
  auto records = make_access_records(1500, 7);
  std::string csv = to_csv(records);
  // Rejected records, for the dead letters: every 97th line has a field too many.
  for (size_t pos = 0, line = 0; (pos = csv.find('\n', pos)) != std::string::npos; ++pos) {
    if (++line % 97 == 0) csv.insert(pos, ",x");
  }
  for (const std::string& yaml : {records_yaml, kErrorsPipelineYaml, windowed_yaml}) {
    const auto pipeline = pipeline_from_yaml(yaml);
    for (size_t chunk : {size_t{1}, size_t{61}, size_t{4096}, size_t{4097}}) {
      SCOPED_TRACE(fmt::format("{}chunk {}", yaml, chunk));
      const RunResult graph = run_chunked(pipeline, csv, chunk, kThroughTheGraph);
      const RunResult here = run_chunked(pipeline, csv, chunk);
      EXPECT_EQ(all_rows(here.results), all_rows(graph.results));
      EXPECT_EQ(counters_and_dead_letters(here.summary), counters_and_dead_letters(graph.summary));
      EXPECT_GT(graph.results.size(), 0u);
      EXPECT_EQ(graph.results_on_calling_thread, 0u);
      // Records come back from the push that brought them (the input ends with a newline, so
      // the end of input, which goes through the graph, brings none). With bigger chunks only
      // the input's short last one may run here, if the graph is idle by then.
      if (yaml == records_yaml) {
        if (chunk <= StreamLimits{}.max_inline_chunk_bytes) {
          EXPECT_EQ(here.results_on_calling_thread, here.results.size());
        } else {
          EXPECT_LE(here.results_on_calling_thread,
                    csv.size() % chunk <= StreamLimits{}.max_inline_chunk_bytes ? 1u : 0u);
        }
      }
    }
  }
}

}  // namespace
}  // namespace sluice::pipeline
