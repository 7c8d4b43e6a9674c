#include "pipeline/stages/regex_extract.h"

#include <algorithm>
#include <map>
#include <optional>

#include <gtest/gtest.h>

#include "support/access_log.h"
#include "support/transform_harness.h"

namespace sluice::pipeline {
namespace {

using namespace sluice::testing;

constexpr const char* kAgentPipeline = R"(
on_error: dead_letter
stages:
  - type: csv
    types: {status: int, bytes: int}
  - type: regex_extract
    field: agent
    pattern: '^(?P<product>[A-Za-z]+)/(?P<version>[\d.]+)(?: \((?P<platform>[^)]*)\))?'
)";

// What the pattern above extracts from each agent make_access_records() uses; nullopt: no match.
std::optional<std::vector<Value>> expected_groups(const std::string& agent) {
  static const std::map<std::string, std::optional<std::vector<Value>>> kGroups = {
      {"curl/8", std::vector<Value>{std::string("curl"), std::string("8"), Value{}}},
      {"Mozilla/5.0 (X11, Linux)",
       std::vector<Value>{std::string("Mozilla"), std::string("5.0"), std::string("X11, Linux")}},
      {"say \"hi\"", std::nullopt},
      {"two\nlines", std::nullopt},
      {"plain", std::nullopt},
  };
  return kGroups.at(agent);
}

std::vector<Value> record_values(const AccessRecord& r) { return {r.country, r.status, r.bytes, r.agent}; }

// The origin of each record in to_csv(records): its byte offset and 1-based line.
std::vector<Origin> csv_origins(const std::vector<AccessRecord>& records) {
  const std::string header = to_csv({});
  std::vector<Origin> origins;
  uint64_t offset = header.size(), line = 2;
  for (const auto& r : records) {
    origins.push_back({offset, line});
    const std::string row = to_csv({r}).substr(header.size());
    offset += row.size();
    line += static_cast<uint64_t>(std::count(row.begin(), row.end(), '\n'));
  }
  return origins;
}

PipelinePtr agent_pipeline(const std::string& on_mismatch) {
  return pipeline_from_yaml(std::string(kAgentPipeline) + "    on_mismatch: " + on_mismatch + "\n");
}

const std::vector<std::string> kColumns = {"country", "status", "bytes", "agent", "product", "version", "platform"};

TEST(RegexExtract, NamedGroupsBecomeFieldsAndMismatchesGiveNullsForEveryChunkSize) {
  const auto records = make_access_records(300, 23);
  Table expected{kColumns, {}};
  for (const auto& r : records) {
    std::vector<Value> row = record_values(r);
    const auto groups = expected_groups(r.agent).value_or(std::vector<Value>(3));
    row.insert(row.end(), groups.begin(), groups.end());
    expected.rows.push_back(std::move(row));
  }
  const RunResult run = run_every_chunk_size(agent_pipeline("null"), to_csv(records));
  EXPECT_EQ(as_table(run.results), expected);
  EXPECT_EQ(run.summary.counters.records_out, records.size());
}

TEST(RegexExtract, RejectedMismatchesAreCountedAndDeadLetteredWithExactOrigins) {
  const auto records = make_access_records(300, 29);
  const auto origins = csv_origins(records);
  Table expected{kColumns, {}};
  std::vector<std::string> dead_letters;
  std::map<std::string, uint64_t> reasons;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto groups = expected_groups(records[i].agent);
    if (groups) {
      std::vector<Value> row = record_values(records[i]);
      row.insert(row.end(), groups->begin(), groups->end());
      expected.rows.push_back(std::move(row));
      continue;
    }
    const std::string reason = "'" + records[i].agent + "' does not match the pattern";
    ++reasons[reason];
    dead_letters.push_back(std::to_string(origins[i].line) + ":" + std::to_string(origins[i].offset) +
                           " agent: " + reason);
  }
  ASSERT_GT(dead_letters.size(), 0u);
  ASSERT_LT(dead_letters.size(), records.size());

  const RunResult run = run_every_chunk_size(agent_pipeline("reject"), to_csv(records));
  EXPECT_EQ(as_table(run.results), expected);
  EXPECT_EQ(run.summary.counters.records_rejected, dead_letters.size());
  EXPECT_EQ(run.summary.counters.rejected_by_reason, reasons);
  EXPECT_EQ(describe_dead_letters(run.summary), dead_letters);
}

TEST(RegexExtract, DroppedMismatchesCountAsFiltered) {
  const auto records = make_access_records(300, 31);
  const auto matching = std::count_if(records.begin(), records.end(),
                                      [](const AccessRecord& r) { return expected_groups(r.agent).has_value(); });
  const RunResult run = run_every_chunk_size(agent_pipeline("drop"), to_csv(records));
  EXPECT_EQ(as_table(run.results).rows.size(), static_cast<size_t>(matching));
  EXPECT_EQ(run.summary.counters.records_out, static_cast<uint64_t>(matching));
  EXPECT_EQ(run.summary.counters.records_filtered, records.size() - static_cast<uint64_t>(matching));
  EXPECT_EQ(run.summary.counters.records_rejected, 0u);
}

TEST(RegexExtract, FailPolicyFailsTheStreamNamingLineOffsetAndField) {
  const auto pipeline = pipeline_from_yaml(R"(
on_error: fail
stages:
  - type: csv
  - type: regex_extract
    field: path
    pattern: '^/api/(?P<version>v\d+)/(?P<resource>\w+)'
    on_mismatch: reject
)");
  EXPECT_TRUE(stream_fails_with(pipeline, "path\n/api/v1/users\n/static/app.js\n",
                                "pipeline 'test' rejected a record at line 3 (offset 19), field 'path': "
                                "'/static/app.js' does not match the pattern"));
}

TEST(RegexExtract, NonStringsMatchTheirTextNullsGiveNullsAndAGroupMayReplaceItsField) {
  const auto pipeline = pipeline_from_yaml(R"(
stages:
  - type: csv
    types: {code: int}
  - type: regex_extract
    field: code
    pattern: '(?P<class>\d)(?P<code>\d\d)'
    on_mismatch: reject
)");
  const RunResult run = run_chunked(pipeline, "id,code\na,404\nb,\nc,503\n", 64);
  EXPECT_EQ(as_table(run.results), (Table{{"id", "code", "class"},
                                          {{std::string("a"), std::string("04"), std::string("4")},
                                           {std::string("b"), Value{}, Value{}},
                                           {std::string("c"), std::string("03"), std::string("5")}}}));
  EXPECT_EQ(run.summary.counters.records_rejected, 0u);  // a null is no mismatch
}

TEST(RegexExtract, AGroupThatMatchesEmptyTextGivesAnEmptyString) {
  const auto pipeline = pipeline_from_yaml(
      "stages:\n  - type: csv\n  - type: regex_extract\n    field: s\n    pattern: '^(?P<word>[a-z]*)'\n");
  const RunResult run = run_chunked(pipeline, "s\nab1\n123\n", 64);
  EXPECT_EQ(as_table(run.results), (Table{{"s", "word"},
                                          {{std::string("ab1"), std::string("ab")},
                                           {std::string("123"), std::string("")}}}));
  EXPECT_TRUE(stream_fails_with(pipeline, "a,b\n1,2\n",
                                "regex_extract field 's' is not a field of the input (fields: a, b)"));
}

TEST(RegexExtract, ConfigErrorsPointAtThePatternOrKey) {
  const std::string head = "stages:\n  - type: csv\n  - type: regex_extract\n    field: path\n";
  EXPECT_TRUE(config_fails_at(head + "    pattern: '^/api/(?P<v>v\\d+'\n", 5, 14,
                              "invalid regular expression: missing ): ^/api/(?P<v>v\\d+"));
  EXPECT_TRUE(config_fails_at(head + "    pattern: 'a\\q'\n", 5, 14, "invalid regular expression: invalid escape"));
  EXPECT_TRUE(config_fails_at(head + "    pattern: '^/api/(v\\d+)'\n", 5, 14,
                              "the pattern has no named group (?P<name>...) to extract"));
  EXPECT_TRUE(config_fails_at(head + "    pattern: '(?P<a>x)(?P<a>y)'\n", 5, 14, "the pattern names two groups 'a'"));
  EXPECT_TRUE(config_fails_at(head + "    pattern: '(?P<a>x)'\n    on_mismatch: skip\n", 6, 18,
                              "expected null | reject | drop, got 'skip'"));
  EXPECT_TRUE(config_fails_at(head + "    pattern: '(?P<a>x)'\n    regex: x\n", 6, 5, "unknown key 'regex'"));
  EXPECT_TRUE(config_fails_at(head, 3, 5, "needs the key 'pattern'"));
}

}  // namespace
}  // namespace sluice::pipeline
