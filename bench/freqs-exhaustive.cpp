// Proof by enumeration that the AVX2 frequency loop writes exactly the integers of the
// scalar reference (native/freqs.h): every 32-bit float pattern a logit can take below
// the maximum (every negative float, both zeros, every NaN) is quantised against a
// maximum of 0 by both, and against a few other maxima on a stride. ~1 minute of CPU.
//
//   g++ -O2 -std=c++20 -ffp-contract=off -fno-fast-math -Inative native/freqs.cpp bench/freqs-exhaustive.cpp -o /tmp/freqs-exhaustive
//   /tmp/freqs-exhaustive      # prints the count of differing blocks (0) and exits 1 otherwise
//
// Why enough: per element both compute (logit - max) * log2e with one IEEE subtraction
// and one multiplication (the same in any SIMD width), then the same exp2 and quantisation
// of that product; max 0 makes the product range over every value it can take below 0.
// The maximum pass and the integer sums are exact in any order (test/native/test_freqs.cpp).
#include <cstdio>
#include <cstring>
#include <vector>

#include "freqs.h"

using lmzip::freqs_detail::Impl;
using lmzip::freqs_detail::quantise;

int main() {
  if (lmzip::freqs_detail::best_impl() != Impl::Avx2) {
    std::printf("this CPU has no AVX2: only the scalar loop runs here, nothing to compare\n");
    return 0;
  }
  const int block = 1 << 20;
  std::vector<float> logits(block);
  std::vector<uint32_t> a(block), b(block);
  uint64_t compared = 0, differing = 0;
  const float maxima[] = {0.0f, 1.0f, -3.5f, 17.25f, 1e6f};
  for (float max_logit : maxima) {
    const uint64_t stride = max_logit == 0.0f ? 1 : 61;  // full enumeration for 0, a sample for others
    for (uint64_t base = 0; base < (uint64_t(1) << 32); base += uint64_t(block) * stride) {
      for (int i = 0; i < block; ++i) {
        uint32_t bits = uint32_t(base + uint64_t(i) * stride);
        float x;
        std::memcpy(&x, &bits, sizeof x);
        logits[i] = x > max_logit ? max_logit : x;  // a logit above the maximum cannot occur
      }
      const uint64_t sa = quantise(Impl::Scalar, logits.data(), block, max_logit, a.data());
      const uint64_t sb = quantise(Impl::Avx2, logits.data(), block, max_logit, b.data());
      compared += block;
      if (sa != sb || std::memcmp(a.data(), b.data(), sizeof(uint32_t) * block) != 0) ++differing;
    }
  }
  std::printf("%llu logits compared, %llu blocks of %d differ between the scalar and AVX2 loops\n",
              (unsigned long long)compared, (unsigned long long)differing, block);
  return differing == 0 ? 0 : 1;
}
