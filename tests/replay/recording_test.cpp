// The recording format: round trips, interleaved streams, truncation and corruption reported with
// the byte offset of the bad record, and the max_bytes bound.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "gateway/gateway_config.h"
#include "gateway/recording.h"
#include "support/scratch_dir.h"

namespace sluice::gateway {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  static const sluice::testing::ScratchDir dir("sluice_recording");
  return (dir / name).string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The message of the Error that opening `path` throws; empty when it opens.
std::string open_error(const std::string& path) {
  try {
    Recording recording(path);
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

// Byte offsets where records start, read straight from the documented layout.
std::vector<size_t> record_offsets(const std::string& bytes) {
  std::vector<size_t> offsets;
  for (size_t at = 20; at < bytes.size();) {
    offsets.push_back(at);
    uint32_t length = 0;
    for (int i = 0; i < 4; ++i)
      length |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 13 + i])) << (8 * i);
    at += 17 + length + 4;
  }
  return offsets;
}

// Two streams whose records interleave, as concurrent gateway calls produce them.
std::string write_interleaved(const std::string& name) {
  const std::string path = temp_path(name);
  RecordingWriter writer(path, 1 << 20);
  const uint32_t a = writer.start_stream("errors", "csv", "a.csv");
  const uint32_t b = writer.start_stream("records", "", "");
  writer.chunk(a, "country,status\n");
  writer.chunk(b, "n\n1\n");
  writer.chunk(a, "US,404\n");
  writer.end_stream(b, Status::Ok());
  writer.chunk(a, std::string("DE,500\n\0binary", 14));
  writer.end_stream(a, {ErrorCode::InvalidArgument, "line 3: bad"});
  return path;
}

TEST(Recording, InterleavedStreamsRoundTrip) {
  const Recording recording(write_interleaved("interleaved.slrc"));
  ASSERT_EQ(recording.streams().size(), 2u);
  const RecordedStream& a = recording.streams()[0];
  const RecordedStream& b = recording.streams()[1];
  EXPECT_EQ(a.pipeline, "errors");
  EXPECT_EQ(a.format, "csv");
  EXPECT_EQ(a.label, "a.csv");
  ASSERT_EQ(a.chunks.size(), 3u);
  EXPECT_EQ(recording.read_chunk(a.chunks[0]), "country,status\n");
  EXPECT_EQ(recording.read_chunk(a.chunks[1]), "US,404\n");
  EXPECT_EQ(recording.read_chunk(a.chunks[2]), std::string("DE,500\n\0binary", 14));
  EXPECT_EQ(a.bytes, 15u + 7u + 14u);
  ASSERT_TRUE(a.end);
  EXPECT_EQ(a.end->code, ErrorCode::InvalidArgument);
  EXPECT_EQ(a.end->message, "line 3: bad");

  EXPECT_EQ(b.pipeline, "records");
  EXPECT_EQ(b.label, "");
  ASSERT_EQ(b.chunks.size(), 1u);
  EXPECT_EQ(recording.read_chunk(b.chunks[0]), "n\n1\n");
  ASSERT_TRUE(b.end);
  EXPECT_TRUE(b.end->ok());

  // Times are offsets from the recording's start, in file order.
  EXPECT_LE(a.start_time, b.start_time);
  EXPECT_LE(a.chunks[0].time, a.chunks[1].time);
  EXPECT_LE(a.chunks[1].time, a.chunks[2].time);
  EXPECT_GT(recording.start_unix_us(), 0u);
}

TEST(Recording, ChunksOfEndedOrUnknownStreamsAreDropped) {
  const std::string path = temp_path("dropped.slrc");
  {
    RecordingWriter writer(path, 1 << 20);
    const uint32_t id = writer.start_stream("p", "", "x");
    writer.end_stream(id, Status::Ok());
    writer.chunk(id, "late");  // a read that raced with the stream's end
    writer.chunk(0, "not recorded");
    writer.chunk(99, "never started");
    writer.end_stream(id, Status::Ok());
  }
  const Recording recording(path);
  ASSERT_EQ(recording.streams().size(), 1u);
  EXPECT_TRUE(recording.streams()[0].chunks.empty());
}

TEST(Recording, EveryTruncationIsAnErrorNamingTheCutRecordOrACleanPrefix) {
  const std::string whole = read_file(write_interleaved("whole.slrc"));
  const std::vector<size_t> offsets = record_offsets(whole);
  ASSERT_EQ(offsets.size(), 8u);
  const std::string path = temp_path("truncated.slrc");
  for (size_t cut = 0; cut < whole.size(); ++cut) {
    write_file(path, whole.substr(0, cut));
    const std::string error = open_error(path);
    const bool at_boundary = cut == 20 || std::find(offsets.begin(), offsets.end(), cut) != offsets.end();
    if (at_boundary) {
      EXPECT_EQ(error, "") << "cut at " << cut;  // a prefix of whole records is a valid recording
      continue;
    }
    size_t record = 0;  // the record the cut falls into (the file header below 20)
    for (size_t offset : offsets) {
      if (offset < cut) record = offset;
    }
    EXPECT_NE(error.find(fmt::format("byte offset {}: truncated", record)), std::string::npos)
        << "cut at " << cut << ": " << error;
    EXPECT_NE(error.find(path), std::string::npos) << error;
  }
}

TEST(Recording, APrefixEndsWithIncompleteStreams) {
  const std::string whole = read_file(write_interleaved("prefix_source.slrc"));
  const std::string path = temp_path("prefix.slrc");
  write_file(path, whole.substr(0, record_offsets(whole)[6]));  // b has ended, a has not
  const Recording recording(path);
  ASSERT_EQ(recording.streams().size(), 2u);
  EXPECT_FALSE(recording.streams()[0].end);  // a was still running
  EXPECT_TRUE(recording.streams()[1].end);
  EXPECT_EQ(recording.streams()[0].chunks.size(), 2u);
}

TEST(Recording, CorruptionIsDetectedByTheRecordsCrc) {
  const std::string whole = read_file(write_interleaved("crc_source.slrc"));
  const std::vector<size_t> offsets = record_offsets(whole);
  const std::string path = temp_path("corrupt.slrc");
  for (size_t record : {offsets[0], offsets[3], offsets[7]}) {
    for (size_t delta : {size_t{0}, size_t{6}, size_t{18}}) {  // type, time, payload
      std::string bytes = whole;
      bytes[record + delta] ^= 0x20;
      write_file(path, bytes);
      const std::string error = open_error(path);
      EXPECT_NE(error.find(fmt::format("byte offset {}: corrupt record: CRC32 mismatch", record)), std::string::npos)
          << "flipped byte " << record + delta << ": " << error;
    }
  }
}

TEST(Recording, BadFileHeadersAreNamed) {
  const std::string whole = read_file(write_interleaved("header_source.slrc"));
  const std::string path = temp_path("header.slrc");

  write_file(path, "country,status\nUS,404\nDE,500\n");
  EXPECT_NE(open_error(path).find("is not a sluice recording"), std::string::npos) << open_error(path);

  std::string newer = whole;
  newer[4] = 2;
  write_file(path, newer);
  EXPECT_NE(open_error(path).find("format version 2"), std::string::npos) << open_error(path);

  std::string flipped = whole;
  flipped[9] ^= 1;  // inside the start time
  write_file(path, flipped);
  EXPECT_NE(open_error(path).find("byte offset 0: file header CRC32 mismatch"), std::string::npos) << open_error(path);

  EXPECT_NE(open_error(temp_path("missing.slrc")).find("cannot open recording"), std::string::npos);
}

TEST(Recording, OutOfOrderRecordsAreCorrupt) {
  // A well-formed record that makes no sense where it stands: a chunk of a stream never started.
  const std::string path = temp_path("orphan.slrc");
  {
    RecordingWriter writer(path, 1 << 20);
    writer.chunk(writer.start_stream("p", "", "x"), "data");
  }
  std::string bytes = read_file(path);
  const std::vector<size_t> offsets = record_offsets(bytes);
  bytes.erase(offsets[0], offsets[1] - offsets[0]);  // drop the stream-start record
  write_file(path, bytes);
  EXPECT_NE(open_error(path).find("byte offset 20: chunk of stream 1, which is not open"), std::string::npos)
      << open_error(path);
}

TEST(Recording, StopsAtMaxBytesAndStaysReadable) {
  const std::string path = temp_path("bounded.slrc");
  const uint64_t max_bytes = 300;
  const std::string chunk(50, 'x');
  {
    RecordingWriter writer(path, max_bytes);
    int started = 0;
    while (!writer.stopped()) {
      const uint32_t id = writer.start_stream("p", "csv", "bounded");
      if (id) ++started;
      for (int i = 0; i < 2; ++i) writer.chunk(id, chunk);
      writer.end_stream(id, Status::Ok());
      ASSERT_LT(started, 100) << "never stopped";
    }
    EXPECT_LE(writer.bytes_written(), max_bytes);
    EXPECT_EQ(writer.start_stream("p", "csv", "after"), 0u);  // stopped for good, even for small records
    EXPECT_EQ(writer.bytes_written(), fs::file_size(path));
  }
  EXPECT_LE(fs::file_size(path), max_bytes);
  const Recording recording(path);
  ASSERT_FALSE(recording.streams().empty());
  EXPECT_TRUE(recording.streams().front().end);  // the first stream fit whole
  EXPECT_FALSE(recording.streams().back().end);  // the bound cut the last one
}

TEST(RecordingConfig, PathIsBesideTheConfigAndTheBoundDefaultsToOneGiB) {
  const auto options = [](const std::string& yaml) {
    return parse_server_options(config::load_string(yaml, "/etc/sluice/gateway.yaml"));
  };
  EXPECT_EQ(options("listen: 127.0.0.1:0").recording_path, "");
  const ServerOptions relative = options("recording: {path: rec/today.slrc}");
  EXPECT_EQ(relative.recording_path, "/etc/sluice/rec/today.slrc");
  EXPECT_EQ(relative.recording_max_bytes, 1ull << 30);
  const ServerOptions bounded = options("recording: {path: /var/rec.slrc, max_bytes: 64MiB}");
  EXPECT_EQ(bounded.recording_path, "/var/rec.slrc");
  EXPECT_EQ(bounded.recording_max_bytes, 64ull << 20);
  EXPECT_THROW(options("recording: {path: a.slrc, max_size: 1GiB}"), config::ConfigError);  // strict keys
  EXPECT_THROW(options("recording: {max_bytes: 1GiB}"), config::ConfigError);               // path required
  EXPECT_THROW(options("recording: {path: a.slrc, max_bytes: 0}"), config::ConfigError);
}

}  // namespace
}  // namespace sluice::gateway
