#include "pipeline/stages/group_table.h"

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/aggregates.h"

namespace sluice::pipeline {
namespace {

using testing::bound;

using Key = std::vector<Value>;

auto values_of(const Key& key) {
  return [&key](size_t k) -> const Value& { return key[k]; };
}

Key key_number(int64_t i) { return {Value{i % 97}, Value{fmt::format("country-{}", i)}}; }

TEST(GroupTable, FindsEachGroupItHoldsAndNoOther) {
  const std::vector<BoundAggregate> aggregates = {bound("count"), bound("sum")};
  GroupTable table(2, aggregates);
  std::map<int64_t, const Accumulator*> first_accumulator;
  // Enough groups to grow the slots many times; the hashes are poor on purpose (many share one),
  // so that groups of equal hash are told apart by their keys.
  for (int64_t i = 0; i < 3000; ++i) {
    const Key key = key_number(i);
    ASSERT_FALSE(table.find(static_cast<uint64_t>(i % 50), values_of(key))) << i;
    const GroupTable::Accumulators accumulators = table.insert(static_cast<uint64_t>(i % 50), values_of(key));
    ASSERT_EQ(accumulators.size(), 2u);
    first_accumulator[i] = accumulators[0];
  }
  EXPECT_EQ(table.size(), 3000u);
  for (int64_t i = 0; i < 3000; ++i) {
    const Key key = key_number(i);
    const auto found = table.find(static_cast<uint64_t>(i % 50), values_of(key));
    ASSERT_TRUE(found) << i;
    EXPECT_EQ((*found)[0], first_accumulator[i]) << i;
    // The same key under another hash is another key as far as the table knows.
    EXPECT_FALSE(table.find(static_cast<uint64_t>(i % 50 + 50), values_of(key))) << i;
  }
  const Key absent = {Value{int64_t{1}}, Value{std::string("country-2")}};
  EXPECT_FALSE(table.find(2, values_of(absent)));
}

TEST(GroupTable, VisitsEachGroupOnceWithItsKey) {
  const std::vector<BoundAggregate> aggregates = {bound("count")};
  GroupTable table(2, aggregates);
  for (int64_t i = 0; i < 500; ++i) {
    const Key key = key_number(i);
    table.insert(static_cast<uint64_t>(i * 7919), values_of(key))[0]->add(Value{i});
  }
  std::set<std::string> seen;
  size_t visits = 0;
  table.for_each([&](std::span<const Value> key, GroupTable::Accumulators accumulators) {
    ++visits;
    ASSERT_EQ(key.size(), 2u);
    seen.insert(std::get<std::string>(key[1]));
    EXPECT_EQ(accumulators[0]->result(), Value{int64_t{1}});
  });
  EXPECT_EQ(visits, 500u);
  EXPECT_EQ(seen.size(), 500u);
}

// Every function's accumulator in one group's block, each fed what it would be fed alone (in a
// table of its own): if two overlapped in the block, or a move lost one, their results would differ.
TEST(GroupTable, KeepsEachFunctionsAccumulatorApartFromTheOthers) {
  std::vector<BoundAggregate> aggregates;
  for (const AggregateFunction& function : aggregate_functions()) {
    AggregateArgs args;
    args.quantile = 0.3;
    aggregates.push_back(bound(function.name, args));
  }
  const Key key = {Value{std::string("k")}};
  GroupTable together(1, aggregates);
  const GroupTable::Accumulators all = together.insert(1, values_of(key));
  ASSERT_EQ(all.size(), aggregates.size());
  std::vector<GroupTable> alone_tables;
  std::vector<Accumulator*> alone;
  for (const BoundAggregate& aggregate : aggregates) {
    alone_tables.emplace_back(1, std::span(&aggregate, 1));
    alone.push_back(alone_tables.back().insert(1, values_of(key))[0]);
  }
  const auto add_values = [&](int64_t from, int64_t until) {
    for (int64_t v = from; v < until; ++v) {
      const Value value = v % 5 == 0 ? Value{static_cast<double>(v) / 4} : Value{v * v % 37};
      for (size_t a = 0; a < aggregates.size(); ++a) {
        all[a]->add(value);
        alone[a]->add(value);
      }
    }
  };
  add_values(0, 100);
  GroupTable moved(std::move(together));
  EXPECT_EQ(together.size(), 0u);
  EXPECT_FALSE(together.find(1, values_of(key)));
  add_values(100, 250);
  const auto found = moved.find(1, values_of(key));
  ASSERT_TRUE(found);
  for (size_t a = 0; a < aggregates.size(); ++a) {
    EXPECT_EQ((*found)[a]->result(), alone[a]->result()) << aggregates[a].function->name;
  }
}

// A group whose building fails (an accumulator or a key value that throws) leaves the table as it
// was; what was built of the group is destroyed (the ASan job's leak check would see it otherwise).
TEST(GroupTable, AGroupThatFailsToBuildLeavesNothingBehind) {
  struct Throwing : Accumulator {
    void add(const Value&) override {}
    Value result() override { return {}; }
  };
  const AggregateFunction throwing{
      .name = "throwing",
      .summary = "fails to build",
      .accumulator = {sizeof(Throwing), alignof(Throwing),
                      [](void*, const AggregateArgs&) -> Accumulator* { throw std::runtime_error("no room"); }}};
  const std::vector<BoundAggregate> aggregates = {bound("top_k"), {&throwing, {}}};
  GroupTable table(1, aggregates);
  const Key key = {Value{std::string("a key long enough to live on the heap")}};
  EXPECT_THROW(table.insert(1, values_of(key)), std::runtime_error);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.find(1, values_of(key)));

  const std::vector<BoundAggregate> fine = {bound("top_k")};
  GroupTable keyed(2, fine);
  const auto second_value_throws = [&](size_t k) -> const Value& {
    if (k == 1) throw std::runtime_error("no second value");
    return key[0];
  };
  EXPECT_THROW(keyed.insert(1, second_value_throws), std::runtime_error);
  EXPECT_EQ(keyed.size(), 0u);
}

}  // namespace
}  // namespace sluice::pipeline
