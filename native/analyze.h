// Per-token analysis: what the model thought at each coded step (`lmzip analyze`).
//
// Everything here is computed from the integer frequency table the range coder used
// for the step (freqs.h), never from the float logits, so that:
//  * a token's bits, −log2(f[token] / total), are exactly the terms the compressor
//    sums into its table_bits (same expression, same order), and the payload is
//    within the coder's flush overhead of their sum;
//  * the entropy is the expected cost of the step under the very distribution the
//    coder codes with, so bits − entropy is the surprise beyond what the model
//    expected, with zero mean under the model. (The float softmax differs only by the
//    table's quantisation: each token's frequency is floored at 1 of about 2^31.)
//  * it reuses the table the coder already built: no second pass of exp() over the
//    vocabulary.
// These numbers are for people; nothing here decides output bytes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model.h"

namespace lmzip {

// −log2(freq / total): one token's cost under the table. The compressor's table_bits
// is the sum of exactly these terms in token order (engine.cpp, encode).
double token_bits(uint32_t freq, uint64_t total);

// What one step's table says beyond the token's own cost, from a single pass over it.
struct StepInsight {
  double entropy = 0;  // −Σ (f/total)·log2(f/total), bits (log2 to ~1e-7 relative: for display)
  uint32_t rank = 0;   // 1 + the number of tokens with a strictly higher frequency
  int top_count = 0;   // candidates written to top_ids
};

// One pass over freqs[0..n): the table's entropy, `token`'s rank, and the k most
// frequent tokens, most frequent first (ties: lower id first), into top_ids[0..k).
StepInsight inspect_step(const uint32_t* freqs, int n, uint64_t total, int token, int k, int32_t* top_ids);

// Per-token records of one encode call, in chunk order.
struct TokenRecords {
  int top_k = 0;
  std::vector<int32_t> tokens;
  std::vector<uint32_t> byte_lengths;  // bytes of the chunk each token stands for
  std::vector<double> bits;
  std::vector<float> entropy;
  std::vector<uint32_t> rank;
  std::vector<int32_t> top_ids;  // top_k per token
  std::vector<float> top_probs;  // f / total, top_k per token
  std::vector<double> chunk_bits;      // Σ bits per chunk, summed in token order
  std::vector<uint32_t> chunk_tokens;  // tokens recorded per chunk
  // The pieces of every token id that appears above (tokens or candidates).
  std::vector<int32_t> piece_ids;
  std::vector<uint32_t> piece_lengths;
  std::string piece_bytes;
};

// Collects records while lanes code their chunks interleaved (one record call per
// coded token, on the worker thread), then lays them out chunk by chunk.
class TokenRecorder {
 public:
  TokenRecorder(size_t n_chunks, int top_k);
  void record(size_t chunk, int32_t token, const uint32_t* freqs, int n_vocab, uint64_t total);
  // `strip_leading_space[c]`: chunk c's first piece has a space that is not in the data.
  TokenRecords finish(const Model& model, const std::vector<uint8_t>& strip_leading_space);

 private:
  struct Step {
    int32_t token;
    uint32_t rank;
    double bits;
    float entropy;
  };
  int top_k_;
  std::vector<std::vector<Step>> steps_;       // per chunk
  std::vector<std::vector<int32_t>> top_ids_;  // per chunk, top_k per step
  std::vector<std::vector<float>> top_probs_;
};

}  // namespace lmzip
