#pragma once
// sluice-replay's engine: sends a set of streams (files, directories, recordings) to a gateway, or
// through the embedded pipeline library with no server, with bounded concurrency, a shared rate
// limit, recorded timing, retries and deadlines; writes each stream's results and a report.
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/chunk_source.h"
#include "gateway/client.h"
#include "gateway/replay/inputs.h"
#include "gateway/replay/rate_limit.h"
#include "gateway/replay/report.h"
#include "gateway/replay/result_files.h"

namespace sluice::replay {

enum class Timing {
  Fast,      // send as fast as the target (and --rate) allow
  Recorded,  // recordings: wait between chunks as recorded
  Scaled,    // recordings: the recorded waits divided by `speed`
};

enum class Mode {
  Upload,   // client-streaming: results come with the summary
  Process,  // bidirectional: results stream back while chunks are sent
};

struct ReplayOptions {
  gateway::ChannelOptions connection;  // a running gateway: its address, TLS and token
  std::string offline_config;         // set: run this config in process, no gateway
  Mode mode = Mode::Upload;
  size_t concurrency = 4;         // streams at once
  size_t chunk_size = kDefaultChunkBytes;  // for files; recordings keep their chunks
  std::optional<RateLimit> rate;  // shared by all streams
  Timing timing = Timing::Fast;
  double speed = 1.0;                                // for Timing::Scaled
  unsigned repeat = 1;                               // every input this many times
  std::optional<std::chrono::milliseconds> timeout;  // per stream (per attempt)
  unsigned retries = 0;                              // extra attempts after a retryable failure
  std::chrono::milliseconds backoff{100};            // before the first retry; doubles each time
  bool gzip = false;
  std::string out_dir;               // result files; empty: none written
  ResultFormat out_format = ResultFormat::JsonLines;
  std::string record_path;           // record what is sent; empty: no recording
  std::ostream* progress = nullptr;  // live progress; null: none
  bool progress_tty = false;
  std::chrono::milliseconds progress_interval{5000};  // when not a terminal
};

// When to send a chunk recorded `recorded_at` after its stream started, counted from the start of
// the replayed stream: immediately (Fast), as recorded, or scaled by 1/speed.
std::chrono::microseconds send_offset(Timing timing, double speed, std::chrono::microseconds recorded_at);

// Failures worth another attempt: the target was unavailable or overloaded, or the attempt ran
// out of time. Everything else (bad input, unknown pipeline...) would fail the same way again.
bool is_retryable(ErrorCode code);

// Runs every input `repeat` times; the report says how each stream ended. Throws Error for
// problems before any stream starts (bad options, an unreadable offline config, no out dir).
ReplayReport run_replay(const std::vector<StreamInput>& inputs, const ReplayOptions& options);

}  // namespace sluice::replay
