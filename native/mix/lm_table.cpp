#include "lm_table.h"

namespace lmzip::mix {

void LmTable::build(const uint32_t* freqs, int n) {
  f_ = freqs;
  n_ = n;
  uint32_t best = 0;
  uint64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    best = freqs[i] > best ? freqs[i] : best;
    sum += freqs[i];
  }
  total_ = sum;
  // The first token with the largest frequency: blocks of 64 tested at once.
  constexpr int kBlock = 64;
  int i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    uint32_t hits = 0;
    for (int j = 0; j < kBlock; ++j) hits += freqs[i + j] == best;
    if (hits) break;
  }
  while (i < n && freqs[i] != best) ++i;
  top_ = i < n ? i : 0;
}

void LmTable::build_uniform(int n) {
  if (ones_.size() != size_t(n)) ones_.assign(size_t(n), 1);
  build(ones_.data(), n);
}

uint64_t LmTable::mass(int32_t lo, int32_t hi) const {
  uint64_t sum = 0;
  for (int32_t i = lo; i < hi; ++i) sum += f_[i];
  return sum;
}

}  // namespace lmzip::mix
