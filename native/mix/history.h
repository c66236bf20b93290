// The tokens coded so far in one scope (a block, a lane or a chunk), laid out in
// chunk order: chunk c's token i lives at position base(c) + i. The decoder knows
// every chunk's token count before decoding, so both sides compute the same layout;
// positions not yet coded hold -1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip::mix {

class History {
 public:
  explicit History(const std::vector<uint32_t>& chunk_token_counts) {
    base_.reserve(chunk_token_counts.size() + 1);
    uint64_t pos = 0;
    for (uint32_t n : chunk_token_counts) {
      base_.push_back(pos);
      pos += n;
    }
    base_.push_back(pos);
    tokens_.assign(pos, -1);
  }
  uint64_t base(uint32_t chunk) const { return base_[chunk]; }
  uint64_t size() const { return tokens_.size(); }
  // The token at a position, or -1 when it is not coded yet (or out of range).
  int32_t at(uint64_t pos) const { return pos < tokens_.size() ? tokens_[pos] : -1; }
  void set(uint32_t chunk, uint32_t index, int32_t token) { tokens_[base_[chunk] + index] = token; }
  // Chunk c's first token; its tokens 0 ... i-1 are coded when token i is predicted.
  const int32_t* chunk_tokens(uint32_t chunk) const { return tokens_.data() + base_[chunk]; }

 private:
  std::vector<uint64_t> base_;
  std::vector<int32_t> tokens_;
};

}  // namespace lmzip::mix
