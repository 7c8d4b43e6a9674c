#pragma once
// Runs one input stream through a pipeline on a oneTBB flow graph:
//
//   push(chunk) -> frame (serial) -> parse (parallel) -> transforms (parallel)
//               -> sequence (restores input order) -> sink (serial: policy, aggregate, results)
//
// An aggregate that can be split by key (PartitionedAggregator: a group_by without window) runs
// instead as a parallel `route` before the sequence (rejections, partition of each row), and after
// the sink one serial node per partition; the last partition done with the end of input emits.
//
// A small chunk pushed while nothing is in flight skips the graph: the pushing thread runs the same
// node bodies in turn (small messages, where waking workers would cost more than the work).
//
// The caller feeds chunks only while has_room(): the number of chunks in the graph, the bytes they
// hold (their text, and the batches parsed from it) and the number of results not yet consumed are
// bounded by StreamLimits. The gateway ties
// has_room()/on_room to gRPC's StartRead, so memory stays bounded whatever the input size.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/record.h"
#include "pipeline/pipeline.h"

namespace sluice::pipeline {

namespace detail {
struct StreamGraph;
struct Work;
}

struct StreamLimits {
  size_t max_chunks_in_flight = 8;
  // The chunks' text until the sink is done with them, plus the memory of the batches parsed from
  // them (RecordBatch::memory_bytes, counted after the parse and after each transform). It is
  // checked before a chunk is taken: the chunks taken but not yet parsed can still add their batches.
  size_t max_bytes_in_flight = 8u << 20;
  size_t max_pending_results = 16;  // emitted but not yet result_consumed()
  // A chunk of up to this many bytes, pushed while nothing is in flight, runs through the stages
  // on the pushing thread instead of the graph's workers (0: never). See Stream::push.
  size_t max_inline_chunk_bytes = 4096;

  // A config's server.stream_limits (unknown keys rejected; counts and budgets above zero).
  static StreamLimits from_yaml(const config::Node& node);
};

struct Counters {
  uint64_t bytes_in = 0;
  uint64_t chunks_in = 0;
  uint64_t records_in = 0;        // parsed = out + filtered + rejected
  uint64_t records_out = 0;       // reached the aggregate (or the result, without one)
  uint64_t records_filtered = 0;  // dropped by a filter
  uint64_t records_rejected = 0;  // refused by a stage, see rejected_by_reason
  uint64_t results_emitted = 0;   // result batches
  std::map<std::string, uint64_t> rejected_by_reason;
};

struct Summary {
  Counters counters;
  std::vector<Rejection> dead_letters;
};

class Stream {
 public:
  struct Callbacks {
    std::function<void(ResultBatch&&)> on_result;     // serial, in order, from a graph worker
    std::function<void()> on_room;                    // some budget was freed (graph worker)
    std::function<void(const Status&)> on_finish;     // exactly once: end of results or failure
  };

  Stream(PipelinePtr pipeline, StreamLimits limits, Callbacks callbacks);
  ~Stream();  // close()s
  // Stops an unfinished stream without reporting it, and waits for the graph's tasks; no
  // callback runs after close() returns. Idempotent.
  void close();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  bool has_room() const;
  // Feeds the next chunk; call only while has_room() (the budget is enforced by the caller's
  // reads, not by blocking here). Ignored once the stream has finished or failed. A small chunk
  // into an idle stream (StreamLimits::max_inline_chunk_bytes) is processed before this returns,
  // and the callbacks it causes run on this thread.
  void push(std::string chunk);
  // End of input: the remaining results and then on_finish follow.
  void finish();
  // Stops the graph promptly; on_finish(status) follows unless the stream already finished.
  void cancel(Status status);
  // The caller has taken one result out of its queue (frees one pending-result slot).
  void result_consumed();

  // Final counters and dead letters; complete once on_finish has been called.
  Summary summary() const;
  size_t chunks_in_flight() const { return chunks_in_flight_.load(); }
  size_t peak_chunks_in_flight() const { return peak_chunks_in_flight_.load(); }
  size_t bytes_in_flight() const { return bytes_in_flight_.load(); }

 private:
  friend struct detail::StreamGraph;

  void fail(Status status);
  // Runs a stage body; an exception fails the stream instead of escaping into the graph.
  template <typename F>
  void guarded(F&& body);
  // Runs a node's body on its work, stating the hand-offs to TSan.
  template <typename F>
  void run_body(detail::Work& work, F&& body);
  // Brings the budget's count of the work's batch up to date with its memory now.
  void recount(detail::Work& work);
  void release(size_t chunks, size_t bytes);
  void emit(ResultBatch&& result);
  Emit emitter() {
    return [this](ResultBatch&& result) { emit(std::move(result)); };
  }
  void sink(detail::Work& work);
  void aggregate_partition(size_t partition, detail::Work& work);
  void done_with(detail::Work& work);
  bool stopped() const { return stopped_.load(std::memory_order_acquire); }

  PipelinePtr pipeline_;
  StreamLimits limits_;
  Callbacks callbacks_;

  std::atomic<size_t> chunks_in_flight_{0};
  std::atomic<size_t> peak_chunks_in_flight_{0};
  std::atomic<size_t> bytes_in_flight_{0};
  std::atomic<size_t> pending_results_{0};
  std::atomic<bool> stopped_{false};   // finished, failed or cancelled: no more work is accepted
  std::atomic<bool> input_done_{false};
  std::once_flag finish_once_;

  mutable std::mutex summary_mu_;  // the sink writes the summary; summary() may read it anytime
  Summary summary_;

  std::unique_ptr<detail::StreamGraph> graph_;  // last: destroyed (and drained) first
};

// Embedded use without gRPC: feeds `next_chunk` (returns false at end of input) through a stream,
// blocking while the budget is full, and hands each result to `on_result` as it is produced.
// Throws Error with the stream's status when it fails.
Summary run_stream(PipelinePtr pipeline, const StreamLimits& limits,
                   const std::function<bool(std::string& chunk)>& next_chunk,
                   const std::function<void(ResultBatch&&)>& on_result);

}  // namespace sluice::pipeline
