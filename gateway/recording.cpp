#include "gateway/recording.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <zlib.h>

namespace sluice::gateway {

namespace {

constexpr char kMagic[4] = {'S', 'L', 'R', 'C'};
constexpr size_t kFileHeaderBytes = 20;
constexpr size_t kRecordHeaderBytes = 17;  // type, stream id, time, length
constexpr size_t kCrcBytes = 4;

template <typename T>
void store_le(char* out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<char>(static_cast<uint64_t>(value) >> (8 * i));
}

template <typename T>
T load_le(const char* in) {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return static_cast<T>(value);
}

uint32_t crc_of(uint32_t crc, const char* data, size_t size) {
  return static_cast<uint32_t>(crc32_z(crc, reinterpret_cast<const Bytef*>(data), size));
}

void put_u32(std::string& out, uint32_t value) {
  char bytes[4];
  store_le(bytes, value);
  out.append(bytes, 4);
}

void put_string(std::string& out, std::string_view text) {
  put_u32(out, static_cast<uint32_t>(text.size()));
  out.append(text);
}

// Decodes a start or end payload; `ok` turns false when a field runs past the payload's end.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view payload) : rest_(payload) {}
  uint32_t u32() {
    if (rest_.size() < 4) return fail();
    const uint32_t value = load_le<uint32_t>(rest_.data());
    rest_.remove_prefix(4);
    return value;
  }
  std::string string() {
    const uint32_t size = u32();
    if (!ok_ || rest_.size() < size) {
      fail();
      return {};
    }
    std::string value(rest_.substr(0, size));
    rest_.remove_prefix(size);
    return value;
  }
  // Every field was there and nothing is left over.
  bool complete() const { return ok_ && rest_.empty(); }

 private:
  uint32_t fail() {
    ok_ = false;
    rest_ = {};
    return 0;
  }
  std::string_view rest_;
  bool ok_ = true;
};

uint64_t unix_micros_now() {
  using namespace std::chrono;
  return static_cast<uint64_t>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace

RecordingWriter::RecordingWriter(const std::string& path, uint64_t max_bytes) : path_(path), max_bytes_(max_bytes) {
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) {
    throw Error(ErrorCode::FailedPrecondition,
                fmt::format("cannot create recording '{}': {}", path, std::strerror(errno)));
  }
  // Chunks arrive on the gateway's read path: a large buffer keeps most appends to a memcpy.
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  std::array<char, kFileHeaderBytes> header{};
  std::memcpy(header.data(), kMagic, sizeof kMagic);
  store_le(header.data() + 4, kRecordingVersion);
  store_le(header.data() + 8, unix_micros_now());
  store_le(header.data() + 16, crc_of(0, header.data(), 16));
  if (std::fwrite(header.data(), 1, header.size(), file_) != header.size() || std::fflush(file_) != 0) {
    std::fclose(file_);
    throw Error(ErrorCode::FailedPrecondition,
                fmt::format("cannot write recording '{}': {}", path, std::strerror(errno)));
  }
  written_ = header.size();
}

RecordingWriter::~RecordingWriter() { std::fclose(file_); }

uint32_t RecordingWriter::start_stream(std::string_view pipeline, std::string_view format, std::string_view label) {
  std::string payload;
  put_string(payload, pipeline);
  put_string(payload, format);
  put_string(payload, label);
  std::lock_guard lock(mu_);
  if (stopped_) return 0;
  const uint32_t id = ++last_stream_id_;
  append(RecordType::StreamStart, id, payload);
  if (stopped_) return 0;
  open_streams_.insert(id);
  return id;
}

void RecordingWriter::chunk(uint32_t stream_id, std::string_view bytes) {
  if (stream_id == 0) return;
  std::lock_guard lock(mu_);
  // A chunk can race with its stream's end (a failing stream still finishes a read): drop it.
  if (stopped_ || !open_streams_.contains(stream_id)) return;
  append(RecordType::Chunk, stream_id, bytes);
}

void RecordingWriter::end_stream(uint32_t stream_id, const Status& status) {
  if (stream_id == 0) return;
  std::string payload;
  put_u32(payload, static_cast<uint32_t>(status.code));
  put_string(payload, status.message);
  std::lock_guard lock(mu_);
  if (stopped_ || open_streams_.erase(stream_id) == 0) return;
  append(RecordType::StreamEnd, stream_id, payload);
  if (!stopped_ && std::fflush(file_) != 0) stop(fmt::format("writing failed: {}", std::strerror(errno)));
}

uint64_t RecordingWriter::bytes_written() const {
  std::lock_guard lock(mu_);
  return written_;
}

bool RecordingWriter::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

// Holds mu_.
void RecordingWriter::append(RecordType type, uint32_t stream_id, std::string_view payload) {
  const uint64_t record_bytes = kRecordHeaderBytes + payload.size() + kCrcBytes;
  if (written_ + record_bytes > max_bytes_) {
    stop(fmt::format("it reached max_bytes ({} bytes)", max_bytes_));
    return;
  }
  const auto time = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start_);
  std::array<char, kRecordHeaderBytes> header;
  header[0] = static_cast<char>(type);
  store_le(header.data() + 1, stream_id);
  store_le(header.data() + 5, static_cast<uint64_t>(time.count()));
  store_le(header.data() + 13, static_cast<uint32_t>(payload.size()));
  std::array<char, kCrcBytes> crc;
  store_le(crc.data(), crc_of(crc_of(0, header.data(), header.size()), payload.data(), payload.size()));
  if (std::fwrite(header.data(), 1, header.size(), file_) != header.size() ||
      std::fwrite(payload.data(), 1, payload.size(), file_) != payload.size() ||
      std::fwrite(crc.data(), 1, crc.size(), file_) != crc.size()) {
    stop(fmt::format("writing failed: {}", std::strerror(errno)));
    return;
  }
  written_ += record_bytes;
}

// Holds mu_.
void RecordingWriter::stop(const std::string& why) {
  stopped_ = true;
  open_streams_.clear();
  std::fflush(file_);
  spdlog::warn("recording stopped path={} bytes={} reason=\"{}\"; streams are still served, no longer recorded", path_,
               written_, why);
}

Recording::Recording(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw Error(ErrorCode::NotFound, fmt::format("cannot open recording '{}': {}", path, std::strerror(errno)));
  try {
    struct stat info;
    if (::fstat(fd_, &info) != 0) {
      throw Error(ErrorCode::DataLoss, fmt::format("cannot stat recording '{}': {}", path, std::strerror(errno)));
    }
    file_size_ = static_cast<uint64_t>(info.st_size);
    index();
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

Recording::~Recording() { ::close(fd_); }

std::string Recording::read_chunk(const RecordedChunk& chunk) const {
  std::string bytes(chunk.size, '\0');
  read_at(chunk.offset, bytes.data(), bytes.size());
  return bytes;
}

void Recording::read_at(uint64_t offset, void* into, size_t size) const {
  char* out = static_cast<char*>(into);
  while (size > 0) {
    const ssize_t n = ::pread(fd_, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw Error(ErrorCode::DataLoss,
                  fmt::format("recording '{}': reading {} bytes at byte offset {} failed: {}", path_, size, offset,
                              n == 0 ? "unexpected end of file" : std::strerror(errno)));
    }
    out += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<size_t>(n);
  }
}

void Recording::corrupt(uint64_t offset, const std::string& problem) const {
  throw Error(ErrorCode::DataLoss, fmt::format("recording '{}', byte offset {}: {}", path_, offset, problem));
}

void Recording::index() {
  if (file_size_ < kFileHeaderBytes) {
    corrupt(0, fmt::format("truncated file header: it needs {} bytes, the file has {}", kFileHeaderBytes, file_size_));
  }
  std::array<char, kFileHeaderBytes> header;
  read_at(0, header.data(), header.size());
  if (std::memcmp(header.data(), kMagic, sizeof kMagic) != 0) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("'{}' is not a sluice recording: no \"SLRC\" magic at byte offset 0", path_));
  }
  if (const auto version = load_le<uint16_t>(header.data() + 4); version != kRecordingVersion) {
    throw Error(ErrorCode::FailedPrecondition,
                fmt::format("recording '{}' has format version {}; this build reads version {}", path_, version,
                            kRecordingVersion));
  }
  const uint32_t header_crc = crc_of(0, header.data(), 16);
  if (const auto stored = load_le<uint32_t>(header.data() + 16); stored != header_crc) {
    corrupt(0, fmt::format("file header CRC32 mismatch (stored {:#010x}, computed {:#010x})", stored, header_crc));
  }
  start_unix_us_ = load_le<uint64_t>(header.data() + 8);

  std::unordered_map<uint32_t, size_t> stream_index;  // id -> position in streams_
  std::string record;
  for (uint64_t offset = kFileHeaderBytes; offset < file_size_;) {
    const uint64_t remaining = file_size_ - offset;
    if (remaining < kRecordHeaderBytes) {
      corrupt(offset,
              fmt::format("truncated record: its header needs {} bytes, {} remain", kRecordHeaderBytes, remaining));
    }
    record.resize(kRecordHeaderBytes);
    read_at(offset, record.data(), kRecordHeaderBytes);
    const auto type = static_cast<uint8_t>(record[0]);
    const auto stream_id = load_le<uint32_t>(record.data() + 1);
    const std::chrono::microseconds time(load_le<uint64_t>(record.data() + 5));
    const uint64_t length = load_le<uint32_t>(record.data() + 13);
    if (length + kCrcBytes > remaining - kRecordHeaderBytes) {
      corrupt(offset, fmt::format("truncated record: it declares {} payload bytes and a {}-byte CRC32, {} bytes remain",
                                  length, kCrcBytes, remaining - kRecordHeaderBytes));
    }
    record.resize(kRecordHeaderBytes + length + kCrcBytes);
    read_at(offset + kRecordHeaderBytes, record.data() + kRecordHeaderBytes, length + kCrcBytes);
    const uint32_t computed = crc_of(0, record.data(), kRecordHeaderBytes + length);
    if (const auto stored = load_le<uint32_t>(record.data() + kRecordHeaderBytes + length); stored != computed) {
      corrupt(offset,
              fmt::format("corrupt record: CRC32 mismatch (stored {:#010x}, computed {:#010x})", stored, computed));
    }
    const std::string_view payload(record.data() + kRecordHeaderBytes, length);

    auto found = stream_index.find(stream_id);
    RecordedStream* open =
        found != stream_index.end() && !streams_[found->second].end ? &streams_[found->second] : nullptr;
    switch (static_cast<RecordType>(type)) {
      case RecordType::StreamStart: {
        if (stream_id == 0 || found != stream_index.end()) {
          corrupt(offset, fmt::format("stream id {} is zero or was already started", stream_id));
        }
        PayloadReader reader(payload);
        RecordedStream stream;
        stream.id = stream_id;
        stream.start_time = time;
        stream.pipeline = reader.string();
        stream.format = reader.string();
        stream.label = reader.string();
        if (!reader.complete()) corrupt(offset, "malformed stream-start payload");
        stream_index.emplace(stream_id, streams_.size());
        streams_.push_back(std::move(stream));
        break;
      }
      case RecordType::Chunk:
        if (!open) corrupt(offset, fmt::format("chunk of stream {}, which is not open", stream_id));
        open->chunks.push_back({offset + kRecordHeaderBytes, static_cast<uint32_t>(length), time});
        open->bytes += length;
        break;
      case RecordType::StreamEnd: {
        if (!open) corrupt(offset, fmt::format("end of stream {}, which is not open", stream_id));
        PayloadReader reader(payload);
        Status status;
        status.code = static_cast<ErrorCode>(reader.u32());
        status.message = reader.string();
        if (!reader.complete()) corrupt(offset, "malformed stream-end payload");
        open->end = std::move(status);
        break;
      }
      default: corrupt(offset, fmt::format("unknown record type {}", type));
    }
    offset += kRecordHeaderBytes + length + kCrcBytes;
  }
}

}  // namespace sluice::gateway
