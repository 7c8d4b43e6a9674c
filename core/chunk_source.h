#pragma once
// Reads a file (or stdin, "-") in fixed-size chunks: the input side of every client and of the
// embedded runner.
#include <cstdio>
#include <memory>
#include <string>

namespace sluice {

// The chunk size of the clients, the replay tool and `sluice run` unless told otherwise. Measured
// over loopback, alternated runs of scripts/bench's 200 MB input end to end: 64 KiB 0.45 s, 128 KiB
// 0.385 s, 256 KiB 0.37 s (fewer messages, fewer graph wake-ups). Gateway peak RSS over idle,
// scripts/bench_memory.sh 1 GiB (fast / slow / 8 slow readers): 29 / 27 / 146 MiB at 64 KiB,
// 39 / 37 / 132 at 128 KiB, 60 / 54 / 222 at 256 KiB. 128 KiB has most of the speed.
inline constexpr size_t kDefaultChunkBytes = 128 << 10;

class FileChunkReader {
 public:
  // Throws Error(NotFound) when the file cannot be opened.
  FileChunkReader(const std::string& path, size_t chunk_bytes);
  ~FileChunkReader();
  FileChunkReader(const FileChunkReader&) = delete;
  FileChunkReader& operator=(const FileChunkReader&) = delete;

  // Replaces `chunk` with the next chunk; false at end of file. Throws Error(DataLoss) on a read error.
  bool next(std::string& chunk);
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  std::string path_;
  std::FILE* file_;
  size_t chunk_bytes_;
  uint64_t bytes_read_ = 0;
};

// Reads a whole small file, such as a certificate or a token. Throws Error(NotFound) when it cannot
// be opened and Error(DataLoss) when reading fails (a directory, say).
std::string read_whole_file(const std::string& path);

}  // namespace sluice
