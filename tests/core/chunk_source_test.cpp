// FileChunkReader: a file comes back whole, in order, in chunks of the configured size (the last
// one short), whatever the string it reads into held before.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "core/chunk_source.h"
#include "core/error.h"

namespace sluice {
namespace {

class ChunkSource : public ::testing::Test {
 protected:
  void write_file(const std::string& content) {
    std::FILE* file = std::fopen(path_.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    ASSERT_EQ(std::fwrite(content.data(), 1, content.size(), file), content.size());
    std::fclose(file);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  const std::string path_ = (std::filesystem::temp_directory_path() /
                             ("sluice_chunk_source_test_" + std::to_string(::getpid()))).string();
};

std::string numbered_bytes(size_t n) {
  std::string text;
  for (size_t i = 0; i < n; ++i) text += static_cast<char>('a' + i % 26);
  return text;
}

TEST_F(ChunkSource, ReadsTheFileInChunksOfTheGivenSizeTheLastOneShort) {
  const std::string content = numbered_bytes(10 * 1000 + 7);
  write_file(content);
  FileChunkReader reader(path_, 1000);
  std::string chunk = std::string(5000, 'X');  // what the string held before must not show
  std::string read;
  size_t chunks = 0;
  while (reader.next(chunk)) {
    ++chunks;
    EXPECT_EQ(chunk.size(), chunks <= 10 ? 1000u : 7u) << "chunk " << chunks;
    read += chunk;
    chunk = std::string(3000, 'Y');
  }
  EXPECT_EQ(chunks, 11u);
  EXPECT_TRUE(chunk.empty());
  EXPECT_EQ(read, content);
  EXPECT_EQ(reader.bytes_read(), content.size());
}

TEST_F(ChunkSource, AnEmptyFileHasNoChunks) {
  write_file("");
  FileChunkReader reader(path_, 64);
  std::string chunk = "left over";
  EXPECT_FALSE(reader.next(chunk));
  EXPECT_TRUE(chunk.empty());
  EXPECT_EQ(reader.bytes_read(), 0u);
}

TEST_F(ChunkSource, AMissingFileIsNotFoundAndADirectoryFailsToRead) {
  try {
    FileChunkReader reader(path_ + ".missing", 64);
    FAIL() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.status().code, ErrorCode::NotFound);
  }
  FileChunkReader directory(std::filesystem::temp_directory_path().string(), 64);
  std::string chunk;
  try {
    directory.next(chunk);
    FAIL() << "read a directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.status().code, ErrorCode::DataLoss);
    EXPECT_NE(e.status().message.find("offset 0"), std::string::npos) << e.status().message;
  }
}

}  // namespace
}  // namespace sluice
