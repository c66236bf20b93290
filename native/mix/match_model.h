// The match model: finds the longest earlier occurrence of the current context in
// the history and predicts the token that followed it (docs/MIXING.md, "Match model").
//
// A table of 2^bits positions indexed by the hash of the last `min_len` tokens
// remembers where each such context was last followed. When no solid match is
// active, the candidate from the table is verified backwards token by token (a
// hash collision verifies to a short length and is ignored). An active match
// advances while its predictions come true; after a miss it keeps its alignment
// (the next token of the earlier occurrence) for up to kMaxMisses misses, because
// records that differ in one field usually continue alike. The caller turns
// length and misses into a confidence.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "history.h"

namespace lmzip::mix {

struct MatchState {
  uint64_t ptr = 0;     // position of the predicted token in the history
  uint32_t len = 0;     // tokens matched since the last miss
  uint32_t misses = 0;  // misses since the match was found
  bool active = false;
};

class MatchModel {
 public:
  static constexpr uint32_t kMaxLength = 65535;
  static constexpr uint32_t kMaxVerify = 64;  // tokens compared when a match is found
  static constexpr uint32_t kMaxMisses = 8;
  MatchModel(int table_bits, int min_len);
  int min_len() const { return min_len_; }
  // The predicted token, or -1.
  static int32_t predicted(const MatchState& s, const History& h) { return s.active ? h.at(s.ptr) : -1; }
  // After chunk `chunk`'s token `index` was coded (and written to the history).
  void update(MatchState& s, const History& h, uint32_t chunk, uint32_t index);
  size_t memory_bytes() const { return table_.size() * sizeof(uint32_t); }

 private:
  uint64_t context_hash(const int32_t* last) const;
  int bits_;
  int min_len_;
  std::vector<uint32_t> table_;  // position following the context + 1; 0: empty
};

}  // namespace lmzip::mix
