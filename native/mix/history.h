// The tokens coded so far in one scope (a block, a lane or a chunk), laid out in
// chunk order: chunk c's token i lives at position base(c) + i, where base(c) is
// the sum of the rooms of the chunks before it. Both sides know every chunk's room
// before decoding (in the file format: its size in bytes, an upper bound on its
// tokens), so both compute the same layout; positions not yet coded read as -1.
// Only coded tokens take memory: a chunk's tokens are stored as they arrive.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip::mix {

class History {
 public:
  explicit History(const std::vector<uint32_t>& chunk_rooms) : tokens_(chunk_rooms.size()) {
    base_.reserve(chunk_rooms.size() + 1);
    uint64_t pos = 0;
    for (uint32_t n : chunk_rooms) {
      base_.push_back(pos);
      pos += n;
    }
    base_.push_back(pos);
  }
  uint64_t base(uint32_t chunk) const { return base_[chunk]; }
  // Positions laid out (coded or not).
  uint64_t size() const { return base_.back(); }
  // The token at a position, or -1 when it is not coded yet (or out of range).
  int32_t at(uint64_t pos) const {
    if (pos >= size()) return -1;
    // The last chunk whose base is <= pos (chunks of room 0 share their successor's base).
    const size_t c = size_t(std::upper_bound(base_.begin(), base_.end() - 1, pos) - base_.begin()) - 1;
    const uint64_t i = pos - base_[c];
    return i < tokens_[c].size() ? tokens_[c][size_t(i)] : -1;
  }
  // Chunk c's token `index` (chunks are coded in order, so this appends).
  void set(uint32_t chunk, uint32_t index, int32_t token) {
    std::vector<int32_t>& t = tokens_[chunk];
    if (index >= t.size()) t.resize(size_t(index) + 1, -1);
    t[index] = token;
  }
  // Chunk c's first token; its tokens 0 ... i-1 are coded when token i is predicted.
  // Valid until the chunk's next set().
  const int32_t* chunk_tokens(uint32_t chunk) const { return tokens_[chunk].data(); }

 private:
  std::vector<uint64_t> base_;
  std::vector<std::vector<int32_t>> tokens_;
};

}  // namespace lmzip::mix
