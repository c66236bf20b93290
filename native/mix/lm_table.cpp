#include "lm_table.h"

namespace lmzip::mix {

void LmTable::build(const uint32_t* freqs, int n) {
  n_ = n;
  cum_.resize(size_t(n) + 1);
  uint64_t sum = 0;
  uint32_t best = 0;
  int32_t top = 0;
  for (int i = 0; i < n; ++i) {
    cum_[size_t(i)] = sum;
    sum += freqs[i];
    if (freqs[i] > best) best = freqs[i], top = i;
  }
  cum_[size_t(n)] = sum;
  top_ = top;
}

void LmTable::build_uniform(int n) {
  n_ = n;
  cum_.resize(size_t(n) + 1);
  for (int i = 0; i <= n; ++i) cum_[size_t(i)] = uint64_t(i);
  top_ = 0;
}

}  // namespace lmzip::mix
