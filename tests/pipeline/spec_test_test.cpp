#include "pipeline/spec_test.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/scratch_dir.h"

namespace sluice::pipeline {
namespace {

std::string write_spec(const std::string& name, const std::string& body) {
  static const sluice::testing::ScratchDir scratch("sluice_spec");
  const std::string dir = (scratch / name).string();
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/config.yaml") << "pipelines:\n  count:\n    stages:\n      - type: csv\n"
                                         "      - type: group_by\n        keys: [k]\n"
                                         "        aggregates: [{fn: count, as: n}]\n";
  std::ofstream(dir + "/spec.yaml") << "config: config.yaml\ntests:\n" << body;
  return dir + "/spec.yaml";
}

TEST(SpecTest, MatchingExpectationPasses) {
  const auto results = run_spec_file(write_spec("pass", R"(
  - name: counts
    pipeline: count
    chunk_sizes: [1, 3]
    input: "k\na\nb\na\n"
    expect:
      results: [{columns: [k, n], rows: [[a, 2], [b, 1]]}]
      counters: {records_in: 3}
)"),
                                     StageRegistry::with_builtins());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].passed) << results[0].failure;
}

TEST(SpecTest, WrongExpectationFailsNamingTheDifference) {
  const auto results = run_spec_file(write_spec("fail", R"(
  - name: wrong count
    pipeline: count
    input: "k\na\na\n"
    expect:
      results: [{rows: [[a, 3]]}]
  - name: wrong counter
    pipeline: count
    input: "k\na\n"
    expect:
      counters: {records_in: 2}
  - name: a string is not an int
    pipeline: count
    input: "k\n1\n"
    expect:
      results: [{rows: [["1", 1]]}]
)"),
                                     StageRegistry::with_builtins());
  ASSERT_EQ(results.size(), 3u);
  EXPECT_FALSE(results[0].passed);
  EXPECT_NE(results[0].failure.find("expected [a, 3], got [a, 2]"), std::string::npos) << results[0].failure;
  EXPECT_FALSE(results[1].passed);
  EXPECT_NE(results[1].failure.find("records_in"), std::string::npos) << results[1].failure;
  EXPECT_TRUE(results[2].passed) << results[2].failure;  // csv without types yields the string "1"
}

TEST(SpecTest, MalformedSpecIsAConfigError) {
  EXPECT_THROW(run_spec_file(write_spec("bad", "  - name: x\n    pipelin: count\n"), StageRegistry::with_builtins()),
               config::ConfigError);
}

}  // namespace
}  // namespace sluice::pipeline
