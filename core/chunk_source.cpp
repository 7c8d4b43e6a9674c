#include "core/chunk_source.h"

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/error.h"

namespace sluice {

FileChunkReader::FileChunkReader(const std::string& path, size_t chunk_bytes)
    : path_(path), file_(path == "-" ? stdin : std::fopen(path.c_str(), "rb")), chunk_bytes_(chunk_bytes) {
  if (!file_) throw Error(ErrorCode::NotFound, fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  if (chunk_bytes_ == 0) throw Error(ErrorCode::InvalidArgument, "chunk size must be positive");
}

FileChunkReader::~FileChunkReader() {
  if (file_ && file_ != stdin) std::fclose(file_);
}

bool FileChunkReader::next(std::string& chunk) {
  size_t n = 0;
  // Read straight into the string: resize() would first write zeros over every byte read.
  chunk.resize_and_overwrite(chunk_bytes_, [&](char* data, size_t) {
    n = std::fread(data, 1, chunk_bytes_, file_);
    return n;
  });
  if (n < chunk_bytes_ && std::ferror(file_)) {
    throw Error(ErrorCode::DataLoss, fmt::format("reading '{}' failed at offset {}", path_, bytes_read_ + n));
  }
  bytes_read_ += n;
  return n > 0;
}

std::string read_whole_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(ErrorCode::NotFound, fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  std::string content;
  char buffer[16384];
  while (const size_t n = std::fread(buffer, 1, sizeof buffer, file.get())) content.append(buffer, n);
  if (std::ferror(file.get())) {
    throw Error(ErrorCode::DataLoss, fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  }
  return content;
}

}  // namespace sluice
