#pragma once
// Reads a file (or stdin, "-") in fixed-size chunks: the input side of every client and of the
// embedded runner.
#include <cstdio>
#include <memory>
#include <string>

namespace sluice {

// The chunk size of the clients, the replay tool and `sluice run` unless told otherwise. Measured
// over loopback (200 MB, scripts/bench's input): 256 KiB runs end to end about 1.25x faster than
// 64 KiB (fewer messages, fewer graph wake-ups) for about 6 MiB more server peak RSS; 1 MiB gains
// little more and passes the memory goal (peak 64-75 MiB over idle).
inline constexpr size_t kDefaultChunkBytes = 256 << 10;

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
