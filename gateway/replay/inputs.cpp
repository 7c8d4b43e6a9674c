#include "gateway/replay/inputs.h"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "core/chunk_source.h"
#include "core/error.h"

namespace sluice::replay {

namespace {

namespace fs = std::filesystem;

StreamInput file_input(const fs::path& path, std::string label, const InputSelection& selection) {
  StreamInput input;
  input.label = std::move(label);
  input.pipeline = selection.pipeline;
  input.format = selection.format;
  input.file = path.string();
  input.bytes = fs::file_size(path);
  return input;
}

void add_directory(const fs::path& dir, const InputSelection& selection, std::vector<StreamInput>& out) {
  std::vector<std::pair<std::string, fs::path>> found;  // relative path, full path
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string relative = entry.path().lexically_relative(dir).generic_string();
    if (fnmatch(selection.glob.c_str(), relative.c_str(), 0) == 0)
      found.emplace_back(std::move(relative), entry.path());
  }
  if (found.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("no files matching '{}' under '{}'", selection.glob, dir.string()));
  }
  std::sort(found.begin(), found.end());
  for (auto& [relative, path] : found) out.push_back(file_input(path, std::move(relative), selection));
}

void add_recording(const std::string& path, const InputSelection& selection, std::vector<StreamInput>& out) {
  auto recording = std::make_shared<const gateway::Recording>(path);
  for (const gateway::RecordedStream& stream : recording->streams()) {
    StreamInput input;
    input.label = stream.label.empty() ? fmt::format("stream-{}", stream.id) : stream.label;
    input.pipeline = selection.pipeline.empty() ? stream.pipeline : selection.pipeline;
    input.format = stream.format;
    input.bytes = stream.bytes;
    input.recording = recording;
    input.recorded = &stream;
    out.push_back(std::move(input));
  }
}

class FileCursor final : public ChunkCursor {
 public:
  FileCursor(const std::string& path, size_t chunk_size) : reader_(path, chunk_size) {}
  bool next(std::string& chunk, std::chrono::microseconds& offset) override {
    offset = std::chrono::microseconds(0);
    return reader_.next(chunk);
  }

 private:
  FileChunkReader reader_;
};

class RecordedCursor final : public ChunkCursor {
 public:
  explicit RecordedCursor(const StreamInput& input) : recording_(*input.recording), stream_(*input.recorded) {}
  bool next(std::string& chunk, std::chrono::microseconds& offset) override {
    if (next_ == stream_.chunks.size()) return false;
    const gateway::RecordedChunk& recorded = stream_.chunks[next_++];
    chunk = recording_.read_chunk(recorded);
    offset = recorded.time - stream_.start_time;
    return true;
  }

 private:
  const gateway::Recording& recording_;
  const gateway::RecordedStream& stream_;
  size_t next_ = 0;
};

}  // namespace

std::vector<StreamInput> collect_inputs(const InputSelection& selection) {
  std::vector<StreamInput> inputs;
  for (const std::string& path : selection.paths) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (fs::is_directory(status)) {
      add_directory(path, selection, inputs);
    } else if (fs::is_regular_file(status)) {
      inputs.push_back(file_input(path, fs::path(path).filename().string(), selection));
    } else {
      throw Error(ErrorCode::NotFound, fmt::format("input '{}' is not a file or directory", path));
    }
  }
  if (!inputs.empty() && selection.pipeline.empty()) {
    throw Error(ErrorCode::InvalidArgument, "files need --pipeline: the pipeline to send them through");
  }
  for (const std::string& path : selection.recordings) add_recording(path, selection, inputs);
  return inputs;
}

std::unique_ptr<ChunkCursor> open_chunks(const StreamInput& input, size_t chunk_size) {
  if (input.recorded) return std::make_unique<RecordedCursor>(input);
  return std::make_unique<FileCursor>(input.file, chunk_size);
}

}  // namespace sluice::replay
