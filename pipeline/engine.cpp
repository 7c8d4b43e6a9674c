#include "pipeline/engine.h"

#include <atomic>
#include <condition_variable>
#include <span>
#include <tuple>

#include <fmt/format.h>
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include "core/framing.h"
#include "core/tsan_handoff.h"

namespace sluice::pipeline {

namespace flow = tbb::flow;

namespace detail {

// One unit of work: a block of whole records, then the batch parsed from it.
struct Work {
  uint64_t seq = 0;
  Block block;
  RecordBatch batch;
  uint64_t records_parsed = 0;         // rows, parse rejections and records the parser filtered out
  uint64_t rows_before_aggregate = 0;  // rows, and rejections, before the aggregate looked at the batch
  size_t rejected_before_aggregate = 0;
  std::vector<uint64_t> route_of_row;  // partitioned aggregate: what tells each row's partition
  std::atomic<size_t> partitions_pending{0};  // partitioned aggregate: partitions not yet done with it
  size_t release_chunks = 0;    // budget handed back when the sink is done with this work
  size_t release_bytes = 0;
  size_t batch_bytes = 0;       // the batch's memory as last counted in the budget (Stream::recount)
  bool end_of_input = false;
};

}  // namespace detail

namespace {

struct Input {
  std::string chunk;
  bool end_of_input = false;
};
using InputPtr = std::shared_ptr<Input>;
using WorkPtr = std::shared_ptr<detail::Work>;

constexpr size_t kMaxDeadLetterText = 256;
constexpr size_t kMaxReasonBytes = 200;

// The arena every stream's graph runs in. The threads that feed the graphs (gRPC's, or the
// embedding program's in run_stream) only put work in; they run graph tasks only while they
// build or wait for a graph. TBB's default arena counts such a thread as one of its `cores`
// threads and starts one worker fewer, so on 2 cores a single worker ran every stream. This
// arena has a worker per core, plus the slot for a thread that builds or waits.
tbb::task_arena& engine_arena() {
  static const int cores = tbb::info::default_concurrency();
  static tbb::global_control workers(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(cores) + 1);
  static tbb::task_arena arena(cores + 1, /*reserved_for_masters=*/1);
  return arena;
}

std::string describe_rejection(const Rejection& r) {
  return fmt::format("line {} (offset {}){}: {}", r.origin.line, r.origin.offset,
                     r.field.empty() ? "" : fmt::format(", field '{}'", r.field), r.reason);
}

}  // namespace

template <typename F>
void Stream::guarded(F&& body) {
  if (stopped()) return;
  try {
    body();
  } catch (const Error& e) {
    fail(e.status());
  } catch (const std::exception& e) {
    fail({ErrorCode::Internal, fmt::format("pipeline '{}': {}", pipeline_->name, e.what())});
  }
}

namespace detail {

// A serial node's bodies run one after another, but maybe on different threads, ordered inside
// libtbb where TSan cannot see it: each body states that it follows the previous one.
template <typename F>
void one_at_a_time(const void* node, F&& body) {
  handoff_receive(node);
  body();
  handoff_send(node);
}

struct StreamGraph {
  tbb::task_group_context context;
  flow::graph graph{context};

  char bodies_done = 0;  // TSan marker: node bodies release it, close() acquires it after waiting
  Stream& stream;
  const Pipeline& pipeline;
  const size_t parallelism;
  RecordFramer framer;
  std::unique_ptr<Parser> parser;
  std::unique_ptr<PartitionedAggregator> partitioned;  // the aggregate split by key, if it can be
  std::unique_ptr<Aggregator> aggregator;              // else the aggregate in one serial pass, if any
  // The transforms run after the parser: all of them, or all but a first filter that the parser
  // applies itself as it reads (Parser::keep_only).
  std::span<const std::shared_ptr<const TransformStage>> transforms_after_parse;
  uint64_t next_seq = 0;

  using WorkNode = flow::function_node<WorkPtr, WorkPtr>;
  flow::multifunction_node<InputPtr, std::tuple<WorkPtr>> frame;
  WorkNode parse;
  std::vector<std::unique_ptr<WorkNode>> transforms;
  std::unique_ptr<WorkNode> route;  // partitioned aggregate: rejects and assigns partitions
  flow::sequencer_node<WorkPtr> sequence;
  // Puts to the partitions from its body, not by returning: a function_node may start its next
  // body before it passes this one's output on, and the partitions need input order.
  flow::multifunction_node<WorkPtr, std::tuple<WorkPtr>> sink;
  std::vector<std::unique_ptr<flow::function_node<WorkPtr>>> partitions;  // partitioned aggregate

  // The whole pipeline's shape, in one place. Each node's body first receives its message's
  // hand-off: the captures it then reads were written by the thread that built the graph.
  StreamGraph(Stream& s, const Pipeline& p, size_t parallel)
      : stream(s),
        pipeline(p),
        parallelism(parallel),
        framer(pipeline.parse->framing(), pipeline.options.max_record_bytes),
        parser(pipeline.parse->start_stream()),
        partitioned(pipeline.aggregate ? pipeline.aggregate->start_partitioned(parallelism) : nullptr),
        aggregator(pipeline.aggregate && !partitioned ? pipeline.aggregate->start_stream() : nullptr),
        frame(graph, flow::serial,
              [this](const InputPtr& input, auto& ports) {
                handoff_receive(input.get());
                frame_body(*input, [&](WorkPtr work) {
                  work->seq = next_seq++;
                  handoff_send(work.get());
                  std::get<0>(ports).try_put(std::move(work));
                });
              }),
        parse(graph, parallelism,
              [this](const WorkPtr& work) {
                handoff_receive(work.get());
                parse_body(*work);
                return work;
              }),
        sequence(graph, [](const WorkPtr& work) { return work->seq; }),
        sink(graph, flow::serial, [this](const WorkPtr& work, auto& ports) {
          handoff_receive(work.get());
          sink_body(*work);
          std::get<0>(ports).try_put(work);
        }) {
    if (pipeline.fields_read) parser->read_only(*pipeline.fields_read);
    transforms_after_parse = pipeline.transforms;
    if (!transforms_after_parse.empty()) {
      const expr::Expression* predicate = transforms_after_parse.front()->row_predicate();
      if (predicate && parser->keep_only(*predicate)) transforms_after_parse = transforms_after_parse.subspan(1);
    }
    flow::sender<WorkPtr>* previous = &parse;
    flow::make_edge(flow::output_port<0>(frame), parse);
    for (const auto& transform : transforms_after_parse) {
      transforms.push_back(
          std::make_unique<WorkNode>(graph, parallelism, [this, stage = transform.get()](const WorkPtr& work) {
            handoff_receive(work.get());
            transform_body(*stage, *work);
            return work;
          }));
      flow::make_edge(*previous, *transforms.back());
      previous = transforms.back().get();
    }
    if (partitioned) {
      route = std::make_unique<WorkNode>(graph, parallelism, [this](const WorkPtr& work) {
        handoff_receive(work.get());
        route_body(*work);
        return work;
      });
      flow::make_edge(*previous, *route);
      previous = route.get();
    }
    flow::make_edge(*previous, sequence);
    flow::make_edge(sequence, sink);
    // Each partition is serial and gets every work from the sink, in input order.
    for (size_t p = 0; partitioned && p < parallelism; ++p) {
      partitions.push_back(
          std::make_unique<flow::function_node<WorkPtr>>(graph, flow::serial, [this, p](const WorkPtr& work) {
            handoff_receive(work.get());
            partition_body(p, *work);
            return flow::continue_msg{};
          }));
      flow::make_edge(flow::output_port<0>(sink), *partitions.back());
    }
  }

  // Runs a chunk through every body in turn on this thread, without the graph's tasks: for a
  // stream with nothing in flight, which no body is touching (see Stream::push).
  void run_here(Input& input) {
    frame_body(input, [&](WorkPtr work) {
      parse_body(*work);
      for (const auto& transform : transforms_after_parse) transform_body(*transform, *work);
      if (partitioned) route_body(*work);
      sink_body(*work);
      for (size_t p = 0; partitioned && p < parallelism; ++p) partition_body(p, *work);
    });
  }

  // The nodes' bodies. Serial ones state their order to TSan (one_at_a_time).
  template <typename Deliver>
  void frame_body(Input& input, Deliver&& deliver) {
    one_at_a_time(&frame, [&] { cut_blocks(input, deliver); });
    handoff_send(&bodies_done);
  }
  void parse_body(Work& work) {
    stream.run_body(work, [&](Work& w) {
      w.records_parsed = parser->parse(w.block, w.batch);
      w.block = Block{};  // the text is no longer needed; free it early
      stream.recount(w);
    });
  }
  void transform_body(const TransformStage& stage, Work& work) {
    stream.run_body(work, [&](Work& w) {
      stage.apply(w.batch);
      stream.recount(w);  // a transform may add fields or drop rows
    });
  }
  void route_body(Work& work) {
    stream.run_body(work, [&](Work& w) {
      w.rows_before_aggregate = w.batch.rows();
      w.rejected_before_aggregate = w.batch.rejections.size();
      partitioned->route(w.batch, w.route_of_row);
      w.partitions_pending.store(parallelism, std::memory_order_relaxed);
    });
  }
  void sink_body(Work& work) {
    stream.run_body(work, [&](Work& w) { one_at_a_time(&sink, [&] { stream.sink(w); }); });
  }
  void partition_body(size_t p, Work& work) {
    stream.run_body(work,
                    [&](Work& w) { one_at_a_time(partitions[p].get(), [&] { stream.aggregate_partition(p, w); }); });
  }

  // Serial, in input order: frames the chunk into blocks of whole records and delivers them.
  template <typename Deliver>
  void cut_blocks(Input& input, Deliver& deliver) {
    const size_t chunk_bytes = input.chunk.size();
    std::vector<Block> blocks;
    stream.guarded([&] {
      if (input.end_of_input) {
        if (auto last = framer.finish()) blocks.push_back(std::move(*last));
      } else {
        framer.push(std::move(input.chunk), blocks);
      }
      for (Block& block : blocks) parser->prepare(block);
    });
    if (stream.stopped()) return;
    if (blocks.empty() && !input.end_of_input) {
      stream.release(1, chunk_bytes);  // all of it is carried over to the next chunk
      return;
    }
    for (size_t i = 0; i < blocks.size(); ++i) {
      auto work = std::make_shared<Work>();
      work->block = std::move(blocks[i]);
      if (i + 1 == blocks.size() && !input.end_of_input) {
        work->release_chunks = 1;
        work->release_bytes = chunk_bytes;
      }
      deliver(std::move(work));
    }
    if (input.end_of_input) {
      auto end = std::make_shared<Work>();
      end->end_of_input = true;
      deliver(std::move(end));
    }
  }
};

}  // namespace detail

// The body of a node: states the hand-off onwards to TSan (the node has received the work's
// hand-off before calling this). The nodes take their WorkPtr by reference: a copy made before
// handoff_receive would touch the pointer's control block unordered.
template <typename F>
void Stream::run_body(detail::Work& work, F&& body) {
  guarded([&] { body(work); });
  handoff_send(&work);
  handoff_send(&graph_->bodies_done);
}

StreamLimits StreamLimits::from_yaml(const config::Node& node) {
  node.expect_keys({"max_chunks_in_flight", "max_bytes_in_flight", "max_pending_results", "max_inline_chunk_bytes"},
                   "stream_limits");
  StreamLimits limits;
  if (auto n = node.get("max_chunks_in_flight")) limits.max_chunks_in_flight = n->as_positive_u32();
  if (auto n = node.get("max_bytes_in_flight")) limits.max_bytes_in_flight = n->as_positive_bytes();
  if (auto n = node.get("max_pending_results")) limits.max_pending_results = n->as_positive_u32();
  if (auto n = node.get("max_inline_chunk_bytes")) limits.max_inline_chunk_bytes = n->as_bytes();
  return limits;
}

Stream::Stream(PipelinePtr pipeline, StreamLimits limits, Callbacks callbacks)
    : pipeline_(std::move(pipeline)), limits_(limits), callbacks_(std::move(callbacks)) {
  const size_t parallelism = pipeline_->options.parallelism
                                 ? pipeline_->options.parallelism
                                 : static_cast<size_t>(tbb::info::default_concurrency());
  // A graph runs its tasks in the arena it is built in. With no free slot for this thread, a
  // worker builds it (handed over inside libtbb: stated for TSan, on a token that needs no
  // captured variable to be read first).
  static char graph_build;
  const auto build = [&] {
    handoff_receive(&graph_build);
    graph_ = std::make_unique<detail::StreamGraph>(*this, *pipeline_, parallelism);
    handoff_send(&graph_build);
  };
  handoff_send(&graph_build);  // after `build` exists: the worker reads its captures
  engine_arena().execute(build);
  handoff_receive(&graph_build);
}

Stream::~Stream() { close(); }

void Stream::close() {
  stopped_.store(true, std::memory_order_release);
  std::call_once(finish_once_, [] {});  // a destroyed stream reports nothing
  graph_->context.cancel_group_execution();
  graph_->graph.wait_for_all();
  handoff_receive(&graph_->bodies_done);  // every body's work happened before this point
}

bool Stream::has_room() const {
  return !stopped() && chunks_in_flight_.load() < limits_.max_chunks_in_flight &&
         bytes_in_flight_.load() < limits_.max_bytes_in_flight &&
         pending_results_.load() < limits_.max_pending_results;
}

void Stream::push(std::string chunk) {
  if (stopped() || input_done_.load()) return;
  const size_t in_flight = ++chunks_in_flight_;
  size_t peak = peak_chunks_in_flight_.load();
  while (in_flight > peak && !peak_chunks_in_flight_.compare_exchange_weak(peak, in_flight)) {
  }
  bytes_in_flight_ += chunk.size();
  {
    std::lock_guard lock(summary_mu_);
    summary_.counters.bytes_in += chunk.size();
    summary_.counters.chunks_in += 1;
  }
  // A small chunk into a stream with nothing in flight runs through the stages on this thread:
  // waking a graph worker for it, and then the thread that writes its result, costs more than
  // the work (one record per message). Nothing in flight means that the last body to touch the
  // stream's serial state (framer, sink, partitions) released its budget after touching it, and
  // the release (chunks_in_flight_) orders it before this push.
  const bool run_here = in_flight == 1 && chunk.size() <= limits_.max_inline_chunk_bytes;
  auto input = std::make_shared<Input>(Input{std::move(chunk), false});
  handoff_send(input.get());
  if (run_here) {
    graph_->run_here(*input);
  } else {
    graph_->frame.try_put(std::move(input));
  }
}

void Stream::finish() {
  if (stopped() || input_done_.exchange(true)) return;
  auto input = std::make_shared<Input>(Input{{}, true});
  handoff_send(input.get());
  graph_->frame.try_put(std::move(input));
}

void Stream::cancel(Status status) { fail(std::move(status)); }

void Stream::result_consumed() { --pending_results_; }

Summary Stream::summary() const {
  std::lock_guard lock(summary_mu_);
  return summary_;
}

void Stream::fail(Status status) {
  std::call_once(finish_once_, [&] {
    stopped_.store(true, std::memory_order_release);
    graph_->context.cancel_group_execution();
    if (callbacks_.on_finish) callbacks_.on_finish(status);
  });
}

void Stream::recount(detail::Work& work) {
  const size_t now = work.batch.memory_bytes();
  if (now >= work.batch_bytes) {
    bytes_in_flight_ += now - work.batch_bytes;
  } else {
    release(0, work.batch_bytes - now);
  }
  work.batch_bytes = now;
}

void Stream::release(size_t chunks, size_t bytes) {
  if (chunks == 0 && bytes == 0) return;
  chunks_in_flight_ -= chunks;
  bytes_in_flight_ -= bytes;
  if (callbacks_.on_room && !stopped()) callbacks_.on_room();
}

void Stream::emit(ResultBatch&& result) {
  ++pending_results_;
  {
    std::lock_guard lock(summary_mu_);
    ++summary_.counters.results_emitted;
  }
  callbacks_.on_result(std::move(result));
}

// Serial, in input order: applies the error policy, counts, and aggregates (or hands the work to
// the aggregate's partitions) and emits.
void Stream::sink(detail::Work& work) {
  RecordBatch& batch = work.batch;
  const Emit emit = emitter();

  if (!graph_->partitioned) {
    work.rows_before_aggregate = batch.rows();
    work.rejected_before_aggregate = batch.rejections.size();
  }
  if (graph_->aggregator) {
    graph_->aggregator->consume(batch, emit);
  } else if (!graph_->partitioned && batch.rows() > 0) {
    ResultBatch records;
    records.columns = batch.schema->names();
    records.rows.reserve(batch.rows());
    for (size_t r = 0; r < batch.rows(); ++r) {
      auto row = batch.row(r);
      records.rows.emplace_back(std::make_move_iterator(row.begin()), std::make_move_iterator(row.end()));
    }
    emit(std::move(records));
  }
  // (A partitioned aggregate rejected its records in `route`, before this point.)
  const uint64_t rejected_by_aggregate = batch.rejections.size() - work.rejected_before_aggregate;

  // Reasons quote the bad value, which may be as long as a record: they are kept short.
  for (Rejection& r : batch.rejections) {
    if (r.reason.size() > kMaxReasonBytes) r.reason = std::string(utf8_prefix(r.reason, kMaxReasonBytes)) + "...";
  }
  if (pipeline_->options.on_error == ErrorPolicy::Fail && !batch.rejections.empty()) {
    fail({ErrorCode::InvalidArgument, fmt::format("pipeline '{}' rejected a record at {}", pipeline_->name,
                                                  describe_rejection(batch.rejections.front()))});
    return;
  }
  {
    std::lock_guard lock(summary_mu_);
    Counters& c = summary_.counters;
    c.records_in += work.records_parsed;
    c.records_rejected += batch.rejections.size();
    c.records_out += work.rows_before_aggregate - rejected_by_aggregate;
    c.records_filtered += work.records_parsed - work.rows_before_aggregate - work.rejected_before_aggregate;
    for (Rejection& r : batch.rejections) {
      auto reason = c.rejected_by_reason.find(r.reason);
      if (reason != c.rejected_by_reason.end()) {
        ++reason->second;
      } else if (c.rejected_by_reason.size() < pipeline_->options.max_rejection_reasons) {
        c.rejected_by_reason.emplace(r.reason, 1);
      } else {
        ++c.rejected_by_reason[std::string(kOtherRejectionReasons)];
      }
      if (pipeline_->options.on_error == ErrorPolicy::DeadLetter &&
          summary_.dead_letters.size() < pipeline_->options.max_dead_letters) {
        if (r.record.size() > kMaxDeadLetterText) r.record = std::string(utf8_prefix(r.record, kMaxDeadLetterText));
        summary_.dead_letters.push_back(std::move(r));
      }
    }
  }
  // The partitions release the work's budget (and finish) once they are all done with it.
  if (!graph_->partitioned) done_with(work);
}

// Serial for each partition, in input order.
void Stream::aggregate_partition(size_t partition, detail::Work& work) {
  if (!work.end_of_input) graph_->partitioned->consume(partition, work.batch, work.route_of_row);
  // acq_rel: the last partition to finish with the work sees what the others did before.
  if (work.partitions_pending.fetch_sub(1, std::memory_order_acq_rel) == 1) done_with(work);
}

// The work has been through the whole graph: its budget is freed, and the end of input finishes.
void Stream::done_with(detail::Work& work) {
  release(work.release_chunks, work.release_bytes + work.batch_bytes);
  if (!work.end_of_input) return;
  const Emit emit = emitter();
  if (graph_->aggregator) graph_->aggregator->finish(emit);
  if (graph_->partitioned) graph_->partitioned->finish(emit);
  std::call_once(finish_once_, [&] {
    stopped_.store(true, std::memory_order_release);
    if (callbacks_.on_finish) callbacks_.on_finish(Status::Ok());
  });
}

Summary run_stream(PipelinePtr pipeline, const StreamLimits& limits,
                   const std::function<bool(std::string& chunk)>& next_chunk,
                   const std::function<void(ResultBatch&&)>& on_result) {
  std::mutex mu;
  std::condition_variable changed;
  bool done = false;
  Status status;
  Stream* stream_ptr = nullptr;  // callbacks only run after the first push, once this is set

  Stream::Callbacks callbacks;
  callbacks.on_result = [&](ResultBatch&& result) {
    on_result(std::move(result));
    stream_ptr->result_consumed();
  };
  callbacks.on_room = [&] {
    std::lock_guard lock(mu);
    changed.notify_all();
  };
  callbacks.on_finish = [&](const Status& s) {
    std::lock_guard lock(mu);
    done = true;
    status = s;
    changed.notify_all();
  };
  Stream stream(std::move(pipeline), limits, std::move(callbacks));
  stream_ptr = &stream;

  std::string chunk;
  for (;;) {
    {
      std::unique_lock lock(mu);
      changed.wait(lock, [&] { return done || stream.has_room(); });
      if (done) break;
    }
    chunk.clear();
    if (!next_chunk(chunk)) {
      stream.finish();
      break;
    }
    stream.push(std::move(chunk));
  }
  {
    std::unique_lock lock(mu);
    changed.wait(lock, [&] { return done; });
  }
  if (!status.ok()) throw Error(status.code, status.message);
  return stream.summary();
}

}  // namespace sluice::pipeline
