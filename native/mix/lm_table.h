// The language model's integer frequency table for one token, as the mixed coder
// reads it (docs/MIXING.md, "The LM table").
//
// A view over freq_algorithm 1's table (native/freqs.cpp, each frequency >= 1, total
// below 2^32): its total and most likely token, found in one vectorised pass, and
// the mass of any token range, summed when asked. The coder asks for the ranges of
// one path down the tree (about n_vocab elements in all, only when stage 1 misses),
// so no prefix-sum array is written.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip::mix {

class LmTable {
 public:
  // freqs must stay valid while the table is used.
  void build(const uint32_t* freqs, int n);
  // A flat table (every token 1): coding without a language model.
  void build_uniform(int n);

  int size() const { return n_; }
  uint64_t total() const { return total_; }
  uint64_t freq(int32_t token) const { return f_[token]; }
  // Sum of freq over tokens [lo, hi).
  uint64_t mass(int32_t lo, int32_t hi) const;
  // The most likely token (the lowest id on ties).
  int32_t top() const { return top_; }

 private:
  const uint32_t* f_ = nullptr;
  int n_ = 0;
  uint64_t total_ = 0;
  int32_t top_ = 0;
  std::vector<uint32_t> ones_;
};

}  // namespace lmzip::mix
