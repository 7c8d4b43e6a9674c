#include "gateway/replay/progress.h"

#include <algorithm>

#include <fmt/format.h>

namespace sluice::replay {

std::string progress_line(const ProgressCounters& counters, double elapsed_seconds) {
  const uint64_t sent = counters.bytes_sent.load();
  const uint64_t done = counters.streams_done.load();
  const double rate = elapsed_seconds > 0 ? static_cast<double>(sent) / elapsed_seconds : 0;
  std::string eta = "ETA ?";
  if (done == counters.total_streams) {
    eta = "done";
  } else if (rate > 0) {
    const uint64_t left = counters.total_bytes - std::min(sent, counters.total_bytes);
    eta = fmt::format("ETA {:.0f} s", static_cast<double>(left) / rate);
  }
  const uint64_t failed = counters.streams_failed.load();
  return fmt::format("{:.2f} MB  {} records  streams {}/{}{}  {:.2f} MB/s  {}", static_cast<double>(sent) / 1e6,
                     counters.records.load(), done, counters.total_streams,
                     failed ? fmt::format(" ({} failed)", failed) : "", rate / 1e6, eta);
}

ProgressPrinter::ProgressPrinter(std::ostream& out, bool tty, std::chrono::milliseconds interval,
                                 const ProgressCounters& counters)
    : out_(out),
      tty_(tty),
      counters_(counters),
      thread_([this, period = tty ? std::chrono::milliseconds(200) : interval] {
        std::unique_lock lock(mu_);
        while (!wake_.wait_for(lock, period, [this] { return stopping_; })) print();
      }) {}

ProgressPrinter::~ProgressPrinter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  print();
  if (tty_) out_ << "\n";
  out_.flush();
}

void ProgressPrinter::print() {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // On a terminal: back to the line's start and clear it, so the line is rewritten in place.
  out_ << (tty_ ? "\r\x1b[K" : "") << progress_line(counters_, elapsed) << (tty_ ? "" : "\n");
  out_.flush();
}

}  // namespace sluice::replay
