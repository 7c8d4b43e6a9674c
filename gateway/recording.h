#pragma once
// Recordings: the input streams a gateway (or sluice-replay) sent through its pipelines, kept in a
// compact binary file so they can be replayed later with their timing.
//
// Format, version 1 (all integers little-endian; docs/recording-format.md has the details):
//
//   file header, 20 bytes:
//     magic "SLRC" | u16 version = 1 | u16 reserved = 0 | u64 start_unix_us | u32 crc32(bytes 0..15)
//   then records, each:
//     u8 type | u32 stream_id | u64 time_us | u32 length | payload[length] | u32 crc32(type..payload)
//
//   type 1, stream start: str pipeline | str format | str label        (str = u32 length + bytes)
//   type 2, chunk:        the chunk's bytes, exactly as received
//   type 3, stream end:   u32 status code (gRPC numbering, 0 = OK) | str message
//
// time_us is monotonic time since the recording started. Stream ids are nonzero and unique in a
// file; records of concurrent streams interleave. A stream without an end record was still
// running when the recording stopped (max_bytes reached, or the writer died).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace sluice::gateway {

inline constexpr uint16_t kRecordingVersion = 1;

enum class RecordType : uint8_t { StreamStart = 1, Chunk = 2, StreamEnd = 3 };

// Appends streams to a recording. Thread-safe: every record is written whole under one mutex, so
// concurrent streams interleave at record boundaries.
class RecordingWriter {
 public:
  // Creates (truncates) `path`; throws Error(FailedPrecondition) when it cannot. Once a record
  // would grow the file past `max_bytes`, recording stops for good (logged once) and every later
  // call is a cheap no-op; the caller keeps working.
  RecordingWriter(const std::string& path, uint64_t max_bytes);
  ~RecordingWriter();
  RecordingWriter(const RecordingWriter&) = delete;
  RecordingWriter& operator=(const RecordingWriter&) = delete;

  // Returns the new stream's id, or 0 when recording has stopped; 0 is accepted (and ignored) by
  // chunk() and end_stream(), so callers need no special case.
  uint32_t start_stream(std::string_view pipeline, std::string_view format, std::string_view label);
  // Records one chunk of an open stream; chunks of ended or unknown streams are dropped.
  void chunk(uint32_t stream_id, std::string_view bytes);
  // Records the stream's outcome and flushes, so a finished stream is complete on disk.
  void end_stream(uint32_t stream_id, const Status& status);

  uint64_t bytes_written() const;
  bool stopped() const;

 private:
  void append(RecordType type, uint32_t stream_id, std::string_view payload);
  void stop(const std::string& why);

  const std::string path_;
  const uint64_t max_bytes_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();

  mutable std::mutex mu_;
  std::FILE* file_ = nullptr;
  uint64_t written_ = 0;
  bool stopped_ = false;
  uint32_t last_stream_id_ = 0;
  std::unordered_set<uint32_t> open_streams_;
};

struct RecordedChunk {
  uint64_t offset;  // of the payload in the file
  uint32_t size;
  std::chrono::microseconds time;  // since the recording started
};

struct RecordedStream {
  uint32_t id = 0;
  std::string pipeline;
  std::string format;
  std::string label;
  std::chrono::microseconds start_time{0};
  std::vector<RecordedChunk> chunks;
  uint64_t bytes = 0;
  std::optional<Status> end;  // nullopt: the recording stopped before the stream ended
};

// An opened recording. The constructor reads the whole file once, checking every CRC and the
// records' order, and keeps an index of each stream's chunks; chunk bytes are read on demand.
// Any problem throws Error(DataLoss) naming the file and the byte offset of the bad record.
class Recording {
 public:
  explicit Recording(const std::string& path);
  ~Recording();
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  const std::string& path() const { return path_; }
  uint64_t start_unix_us() const { return start_unix_us_; }
  // In the order the streams started.
  const std::vector<RecordedStream>& streams() const { return streams_; }
  // Thread-safe.
  std::string read_chunk(const RecordedChunk& chunk) const;

 private:
  void read_at(uint64_t offset, void* into, size_t size) const;
  [[noreturn]] void corrupt(uint64_t offset, const std::string& problem) const;
  void index();

  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  uint64_t start_unix_us_ = 0;
  std::vector<RecordedStream> streams_;
};

}  // namespace sluice::gateway
