#pragma once
// The gateway's Prometheus metrics, served over HTTP at /metrics when `server.metrics.listen` is
// set. Label values come only from the config (pipeline names) and the status codes, so the
// number of series stays bounded whatever clients send.
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "pipeline/engine.h"

namespace sluice::gateway {

class GatewayMetrics {
 public:
  // Series for each configured pipeline exist from the start, so a scrape shows zeros rather
  // than nothing for a pipeline that has not run yet.
  explicit GatewayMetrics(const std::vector<std::string>& pipelines);
  ~GatewayMetrics();

  // Starts the HTTP endpoint; throws Error(Unavailable) when `address` cannot be bound.
  void serve(const std::string& address);
  int port() const;  // the bound port, 0 when not serving

  void stream_started(const std::string& pipeline);
  void chunk_received(const std::string& pipeline, size_t bytes);
  void read_paused();
  // A call refused before it started for a missing or wrong bearer token; `method` is the
  // sluice.v1 method's name (a fixed set, so the series stay bounded).
  void call_unauthenticated(std::string_view method);
  // `counters` are the stream's final counts. `pipeline` is empty for a call refused before its
  // stream opened (unknown pipeline, over a limit, no header): only its status is counted.
  void stream_finished(const std::string& pipeline, ErrorCode code, const pipeline::Counters& counters,
                       std::chrono::steady_clock::duration elapsed);

 private:
  struct PerPipeline;
  PerPipeline* find(const std::string& pipeline);

  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& streams_finished_;
  prometheus::Gauge& streams_active_;
  prometheus::Counter& read_pauses_;
  prometheus::Family<prometheus::Counter>& calls_unauthenticated_;
  std::unordered_map<std::string, std::unique_ptr<PerPipeline>> pipelines_;  // fixed after construction
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace sluice::gateway
