// The language model's integer frequency table for one token, with prefix sums so
// that the mass of any token range is O(1) (docs/MIXING.md, "The LM table").
//
// Built once per token in one pass over the vocabulary: the only O(vocabulary)
// work of the mixed coder. Frequencies are those of docs/FORMAT.md (each >= 1).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip::mix {

class LmTable {
 public:
  // From freq_algorithm 1's table (native/freqs.cpp): freqs[0..n), each >= 1.
  void build(const uint32_t* freqs, int n);
  // A flat table (every token 1): coding without a language model.
  void build_uniform(int n);

  int size() const { return n_; }
  uint64_t total() const { return cum_[size_t(n_)]; }
  uint64_t freq(int32_t token) const { return cum_[size_t(token) + 1] - cum_[size_t(token)]; }
  // Sum of freq over tokens [lo, hi).
  uint64_t mass(int32_t lo, int32_t hi) const { return cum_[size_t(hi)] - cum_[size_t(lo)]; }
  // The most likely token (the lowest id on ties).
  int32_t top() const { return top_; }

 private:
  int n_ = 0;
  int32_t top_ = 0;
  std::vector<uint64_t> cum_;  // cum_[i] = sum of freq[0..i)
};

}  // namespace lmzip::mix
