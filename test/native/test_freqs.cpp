// logits_to_freqs invariants: every frequency >= 1, total below 2^31 + n (so < 2^32),
// non-finite logits handled, the argmax keeps most mass, monotone in the logits, and
// bit-identical results from copies of freqs.cpp built at -O0, -O2 and -O3 -march=native
// (see CMakeLists.txt: each copy lives in its own namespace).
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "check.h"
#include "freqs.h"

namespace lmzip_O0 { uint64_t logits_to_freqs(const float* logits, int n, uint32_t* freqs); }
namespace lmzip_O2 { uint64_t logits_to_freqs(const float* logits, int n, uint32_t* freqs); }
namespace lmzip_O3native { uint64_t logits_to_freqs(const float* logits, int n, uint32_t* freqs); }

using lmzip::kFreqTotalLimit;
using lmzip::logits_to_freqs;

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

uint64_t check_invariants(const std::vector<float>& logits, std::vector<uint32_t>& q) {
  const int n = int(logits.size());
  q.assign(logits.size(), 0xDEADBEEF);
  const uint64_t total = logits_to_freqs(logits.data(), n, q.data());
  uint64_t sum = 0;
  bool all_ge1 = true;
  for (uint32_t f : q) {
    all_ge1 = all_ge1 && f >= 1;
    sum += f;
  }
  CHECK(all_ge1);
  CHECK(sum == total);
  CHECK(total <= kFreqTotalLimit + uint64_t(n));
  CHECK(total < (uint64_t(1) << 32));
  return total;
}

std::vector<float> random_logits(std::mt19937_64& rng, int n, float scale) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = normal(rng);
  return v;
}
}  // namespace

TEST(invariants_random) {
  std::mt19937_64 rng(11);
  std::vector<uint32_t> q;
  const int sizes[] = {1, 2, 3, 256, 512, 32000, 50257, 151936};
  const float scales[] = {0.0f, 1e-6f, 0.1f, 1.0f, 5.0f, 30.0f, 1e4f, 1e30f};
  for (int n : sizes)
    for (float s : scales) check_invariants(random_logits(rng, n, s), q);
}

TEST(uniform_and_flat) {
  std::vector<uint32_t> q;
  for (int n : {1, 7, 512, 151936}) {
    std::vector<float> l(size_t(n), 3.25f);
    check_invariants(l, q);
    bool equal = true;
    for (uint32_t f : q) equal = equal && f == q[0];
    CHECK(equal);
  }
}

TEST(non_finite_logits) {
  std::vector<uint32_t> q;
  // All NaN, all -inf, all +inf: uniform tables.
  for (float v : {kNaN, -kInf, kInf}) {
    std::vector<float> l(1000, v);
    CHECK(check_invariants(l, q) == 1000);
  }
  // A mix: NaN and -inf get frequency 1, finite values share the rest.
  std::vector<float> l{1.0f, kNaN, -kInf, 2.0f, kNaN, -1e38f, 0.0f};
  check_invariants(l, q);
  CHECK(q[1] == 1 && q[2] == 1 && q[4] == 1);
  CHECK(q[3] > q[0] && q[0] > q[6]);
  // +inf anywhere: no finite maximum, uniform.
  std::vector<float> p{1.0f, kInf, 2.0f};
  CHECK(check_invariants(p, q) == 3);
  // Extremes of float range: max - x overflows to inf.
  std::vector<float> e{std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(), 0.0f,
                       std::numeric_limits<float>::denorm_min()};
  check_invariants(e, q);
  CHECK(q[0] > q[1]);
}

TEST(peaked_keeps_resolution) {
  std::vector<float> l(32000, -10.0f);
  l[123] = 20.0f;
  std::vector<uint32_t> q;
  const uint64_t total = check_invariants(l, q);
  CHECK(q[123] >= (1u << 30));
  CHECK(double(q[123]) / double(total) > 0.999);
}

TEST(monotone) {
  std::mt19937_64 rng(12);
  std::vector<uint32_t> q;
  for (int iter = 0; iter < 20; ++iter) {
    auto l = random_logits(rng, 5000, 3.0f);
    check_invariants(l, q);
    bool ok = true;
    for (int k = 0; k < 2000; ++k) {
      const size_t a = rng() % l.size(), b = rng() % l.size();
      if (l[a] > l[b] && q[a] < q[b]) ok = false;
    }
    CHECK(ok);
  }
}

TEST(same_result_across_optimisation_levels) {
  std::mt19937_64 rng(13);
  int compared = 0, differing = 0;
  for (int iter = 0; iter < 200; ++iter) {
    const int n = iter % 4 == 0 ? 151936 : 1 + int(rng() % 33000);
    auto l = random_logits(rng, n, iter % 5 == 0 ? 0.01f : float(1 + rng() % 20));
    if (iter % 7 == 0) l[rng() % l.size()] = kNaN;
    std::vector<uint32_t> a(l.size()), b(l.size()), c(l.size()), d(l.size());
    const uint64_t ta = logits_to_freqs(l.data(), n, a.data());
    const uint64_t tb = lmzip_O0::logits_to_freqs(l.data(), n, b.data());
    const uint64_t tc = lmzip_O2::logits_to_freqs(l.data(), n, c.data());
    const uint64_t td = lmzip_O3native::logits_to_freqs(l.data(), n, d.data());
    ++compared;
    if (!(ta == tb && tb == tc && tc == td && a == b && b == c && c == d)) ++differing;
  }
  std::printf("  %d tables compared, %d differ between -O0, -O2, -O3 -march=native and the library build\n",
              compared, differing);
  CHECK(differing == 0);
}

// The AVX2 loop against the scalar reference: the same integers on every input
// (bench/freqs-exhaustive.cpp enumerates every float; this is its quick sample).
std::vector<float> adversarial_logits(std::mt19937_64& rng, int n) {
  std::vector<float> l(static_cast<size_t>(n));
  std::uniform_real_distribution<float> wide(-40.0f, 0.0f);
  for (auto& x : l) {
    switch (rng() % 10) {
      case 0: x = float(-int(rng() % 40)) / 1.4426950408889634f; break;  // exp2 argument near a whole number
      case 1: x = -31.0f / 1.4426950408889634f + float(int(rng() % 5) - 2) * 1e-6f; break;  // the cut-off
      case 2: { uint32_t bits = uint32_t(rng()); std::memcpy(&x, &bits, sizeof x); break; }  // any pattern
      case 3: x = rng() % 2 ? kNaN : -kInf; break;
      case 4: x = rng() % 2 ? -0.0f : std::numeric_limits<float>::denorm_min(); break;
      default: x = wide(rng);
    }
  }
  return l;
}

TEST(vector_loop_equals_scalar_reference) {
  using lmzip::freqs_detail::Impl;
  if (lmzip::freqs_detail::best_impl() != Impl::Avx2) {
    std::printf("  SKIPPED: this CPU has no AVX2, only the scalar loop runs here\n");
    return;
  }
  std::mt19937_64 rng(14);
  int compared = 0, differing = 0;
  for (int iter = 0; iter < 600; ++iter) {
    // Every remainder of 8 (the vector width) for the scalar tail, and real vocabulary sizes.
    const int n = iter < 40 ? 1 + iter : (iter % 3 == 0 ? 49152 + int(rng() % 9) : 1 + int(rng() % 5000));
    std::vector<float> l = iter % 2 ? adversarial_logits(rng, n) : random_logits(rng, n, float(1 + rng() % 30));
    if (iter % 5 == 0) l[rng() % l.size()] = kInf;  // no finite maximum: the uniform table
    std::vector<uint32_t> a(l.size()), b(l.size());
    const uint64_t ta = lmzip::freqs_detail::logits_to_freqs(Impl::Scalar, l.data(), n, a.data());
    const uint64_t tb = lmzip::freqs_detail::logits_to_freqs(Impl::Avx2, l.data(), n, b.data());
    // The quantisation alone too (the table's low bits survive no shift here).
    float max_logit = -kInf;
    for (float x : l)
      if (x > max_logit) max_logit = x;
    if (std::isfinite(max_logit)) {
      std::vector<uint32_t> qa(l.size()), qb(l.size());
      const uint64_t sa = lmzip::freqs_detail::quantise(Impl::Scalar, l.data(), n, max_logit, qa.data());
      const uint64_t sb = lmzip::freqs_detail::quantise(Impl::Avx2, l.data(), n, max_logit, qb.data());
      if (sa != sb || qa != qb) ++differing;
    }
    ++compared;
    if (ta != tb || a != b) ++differing;
  }
  std::printf("  %d tables compared, %d differ between the AVX2 loop and the scalar reference\n", compared, differing);
  CHECK(differing == 0);
}

TEST(ideal_bits_sane) {
  std::vector<float> l{0.0f, 0.0f, 0.0f, 0.0f};
  CHECK(std::fabs(lmzip::ideal_bits(l.data(), 4, 2) - 2.0) < 1e-9);
  std::vector<float> nan(4, kNaN);
  CHECK(std::fabs(lmzip::ideal_bits(nan.data(), 4, 0) - 2.0) < 1e-9);
}

TEST_MAIN()
