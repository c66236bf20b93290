// Logits -> integer frequencies for the arithmetic coder.
//
// Compressor and decompressor must derive bit-identical tables from bit-identical
// logits, whatever the compiler, optimisation level, CPU or thread count. freqs.cpp is
// therefore built with -ffp-contract=off and without fast-math, uses its own
// polynomial exp2 instead of libm, and sums in integers (order-independent).
//
// There are two implementations of the same arithmetic: a plain scalar loop (the
// reference, and what other CPUs use) and an x86-64 AVX2 vector loop (where the CPU
// has AVX2, checked at run time) that performs the same IEEE float operations per element, in the
// same order, so it writes exactly the same integers (test/native/test_freqs.cpp
// compares them on random and adversarial inputs; bench/freqs-exhaustive.cpp on every
// float).
#pragma once
#include <cstdint>

namespace lmzip {

// Totals stay below 2^31 + n_vocab, so the coder (range >= 2^48) keeps at least
// 2^16 of resolution per unit of frequency.
constexpr uint64_t kFreqTotalLimit = uint64_t(1) << 31;

// Writes freqs[0..n) (each >= 1) and returns their sum.
// Non-finite logits get frequency 1; a table with no finite maximum is uniform.
uint64_t logits_to_freqs(const float* logits, int n, uint32_t* freqs);

// -log2 softmax(logits)[token] in double precision: the model's "ideal" code length
// for one token. For measurement only; never used to decide output bytes.
double ideal_bits(const float* logits, int n, int token);

// The pieces of logits_to_freqs, per implementation, for tests and benchmarks.
namespace freqs_detail {
enum class Impl { Scalar, Avx2 };
// The fastest implementation this CPU runs (chosen once).
Impl best_impl();
const char* impl_name(Impl impl);
// logits_to_freqs with a given implementation (one the CPU lacks falls back to Scalar).
uint64_t logits_to_freqs(Impl impl, const float* logits, int n, uint32_t* freqs);
// The quantisation step alone: q[i] = floor(2^30 * exp2((logits[i] - max) * log2 e)),
// 0 where that is below 2^-31 or NaN. Returns the sum of q.
uint64_t quantise(Impl impl, const float* logits, int n, float max_logit, uint32_t* q);
}  // namespace freqs_detail

}  // namespace lmzip
