#include "freqs.h"

#include <cmath>
#include <cstring>

namespace lmzip {
namespace {

// Probabilities are quantised relative to the most likely token, which gets 2^30.
constexpr float kQuantScale = 1073741824.0f;  // 2^30
constexpr float kLog2e = 1.44269504088896340736f;

// 2^x for x <= 0, exactly reproducible: a degree-7 Taylor polynomial of e^(f ln 2)
// for the fractional part (relative error < 2e-6, far below what matters for coding)
// times an exact power of two. Below -31 the result would quantise to 0 anyway.
inline float exp2_nonpositive(float x) {
  if (!(x > -31.0f)) return 0.0f;  // also catches NaN
  const float whole = std::floor(x);
  const float f = x - whole;  // exact for |x| < 2^23
  float p = 1.5252733804059840e-5f;  // ln2^7/7!
  p = p * f + 1.5403530393381610e-4f;  // ln2^6/6!
  p = p * f + 1.3333558146428443e-3f;  // ln2^5/5!
  p = p * f + 9.6181291076284772e-3f;  // ln2^4/4!
  p = p * f + 5.5504108664821580e-2f;  // ln2^3/3!
  p = p * f + 2.4022650695910071e-1f;  // ln2^2/2!
  p = p * f + 6.9314718055994531e-1f;  // ln2
  p = p * f + 1.0f;
  const uint32_t scale_bits = uint32_t(int(whole) + 127) << 23;  // 2^whole, whole in [-31, 0]
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}

}  // namespace

uint64_t logits_to_freqs(const float* logits, int n, uint32_t* freqs) {
  float max_logit = -INFINITY;
  for (int i = 0; i < n; ++i)
    if (logits[i] > max_logit) max_logit = logits[i];  // NaN never compares greater
  if (!std::isfinite(max_logit)) {
    for (int i = 0; i < n; ++i) freqs[i] = 1;
    return uint64_t(n);
  }

  uint64_t quantised_sum = 0;
  for (int i = 0; i < n; ++i) {
    const float p = exp2_nonpositive((logits[i] - max_logit) * kLog2e);
    const uint32_t q = uint32_t(p * kQuantScale);  // truncation; p <= ~1
    freqs[i] = q;
    quantised_sum += q;
  }

  // Shift down until the table fits the coder; flat distributions need a shift,
  // peaked ones (the common case) keep full 2^30 resolution.
  int shift = 0;
  while ((quantised_sum >> shift) + uint64_t(n) > kFreqTotalLimit) ++shift;
  uint64_t total = 0;
  for (int i = 0; i < n; ++i) {
    freqs[i] = (freqs[i] >> shift) + 1;
    total += freqs[i];
  }
  return total;
}

double ideal_bits(const float* logits, int n, int token) {
  double max_logit = -INFINITY;
  for (int i = 0; i < n; ++i)
    if (logits[i] > max_logit) max_logit = logits[i];
  if (!std::isfinite(max_logit)) return std::log2(double(n));
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - max_logit);
  const double log_prob = double(logits[token]) - max_logit - std::log(sum);
  return -log_prob / std::log(2.0);
}

}  // namespace lmzip
