#include "gateway/metrics.h"

#include <fmt/format.h>

#include "gateway/version.h"

namespace sluice::gateway {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

}  // namespace

struct GatewayMetrics::PerPipeline {
  prometheus::Counter& streams_started;
  prometheus::Counter& bytes;
  prometheus::Counter& chunks;
  prometheus::Counter& records_out;
  prometheus::Counter& records_filtered;
  prometheus::Counter& records_rejected;
  prometheus::Histogram& duration;
};

GatewayMetrics::GatewayMetrics(const std::vector<std::string>& pipelines)
    : streams_finished_(BuildCounter()
                            .Name("sluice_streams_finished_total")
                            .Help("Streaming calls ended, by pipeline and gRPC status code")
                            .Register(*registry_)),
      streams_active_(BuildGauge()
                          .Name("sluice_streams_active")
                          .Help("Streaming calls admitted and not yet ended")
                          .Register(*registry_)
                          .Add({})),
      read_pauses_(BuildCounter()
                       .Name("sluice_read_pauses_total")
                       .Help("Times a stream stopped reading because its in-flight budget was full (backpressure)")
                       .Register(*registry_)
                       .Add({})),
      calls_unauthenticated_(BuildCounter()
                                 .Name("sluice_calls_unauthenticated_total")
                                 .Help("Calls refused for a missing or wrong bearer token, by method")
                                 .Register(*registry_)) {
  BuildGauge()
      .Name("sluice_build_info")
      .Help("The gateway's version")
      .Register(*registry_)
      .Add({{"version", kVersion}})
      .Set(1);
  auto& started =
      BuildCounter().Name("sluice_streams_started_total").Help("Streams opened, by pipeline").Register(*registry_);
  auto& bytes =
      BuildCounter().Name("sluice_input_bytes_total").Help("Input bytes received, by pipeline").Register(*registry_);
  auto& chunks =
      BuildCounter().Name("sluice_input_chunks_total").Help("Input chunks received, by pipeline").Register(*registry_);
  auto& records = BuildCounter()
                      .Name("sluice_records_total")
                      .Help(
                          "Records of finished streams by outcome: out (reached the aggregate or the "
                          "output), filtered, rejected")
                      .Register(*registry_);
  auto& duration = BuildHistogram()
                       .Name("sluice_stream_duration_seconds")
                       .Help("Wall time of a stream from its header to its end, by pipeline")
                       .Register(*registry_);
  const prometheus::Histogram::BucketBoundaries buckets{0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600, 3600};
  for (const std::string& name : pipelines) {
    pipelines_.emplace(name, std::make_unique<PerPipeline>(PerPipeline{
                                 started.Add({{"pipeline", name}}),
                                 bytes.Add({{"pipeline", name}}),
                                 chunks.Add({{"pipeline", name}}),
                                 records.Add({{"pipeline", name}, {"outcome", "out"}}),
                                 records.Add({{"pipeline", name}, {"outcome", "filtered"}}),
                                 records.Add({{"pipeline", name}, {"outcome", "rejected"}}),
                                 duration.Add({{"pipeline", name}}, buckets),
                             }));
  }
}

GatewayMetrics::~GatewayMetrics() = default;

void GatewayMetrics::serve(const std::string& address) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::Unavailable, fmt::format("cannot serve metrics on '{}': {}", address, e.what()));
  }
  exposer_->RegisterCollectable(registry_);
}

int GatewayMetrics::port() const {
  if (!exposer_) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

GatewayMetrics::PerPipeline* GatewayMetrics::find(const std::string& pipeline) {
  auto it = pipelines_.find(pipeline);
  return it == pipelines_.end() ? nullptr : it->second.get();
}

void GatewayMetrics::stream_started(const std::string& pipeline) {
  streams_active_.Increment();
  if (PerPipeline* p = find(pipeline)) p->streams_started.Increment();
}

void GatewayMetrics::chunk_received(const std::string& pipeline, size_t bytes) {
  if (PerPipeline* p = find(pipeline)) {
    p->bytes.Increment(static_cast<double>(bytes));
    p->chunks.Increment();
  }
}

void GatewayMetrics::read_paused() { read_pauses_.Increment(); }

void GatewayMetrics::call_unauthenticated(std::string_view method) {
  calls_unauthenticated_.Add({{"method", std::string(method)}}).Increment();
}

void GatewayMetrics::stream_finished(const std::string& pipeline, ErrorCode code, const pipeline::Counters& counters,
                                     std::chrono::steady_clock::duration elapsed) {
  streams_finished_.Add({{"pipeline", pipeline}, {"code", std::string(error_code_name(code))}}).Increment();
  PerPipeline* p = find(pipeline);
  if (!p) return;
  streams_active_.Decrement();
  p->records_out.Increment(static_cast<double>(counters.records_out));
  p->records_filtered.Increment(static_cast<double>(counters.records_filtered));
  p->records_rejected.Increment(static_cast<double>(counters.records_rejected));
  p->duration.Observe(std::chrono::duration<double>(elapsed).count());
}

}  // namespace sluice::gateway
