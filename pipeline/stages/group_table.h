#pragma once
// group_by's table of groups: each group's key values and accumulators in one allocation, found
// through a flat array of (hash, group) slots probed linearly.
//
// Why not std::unordered_map<Key, accumulators>: a record's lookup there walks a bucket's list
// node, the key's own allocation and each accumulator's, a cache miss apiece once the parse has
// streamed its text through the cache. Here the slots are small enough to stay cached, a slot's
// hash settles nearly every mismatch, and the group's key and accumulators share its cache lines.
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <span>
#include <vector>

#include "core/value.h"
#include "pipeline/stages/aggregate_functions.h"

namespace sluice::pipeline {

class GroupTable {
 public:
  // A group's accumulators, one per aggregate, in the aggregates' order.
  using Accumulators = std::span<Accumulator* const>;

  // Groups of `key_size` key values with one accumulator per aggregate; `aggregates` must outlive
  // the table.
  GroupTable(size_t key_size, std::span<const BoundAggregate> aggregates);
  GroupTable(GroupTable&& other) noexcept;
  GroupTable& operator=(GroupTable&&) = delete;
  ~GroupTable();

  // The accumulators of the group whose key is value_at(0), ..., value_at(key_size - 1), a key
  // that hashes to `hash`; nullopt if there is no such group.
  template <typename ValueAt>
  std::optional<Accumulators> find(uint64_t hash, const ValueAt& value_at) const {
    if (slots_.empty()) return std::nullopt;
    for (size_t i = home_of(hash);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[i];
      if (!slot.group) return std::nullopt;
      if (slot.hash == hash && key_is(slot.group, value_at)) return accumulators_of(slot.group);
    }
  }

  // Adds the group of that key, which find() has not found, with fresh accumulators.
  template <typename ValueAt>
  Accumulators insert(uint64_t hash, const ValueAt& value_at) {
    make_room();
    std::byte* group = new_group();
    Value* key = key_of(group);
    size_t built = 0;
    try {
      for (; built < key_size_; ++built) ::new (key + built) Value(value_at(built));
    } catch (...) {
      delete_group(group, built);
      throw;
    }
    place(hash, group);
    return accumulators_of(group);
  }

  size_t size() const { return size_; }

  // visit(key, accumulators) for each group, in no particular order.
  template <typename Visit>
  void for_each(const Visit& visit) const {
    for (const Slot& slot : slots_) {
      if (slot.group) visit(std::span<const Value>(key_of(slot.group), key_size_), accumulators_of(slot.group));
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    std::byte* group = nullptr;  // null: the slot is free
  };

  // A group's block: its key values, then a pointer to each accumulator, then the accumulators.
  static Value* key_of(std::byte* group) { return reinterpret_cast<Value*>(group); }
  Accumulators accumulators_of(std::byte* group) const {
    return {reinterpret_cast<Accumulator* const*>(group + pointers_offset_), aggregates_.size()};
  }

  template <typename ValueAt>
  bool key_is(std::byte* group, const ValueAt& value_at) const {
    const Value* key = key_of(group);
    for (size_t k = 0; k < key_size_; ++k) {
      if (!ValueEqual{}(key[k], value_at(k))) return false;
    }
    return true;
  }

  // The slot where a hash's probe starts: its own multiplicative mix, so that group_by's choice of
  // partition (the high bits of another one) leaves the slots of a partition's table evenly used.
  size_t home_of(uint64_t hash) const {
    return static_cast<size_t>(((hash ^ (hash >> 31)) * 0xBF58476D1CE4E5B9ull) >> (64 - capacity_bits_));
  }

  // Grows the slots if one more group would fill more than half of them.
  void make_room();
  // A block with its accumulators built, its key values not yet.
  std::byte* new_group() const;
  // Destroys the block's accumulators and its first `key_values` key values, and frees it.
  void delete_group(std::byte* group, size_t key_values) const noexcept;
  void place(uint64_t hash, std::byte* group) noexcept;

  size_t key_size_;
  std::span<const BoundAggregate> aggregates_;
  size_t pointers_offset_ = 0;               // of the accumulator pointers in a block
  std::vector<size_t> accumulator_offsets_;  // of each accumulator in a block
  size_t group_bytes_ = 0;
  std::vector<Slot> slots_;  // a power of two of them, at most half in use; empty before the first group
  unsigned capacity_bits_ = 0;
  size_t size_ = 0;
};

}  // namespace sluice::pipeline
