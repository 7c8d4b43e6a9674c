#pragma once
// A fresh, empty directory for one test, removed when the test ends. ctest runs every test case
// as its own process, in parallel, so a fixed name under /tmp would be shared (and wiped) by
// tests running at the same time: mkdtemp gives each its own.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace sluice::testing {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "sluice") {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / (prefix + "_XXXXXX")).string();
    if (!mkdtemp(pattern.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;  // a test that failed half-way may have left anything: never throw here
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace sluice::testing
