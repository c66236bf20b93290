#include "context_table.h"

#include <utility>

namespace lmzip::mix {
namespace {
constexpr uint32_t kTokenMask = 0xFFFFFF;
uint32_t slot_count(uint32_t s) { return s >> 24; }
int32_t slot_token(uint32_t s) { return int32_t(s & kTokenMask); }
uint32_t make_slot(int32_t token, uint32_t count) { return (count << 24) | (uint32_t(token) & kTokenMask); }
}  // namespace

ContextTable::ContextTable(int table_bits, uint32_t count_limit)
    : bits_(table_bits), count_limit_(count_limit > 255 ? 255 : count_limit), buckets_(size_t(1) << table_bits) {}

void ContextTable::predict(uint64_t hash, ContextPrediction& out) const {
  out.found = false;
  out.n = 0;
  out.visits = 0;
  out.total = 0;
  const size_t i = pair_index(hash);
  const uint32_t check = check_of(hash);
  const Bucket* b = buckets_[i].check == check ? &buckets_[i] : buckets_[i + 1].check == check ? &buckets_[i + 1] : nullptr;
  if (!b) return;
  out.found = true;
  out.visits = b->visits;
  for (uint32_t s : b->slot) {
    if (slot_count(s) == 0) break;
    out.c[out.n++] = Candidate{slot_token(s), slot_count(s)};
    out.total += slot_count(s);
  }
}

void ContextTable::update(uint64_t hash, int32_t token) {
  const size_t i = pair_index(hash);
  const uint32_t check = check_of(hash);
  Bucket* b;
  if (buckets_[i].check == check) b = &buckets_[i];
  else if (buckets_[i + 1].check == check) b = &buckets_[i + 1];
  else {
    // Replace the less visited bucket of the pair (the first on a tie).
    b = buckets_[i + 1].visits < buckets_[i].visits ? &buckets_[i + 1] : &buckets_[i];
    *b = Bucket{check, 0, {}};
  }
  constexpr int kSlots = ContextPrediction::kSlots;
  int j = 0;
  while (j < kSlots && slot_count(b->slot[j]) != 0 && slot_token(b->slot[j]) != token) ++j;
  if (j < kSlots && slot_count(b->slot[j]) != 0) {
    uint32_t count = slot_count(b->slot[j]) + 1;
    if (count > count_limit_) {
      for (uint32_t& s : b->slot)
        if (slot_count(s) != 0) s = make_slot(slot_token(s), (slot_count(s) + 1) >> 1);
      b->visits = (b->visits + 1) >> 1;
      count = slot_count(b->slot[j]) + 1;
    }
    b->slot[j] = make_slot(token, count);
  } else {
    if (j == kSlots) j = kSlots - 1;  // full: the last (least counted) candidate leaves
    b->slot[j] = make_slot(token, 1);
  }
  // Keep the slots sorted by count, the most recently updated first among equals.
  while (j > 0 && slot_count(b->slot[j]) >= slot_count(b->slot[j - 1])) {
    std::swap(b->slot[j], b->slot[j - 1]);
    --j;
  }
  if (b->visits != UINT32_MAX) ++b->visits;
}

}  // namespace lmzip::mix
