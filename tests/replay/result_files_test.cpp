// Result file names and compare, and the report, timing, retry and progress arithmetic.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "gateway/replay/progress.h"
#include "gateway/replay/replay.h"
#include "gateway/replay/result_files.h"
#include "support/scratch_dir.h"

namespace sluice::replay {
namespace {

namespace fs = std::filesystem;

TEST(ResultNames, AreSafeStableAndUnique) {
  EXPECT_EQ(result_names({"a.csv", "sub/dir/b.csv", "we ird:name", "", "../up", "a.csv", "a.csv-2", "sub_dir_b.csv"}),
            (std::vector<std::string>{"a.csv", "sub_dir_b.csv", "we_ird_name", "stream", "_.._up", "a.csv-2",
                                      "a.csv-2-2", "sub_dir_b.csv-2"}));
}

class CompareDirs : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "a");
    fs::create_directories(root_ / "b");
  }
  void write(const std::string& dir, const std::string& name, const std::string& text) {
    std::ofstream(root_ / dir / name) << text;
  }
  Comparison compare() { return compare_result_dirs((root_ / "a").string(), (root_ / "b").string()); }

  sluice::testing::ScratchDir root_{"sluice_compare"};
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

v1::ResultBatch batch_of(const std::vector<std::string>& columns, const std::vector<std::vector<v1::Value>>& rows) {
  v1::ResultBatch batch;
  for (const std::string& c : columns) batch.add_columns(c);
  for (const auto& values : rows) {
    v1::Row* row = batch.add_rows();
    for (const v1::Value& v : values) *row->add_values() = v;
  }
  return batch;
}

v1::Value text(const std::string& s) {
  v1::Value v;
  v.set_string_value(s);
  return v;
}

v1::Value number(int64_t n) {
  v1::Value v;
  v.set_int_value(n);
  return v;
}

TEST(CsvResultFile, QuotesWhatNeedsItTellsNullFromEmptyAndKeepsTheSummaryBeside) {
  const sluice::testing::ScratchDir dir("sluice_csv_results");
  v1::Value null_value;
  null_value.set_null_value(v1::NULL_VALUE);
  v1::Value ratio;
  ratio.set_double_value(0.25);
  v1::Value yes;
  yes.set_bool_value(true);
  {
    ResultFile file(dir.path().string(), "s", ResultFormat::Csv);
    file.batch(batch_of({"name", "n", "ratio", "ok"}, {{text("plain"), number(-3), ratio, yes},
                                                       {text("a,b"), null_value, ratio, yes},
                                                       {text("say \"hi\"\nthen"), number(1), ratio, yes},
                                                       {text(""), number(2), ratio, yes}}));
    v1::ResultBatch windowed = batch_of({"name", "n"}, {{text("w"), number(7)}});
    windowed.mutable_window()->set_start(0);
    windowed.mutable_window()->set_end(1000);
    file.batch(windowed);
    file.batch(windowed);  // same columns: no second header
    v1::Summary summary;
    summary.set_pipeline("p");
    summary.mutable_counters()->set_records_in(4);
    summary.mutable_counters()->set_chunks_in(9);  // how the input was cut: left out
    file.summary(summary);
  }
  EXPECT_EQ(read_text(dir / "s.csv"),
            "name,n,ratio,ok\n"
            "plain,-3,0.25,true\n"
            "\"a,b\",,0.25,true\n"
            "\"say \"\"hi\"\"\nthen\",1,0.25,true\n"
            "\"\",2,0.25,true\n"
            "window_start,window_end,name,n\n"
            "0,1000,w,7\n"
            "0,1000,w,7\n");
  const std::string summary = read_text(dir / "s.summary.json");
  EXPECT_NE(summary.find("\"pipeline\":\"p\""), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"records_in\":4"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("chunks_in"), std::string::npos) << summary;
  EXPECT_EQ(result_file_name("s", ResultFormat::Csv), "s.csv");

  ResultFile failed(dir.path().string(), "f", ResultFormat::Csv);
  failed.batch(batch_of({"x"}, {{number(1)}}));
  failed.error(ErrorCode::InvalidArgument);
  EXPECT_EQ(read_text(dir / "f.csv"), "");
  EXPECT_EQ(read_text(dir / "f.summary.json"), "{\"error\":\"INVALID_ARGUMENT\"}\n");
}

TEST_F(CompareDirs, IdenticalSetsAreTheSame) {
  for (const char* dir : {"a", "b"}) {
    write(dir, "x.jsonl", "{\"batch\":1}\n{\"summary\":2}\n");
    write(dir, "y.jsonl", "{\"error\":\"NOT_FOUND\"}\n");
    write(dir, "z.csv", "a,b\n1,2\n");
    write(dir, "z.summary.json", "{\"summary\":{}}\n");
    write(dir, "ignored.txt", dir);  // not a result file
  }
  const Comparison comparison = compare();
  EXPECT_TRUE(comparison.same());
  EXPECT_EQ(comparison.files, 4u);
}

TEST_F(CompareDirs, NamesTheFirstDifferingLineAndMissingFiles) {
  write("a", "x.jsonl", "{\"batch\":1}\n{\"summary\":{\"records_in\":20}}\n{\"more\":1}\n");
  write("b", "x.jsonl", "{\"batch\":1}\n{\"summary\":{\"records_in\":21}}\n");
  write("a", "only_a.jsonl", "1\n");
  write("a", "short.jsonl", "1\n");
  write("b", "short.jsonl", "1\n2\n");
  const Comparison comparison = compare();
  EXPECT_FALSE(comparison.same());
  ASSERT_EQ(comparison.differences.size(), 3u);
  EXPECT_EQ(comparison.differences[0], "only_a.jsonl: only in " + (root_ / "a").string());
  EXPECT_EQ(comparison.differences[1], "short.jsonl: line 2: only B has it: 2");
  EXPECT_EQ(comparison.differences[2],
            "x.jsonl: line 2 differs at column 27:\n"
            "    A: {\"summary\":{\"records_in\":20}}\n"
            "    B: {\"summary\":{\"records_in\":21}}");
}

TEST_F(CompareDirs, LongLinesAreShownAroundTheDifference) {
  const std::string prefix(500, 'p');
  write("a", "x.jsonl", prefix + "A" + std::string(500, 's') + "\n");
  write("b", "x.jsonl", prefix + "B" + std::string(500, 's') + "\n");
  const Comparison comparison = compare();
  ASSERT_EQ(comparison.differences.size(), 1u);
  const std::string& text = comparison.differences[0];
  EXPECT_NE(text.find("column 501"), std::string::npos) << text;
  EXPECT_NE(text.find("A: ..." + std::string(40, 'p') + "A"), std::string::npos) << text;
  EXPECT_LT(text.size(), 500u);
}

TEST_F(CompareDirs, AMissingDirectoryIsAnError) {
  EXPECT_THROW(compare_result_dirs((root_ / "nope").string(), (root_ / "a").string()), Error);
}

TEST(Report, NearestRankPercentiles) {
  std::vector<double> values;
  for (int i = 100; i >= 1; --i) values.push_back(i);
  const Percentiles p = percentiles(values);
  EXPECT_EQ(p.p50, 50);
  EXPECT_EQ(p.p90, 90);
  EXPECT_EQ(p.p99, 99);
  EXPECT_EQ(p.max, 100);
  EXPECT_EQ(percentiles({7}).p50, 7);
  EXPECT_EQ(percentiles({}).max, 0);
}

TEST(Report, OnlyTransientFailuresAreRetried) {
  for (ErrorCode code :
       {ErrorCode::Unavailable, ErrorCode::ResourceExhausted, ErrorCode::DeadlineExceeded, ErrorCode::Aborted}) {
    EXPECT_TRUE(is_retryable(code)) << error_code_name(code);
  }
  for (ErrorCode code : {ErrorCode::InvalidArgument, ErrorCode::NotFound, ErrorCode::Cancelled, ErrorCode::Internal,
                         ErrorCode::PermissionDenied}) {
    EXPECT_FALSE(is_retryable(code)) << error_code_name(code);
  }
}

TEST(Timing, RecordedDelaysAreKeptOrScaled) {
  using std::chrono::microseconds;
  EXPECT_EQ(send_offset(Timing::Fast, 1.0, microseconds(1500)), microseconds(0));
  EXPECT_EQ(send_offset(Timing::Recorded, 4.0, microseconds(1500)), microseconds(1500));  // speed is for scaled
  EXPECT_EQ(send_offset(Timing::Scaled, 2.0, microseconds(1500)), microseconds(750));
  EXPECT_EQ(send_offset(Timing::Scaled, 0.5, microseconds(1500)), microseconds(3000));
}

TEST(Progress, LineShowsBytesStreamsRateAndEta) {
  ProgressCounters counters;
  counters.total_streams = 10;
  counters.total_bytes = 30'000'000;
  counters.bytes_sent = 10'000'000;
  counters.records = 1234;
  counters.streams_done = 3;
  counters.streams_failed = 1;
  EXPECT_EQ(progress_line(counters, 2.0), "10.00 MB  1234 records  streams 3/10 (1 failed)  5.00 MB/s  ETA 4 s");
  counters.streams_done = 10;
  EXPECT_EQ(progress_line(counters, 2.0), "10.00 MB  1234 records  streams 10/10 (1 failed)  5.00 MB/s  done");
}

}  // namespace
}  // namespace sluice::replay
