#include "match_model.h"

#include "hash.h"

namespace lmzip::mix {

MatchModel::MatchModel(int table_bits, int min_len)
    : bits_(table_bits), min_len_(min_len), table_(size_t(1) << table_bits, 0) {}

uint64_t MatchModel::context_hash(const int32_t* last) const {
  uint64_t s = kHashSeed;
  for (int j = 0; j < min_len_; ++j) s = hash_step(s, hash_token(last[-j]));
  return hash_finish(s, 0x4D41544348ull) >> (64 - bits_);  // salt "MATCH"
}

void MatchModel::update(MatchState& s, const History& h, uint32_t chunk, uint32_t index) {
  const int32_t* tokens = h.chunk_tokens(chunk);
  const int32_t token = tokens[index];
  if (s.active) {
    if (h.at(s.ptr) == token) {
      if (s.len < kMaxLength) ++s.len;
    } else {
      s.len = 0;
      if (++s.misses > kMaxMisses) s.active = false;
    }
    ++s.ptr;
  }
  const uint32_t available = index + 1;
  if (available < uint32_t(min_len_)) return;
  const uint64_t slot = context_hash(tokens + index);
  const uint64_t here = h.base(chunk) + index + 1;  // where the token after this context goes
  if (s.len < uint32_t(min_len_) && table_[slot] != 0) {
    const uint64_t cand = table_[slot] - 1;
    uint32_t len = 0;
    while (len < kMaxVerify && len < available && cand >= len + 1 && h.at(cand - 1 - len) == tokens[index - len]) ++len;
    if (len >= uint32_t(min_len_) && len > s.len) s = MatchState{cand, len, 0, true};
  }
  table_[slot] = uint32_t(here + 1);
}

}  // namespace lmzip::mix
