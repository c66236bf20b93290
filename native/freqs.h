// Logits -> integer frequencies for the arithmetic coder.
//
// Compressor and decompressor must derive bit-identical tables from bit-identical
// logits, whatever the compiler, optimisation level or thread count. freqs.cpp is
// therefore built with -ffp-contract=off and without fast-math, uses its own
// polynomial exp2 instead of libm, and sums in integers (order-independent).
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

}  // namespace lmzip
