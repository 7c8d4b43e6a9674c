#pragma once
// Live progress of a replay on stderr.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

namespace sluice::replay {

struct ProgressCounters {
  uint64_t total_streams = 0;  // set before the streams start
  uint64_t total_bytes = 0;
  std::atomic<uint64_t> bytes_sent{0};  // by every attempt, retries included
  std::atomic<uint64_t> records{0};     // records_in of the streams done
  std::atomic<uint64_t> streams_done{0};
  std::atomic<uint64_t> streams_failed{0};
};

// "12.35 MB  48000 records  streams 5/12 (1 failed)  8.12 MB/s  ETA 3 s"
std::string progress_line(const ProgressCounters& counters, double elapsed_seconds);

// Prints from its own thread until destroyed: on a terminal one line rewritten in place a few
// times a second; otherwise a plain line every `interval`. The final state is printed last.
class ProgressPrinter {
 public:
  ProgressPrinter(std::ostream& out, bool tty, std::chrono::milliseconds interval, const ProgressCounters& counters);
  ~ProgressPrinter();
  ProgressPrinter(const ProgressPrinter&) = delete;
  ProgressPrinter& operator=(const ProgressPrinter&) = delete;

 private:
  void print();

  std::ostream& out_;
  const bool tty_;
  const ProgressCounters& counters_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace sluice::replay
