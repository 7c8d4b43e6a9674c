#pragma once
// What a replay sends: files, directories (walked recursively, filtered by a glob) and the streams
// of recordings; and the chunk cursors that read them.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateway/recording.h"

namespace sluice::replay {

// One stream to send.
struct StreamInput {
  std::string label;  // the StreamHeader's name; names the result file
  std::string pipeline;
  std::string format;  // empty: not checked by the server
  uint64_t bytes = 0;  // known up front, for the progress ETA
  std::string file;    // a file's path, or else a recorded stream:
  std::shared_ptr<const gateway::Recording> recording;
  const gateway::RecordedStream* recorded = nullptr;  // inside *recording
};

struct InputSelection {
  std::vector<std::string> paths;  // files and directories
  std::string glob = "*";          // filters the files found in directories (by relative path)
  std::vector<std::string> recordings;
  std::string pipeline;  // for files; when set, it also replaces recorded pipelines
  std::string format;    // for files
};

// Files in the order given; each directory's files sorted by relative path; then each
// recording's streams in the order they started. Throws Error naming the path on a missing input,
// a directory without matching files, files without a pipeline, or a corrupt recording.
std::vector<StreamInput> collect_inputs(const InputSelection& selection);

// Reads one stream's chunks, each with the time it was recorded at relative to the stream's
// start (zero for files, which have no timing).
class ChunkCursor {
 public:
  virtual ~ChunkCursor() = default;
  virtual bool next(std::string& chunk, std::chrono::microseconds& offset) = 0;
};

// Files are cut into `chunk_size` pieces; recorded streams keep their recorded chunks.
std::unique_ptr<ChunkCursor> open_chunks(const StreamInput& input, size_t chunk_size);

}  // namespace sluice::replay
