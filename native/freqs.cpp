#include "freqs.h"

#include <cmath>
#include <cstring>

namespace lmzip {
namespace {

// Probabilities are quantised relative to the most likely token, which gets 2^30.
constexpr float kQuantScale = 1073741824.0f;  // 2^30
constexpr float kLog2e = 1.44269504088896340736f;

// The exp2 polynomial's coefficients, highest degree first: a degree-7 Taylor
// polynomial of e^(f ln 2) (relative error < 2e-6, far below what matters for coding).
constexpr float kPoly[] = {
    1.5252733804059840e-5f,  // ln2^7/7!
    1.5403530393381610e-4f,  // ln2^6/6!
    1.3333558146428443e-3f,  // ln2^5/5!
    9.6181291076284772e-3f,  // ln2^4/4!
    5.5504108664821580e-2f,  // ln2^3/3!
    2.4022650695910071e-1f,  // ln2^2/2!
    6.9314718055994531e-1f,  // ln2
    1.0f,
};

// 2^x for x <= 0, exactly reproducible: the polynomial for the fractional part times
// an exact power of two. Below -31 the result would quantise to 0 anyway.
inline float exp2_nonpositive(float x) {
  if (!(x > -31.0f)) return 0.0f;  // also catches NaN
  const float whole = std::floor(x);
  const float f = x - whole;  // exact for |x| < 2^23
  float p = kPoly[0];
  for (int k = 1; k < 8; ++k) p = p * f + kPoly[k];
  const uint32_t scale_bits = uint32_t(int(whole) + 127) << 23;  // 2^whole, whole in [-31, 0]
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}

inline uint32_t quantise_one(float logit, float max_logit) {
  const float p = exp2_nonpositive((logit - max_logit) * kLog2e);
  return uint32_t(p * kQuantScale);  // truncation; p <= ~1
}

// ---- the reference: one element at a time ----------------------------------------------

float max_scalar(const float* logits, int begin, int n, float max_logit) {
  for (int i = begin; i < n; ++i)
    if (logits[i] > max_logit) max_logit = logits[i];  // NaN never compares greater
  return max_logit;
}

uint64_t quantise_scalar(const float* logits, int begin, int n, float max_logit, uint32_t* q) {
  uint64_t sum = 0;
  for (int i = begin; i < n; ++i) {
    q[i] = quantise_one(logits[i], max_logit);
    sum += q[i];
  }
  return sum;
}

uint64_t finish_scalar(uint32_t* freqs, int begin, int n, int shift) {
  uint64_t total = 0;
  for (int i = begin; i < n; ++i) {
    freqs[i] = (freqs[i] >> shift) + 1;
    total += freqs[i];
  }
  return total;
}

// ---- the vector loop: the same operations on 8 elements at once -------------------------
//
// Written with GCC/Clang vector extensions and compiled for AVX2 (target("avx2"), chosen
// at run time; the addon's llama.cpp needs AVX2 anyway). Compiled for the SSE2 baseline
// the same body was slower than the scalar loop (measured), so CPUs without AVX2 use
// the scalar loop. Per element it does what quantise_one does, in the same order,
// with the same IEEE single-precision operations: subtract, multiply, floor (as
// truncate-then-correct, exact for |x| < 2^31), subtract, Horner, scale, truncate.
// No FMA: -ffp-contract=off applies to vector extensions as well.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LMZIP_FREQS_VECTOR 1
// Every vector function is inlined into its caller (never passed in registers), so the
// ABI note GCC gives for 32-byte vectors does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
constexpr int kWidth = 8;
typedef float VecF __attribute__((vector_size(32)));
typedef int32_t VecI __attribute__((vector_size(32)));
typedef uint32_t VecU __attribute__((vector_size(32)));
typedef uint64_t VecU64 __attribute__((vector_size(32)));

template <typename V, typename T>
__attribute__((always_inline)) inline V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V, typename T>
__attribute__((always_inline)) inline void store(T* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}
// Adds eight 32-bit counts into four 64-bit sums (each pair: low half plus high half).
__attribute__((always_inline)) inline void accumulate(VecU64* sums, const VecU& counts) {
  const VecU64 pairs = reinterpret_cast<const VecU64&>(counts);
  *sums += (pairs & 0xffffffffu) + (pairs >> 32);
}
__attribute__((always_inline)) inline uint64_t lane_sum(const VecU64& v) { return v[0] + v[1] + v[2] + v[3]; }

__attribute__((always_inline)) inline float max_vector(const float* logits, int n, int* done) {
  const int end = n - n % kWidth;
  VecF best = VecF{} - INFINITY;
  for (int i = 0; i < end; i += kWidth) {
    const VecF x = load<VecF>(logits + i);
    best = x > best ? x : best;  // per lane exactly the scalar rule: NaN never wins
  }
  float max_logit = -INFINITY;
  for (int k = 0; k < kWidth; ++k)
    if (best[k] > max_logit) max_logit = best[k];
  *done = end;
  return max_logit;
}

__attribute__((always_inline)) inline uint64_t quantise_vector(const float* logits, int n, float max_logit, uint32_t* q,
                                                               int* done) {
  const int end = n - n % kWidth;
  VecU64 sum{};
  for (int i = 0; i < end; i += kWidth) {
    VecF x = (load<VecF>(logits + i) - max_logit) * kLog2e;
    const VecI in_range = x > -31.0f;  // all ones where exp2 is computed; false for NaN
    x = in_range ? x : VecF{};
    VecI whole = __builtin_convertvector(x, VecI);  // truncation toward zero
    whole += (__builtin_convertvector(whole, VecF) > x);  // -1 where x was not whole: floor
    const VecF f = x - __builtin_convertvector(whole, VecF);
    VecF p = VecF{} + kPoly[0];
    for (int k = 1; k < 8; ++k) p = p * f + kPoly[k];
    const VecI scale_bits = (whole + 127) << 23;
    VecF scale;
    std::memcpy(&scale, &scale_bits, sizeof scale);
    const VecI quantised = __builtin_convertvector((p * scale) * kQuantScale, VecI) & in_range;
    const VecU out = reinterpret_cast<const VecU&>(quantised);
    store(q + i, out);
    accumulate(&sum, out);
  }
  *done = end;
  return lane_sum(sum);
}

__attribute__((always_inline)) inline uint64_t finish_vector(uint32_t* freqs, int n, int shift, int* done) {
  const int end = n - n % kWidth;
  VecU64 total{};
  for (int i = 0; i < end; i += kWidth) {
    const VecU f = (load<VecU>(freqs + i) >> shift) + 1u;
    store(freqs + i, f);
    accumulate(&total, f);
  }
  *done = end;
  return lane_sum(total);
}
#endif

// One implementation's three passes.
struct Passes {
  float (*max)(const float*, int);
  uint64_t (*quantise)(const float*, int, float, uint32_t*);
  uint64_t (*finish)(uint32_t*, int, int);
};

const Passes kScalar{
    [](const float* l, int n) { return max_scalar(l, 0, n, -INFINITY); },
    [](const float* l, int n, float m, uint32_t* q) { return quantise_scalar(l, 0, n, m, q); },
    [](uint32_t* f, int n, int shift) { return finish_scalar(f, 0, n, shift); },
};

#ifdef LMZIP_FREQS_VECTOR
// The vector body for the bulk, the scalar one for the last n % 8 elements.
#define LMZIP_VECTOR_PASSES(attr)                                                 \
  Passes{                                                                         \
      [](const float* l, int n) attr {                                            \
        int done;                                                                 \
        const float m = max_vector(l, n, &done);                                  \
        return max_scalar(l, done, n, m);                                         \
      },                                                                          \
      [](const float* l, int n, float m, uint32_t* q) attr {                      \
        int done;                                                                 \
        const uint64_t s = quantise_vector(l, n, m, q, &done);                    \
        return s + quantise_scalar(l, done, n, m, q);                             \
      },                                                                          \
      [](uint32_t* f, int n, int shift) attr {                                    \
        int done;                                                                 \
        const uint64_t t = finish_vector(f, n, shift, &done);                     \
        return t + finish_scalar(f, done, n, shift);                              \
      },                                                                          \
  }
const Passes kAvx2 = LMZIP_VECTOR_PASSES(__attribute__((target("avx2"))));
#undef LMZIP_VECTOR_PASSES
#endif

using freqs_detail::Impl;

Impl detect() {
#ifdef LMZIP_FREQS_VECTOR
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? Impl::Avx2 : Impl::Scalar;
#else
  return Impl::Scalar;
#endif
}

const Passes& passes(Impl impl) {
#ifdef LMZIP_FREQS_VECTOR
  if (impl == Impl::Avx2 && freqs_detail::best_impl() == Impl::Avx2) return kAvx2;
#endif
  (void)impl;
  return kScalar;
}

}  // namespace

namespace freqs_detail {
Impl best_impl() {
  static const Impl best = detect();
  return best;
}

const char* impl_name(Impl impl) {
  switch (impl) {
    case Impl::Scalar: return "scalar";
    case Impl::Avx2: return "avx2";
  }
  return "?";
}

uint64_t quantise(Impl impl, const float* logits, int n, float max_logit, uint32_t* q) {
  return passes(impl).quantise(logits, n, max_logit, q);
}

uint64_t logits_to_freqs(Impl impl, const float* logits, int n, uint32_t* freqs) {
  const Passes& run = passes(impl);
  const float max_logit = run.max(logits, n);
  if (!std::isfinite(max_logit)) {
    for (int i = 0; i < n; ++i) freqs[i] = 1;
    return uint64_t(n);
  }
  const uint64_t quantised_sum = run.quantise(logits, n, max_logit, freqs);
  // Shift down until the table fits the coder; flat distributions need a shift,
  // peaked ones (the common case) keep full 2^30 resolution.
  int shift = 0;
  while ((quantised_sum >> shift) + uint64_t(n) > kFreqTotalLimit) ++shift;
  return run.finish(freqs, n, shift);
}
}  // namespace freqs_detail

uint64_t logits_to_freqs(const float* logits, int n, uint32_t* freqs) {
  return freqs_detail::logits_to_freqs(freqs_detail::best_impl(), logits, n, freqs);
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
