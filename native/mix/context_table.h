// A context model's memory: for each context (a 64-bit hash of what precedes the
// token, see contexts.h), which tokens followed it and how often
// (docs/MIXING.md, "Context tables").
//
// A hashed table of 2^bits buckets in pairs (2-way associative). A bucket holds a
// 32-bit check of the context hash, how often the context was seen, and up to
// kSlots (token, count) candidates sorted by count, most recent first among equals.
// Prediction is sparse: the candidates of one bucket. Memory: 32 << bits bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip::mix {

struct Candidate {
  int32_t token;
  uint32_t count;
};

struct ContextPrediction {
  static constexpr int kSlots = 6;
  bool found = false;       // the context has been seen before
  int n = 0;                // candidates in c[0..n), count >= 1, sorted by count
  uint32_t visits = 0;      // times the context was seen (halved with the counts)
  uint32_t total = 0;       // sum of the candidates' counts
  Candidate c[kSlots];
  // The count of `token` among the candidates, 0 if absent.
  uint32_t count_of(int32_t token) const {
    for (int i = 0; i < n; ++i)
      if (c[i].token == token) return c[i].count;
    return 0;
  }
};

class ContextTable {
 public:
  // count_limit: when a count would exceed it, all counts of the bucket are halved.
  ContextTable(int table_bits, uint32_t count_limit);
  void predict(uint64_t hash, ContextPrediction& out) const;
  void update(uint64_t hash, int32_t token);
  size_t memory_bytes() const { return buckets_.size() * sizeof(Bucket); }

 private:
  struct Bucket {
    uint32_t check;   // 0: empty
    uint32_t visits;
    uint32_t slot[ContextPrediction::kSlots];  // token (low 24 bits) | count (high 8 bits); 0: empty
  };
  static_assert(sizeof(Bucket) == 32);
  size_t pair_index(uint64_t hash) const { return size_t(hash >> (64 - bits_ + 1)) << 1; }
  static uint32_t check_of(uint64_t hash) { return uint32_t(hash) | 1; }

  int bits_;
  uint32_t count_limit_;
  std::vector<Bucket> buckets_;
};

}  // namespace lmzip::mix
