#include "pipeline/stages/group_table.h"

#include <memory>
#include <utility>

namespace sluice::pipeline {

namespace {

size_t aligned(size_t offset, size_t alignment) { return (offset + alignment - 1) / alignment * alignment; }

}  // namespace

GroupTable::GroupTable(size_t key_size, std::span<const BoundAggregate> aggregates)
    : key_size_(key_size), aggregates_(aggregates) {
  pointers_offset_ = aligned(key_size_ * sizeof(Value), alignof(Accumulator*));
  size_t offset = pointers_offset_ + aggregates_.size() * sizeof(Accumulator*);
  for (const BoundAggregate& aggregate : aggregates_) {
    const AccumulatorBuilder& builder = aggregate.function->accumulator;
    offset = aligned(offset, builder.alignment);
    accumulator_offsets_.push_back(offset);
    offset += builder.size;
  }
  group_bytes_ = offset;
}

GroupTable::GroupTable(GroupTable&& other) noexcept
    : key_size_(other.key_size_),
      aggregates_(other.aggregates_),
      pointers_offset_(other.pointers_offset_),
      accumulator_offsets_(std::move(other.accumulator_offsets_)),
      group_bytes_(other.group_bytes_),
      slots_(std::move(other.slots_)),
      capacity_bits_(std::exchange(other.capacity_bits_, 0)),
      size_(std::exchange(other.size_, 0)) {}

GroupTable::~GroupTable() {
  for (const Slot& slot : slots_) {
    if (slot.group) delete_group(slot.group, key_size_);
  }
}

void GroupTable::make_room() {
  if (2 * (size_ + 1) <= slots_.size()) return;
  const unsigned bits = slots_.empty() ? 4 : capacity_bits_ + 1;
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(size_t{1} << bits));
  capacity_bits_ = bits;
  size_ = 0;
  for (const Slot& slot : old) {
    if (slot.group) place(slot.hash, slot.group);
  }
}

std::byte* GroupTable::new_group() const {
  auto* group = static_cast<std::byte*>(::operator new(group_bytes_));
  auto** pointers = reinterpret_cast<Accumulator**>(group + pointers_offset_);
  size_t built = 0;
  try {
    for (; built < aggregates_.size(); ++built) {
      const BoundAggregate& aggregate = aggregates_[built];
      pointers[built] = aggregate.function->accumulator.build(group + accumulator_offsets_[built], aggregate.args);
    }
  } catch (...) {
    for (size_t a = 0; a < built; ++a) pointers[a]->~Accumulator();
    ::operator delete(group);
    throw;
  }
  return group;
}

void GroupTable::delete_group(std::byte* group, size_t key_values) const noexcept {
  std::destroy_n(key_of(group), key_values);
  for (Accumulator* accumulator : accumulators_of(group)) accumulator->~Accumulator();
  ::operator delete(group);
}

void GroupTable::place(uint64_t hash, std::byte* group) noexcept {
  size_t i = home_of(hash);
  while (slots_[i].group) i = (i + 1) & (slots_.size() - 1);
  slots_[i] = {hash, group};
  ++size_;
}

}  // namespace sluice::pipeline
