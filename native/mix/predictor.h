// MixedPredictor: codes one token at a time with the language model's frequency
// table mixed with adaptive context models (specified in docs/MIXING.md).
//
// A token is coded as a short series of binary decisions, each with a probability
// from two layers of logistic mixing over the models' opinions, refined by APMs:
//   stage 1  "is it the candidate c?" - of the LM's top token, the match model's
//            prediction and each context's favourite, c is the one the mixer rates
//            most likely;
//   stage 2  if not, the token's id, one bit at a time down a binary tree over the
//            vocabulary (c excluded), each node mixing the LM's and the context
//            models' masses on both sides.
// Then every model learns from the token. Encoder and decoder make the same calls
// in the same order (the engine's schedule), so they stay in lock step.
//
//   MixedPredictor p(params, vocab_info, chunk_token_counts);
//   LmTable lm; lm.build(freqs, n_vocab);                // once per token
//   p.code(chunk, index, lm, bit_encoder, token);         // encode ...
//   token = p.code(chunk, index, lm, bit_decoder, -1);    // ... or decode
//   p.end_step();                                         // after each step (all lanes)
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "adaptive.h"
#include "context_table.h"
#include "contexts.h"
#include "history.h"
#include "lm_table.h"
#include "match_model.h"
#include "params.h"
#include "vocab_info.h"

namespace lmzip::mix {

class MixedPredictor {
 public:
  static constexpr int kMaxContexts = 12;
  static constexpr int kMaxDirect = 3;
  static constexpr int kMaxInputs = 2 * kMaxContexts + 3 + kMaxDirect;
  static constexpr int kMaxOptions = kMaxContexts + 2;
  static constexpr int kMaxVocab = 1 << 24;

  // chunk_token_counts: tokens of each chunk of the block, in chunk order (0 for
  // chunks not coded through this predictor). Throws std::invalid_argument.
  MixedPredictor(const MixParams& params, int n_vocab, const VocabInfo& vocab,
                 const std::vector<uint32_t>& chunk_token_counts);
  ~MixedPredictor();
  MixedPredictor(const MixedPredictor&) = delete;
  MixedPredictor& operator=(const MixedPredictor&) = delete;

  // Codes chunk `chunk`'s token `index`; its tokens 0 ... index-1 were coded through
  // this predictor before. `coder.code(p16, bit)` codes one decision and returns the
  // bit (BitEncoder, BitDecoder); `token` is the token to encode, or -1 to decode.
  // Returns the token.
  template <class Coder>
  int32_t code(uint32_t chunk, uint32_t index, const LmTable& lm, Coder& coder, int32_t token);
  // With UpdateMode::kPerStep: the step's learning, in coding order. Otherwise nothing.
  void end_step();

  const MixParams& params() const { return params_; }

  // Where the bits go (measurement only; off unless enabled).
  struct Stats {
    uint64_t tokens = 0, candidate_hits = 0, tree_decisions = 0;
    double candidate_hit_bits = 0, candidate_miss_bits = 0, tree_bits = 0;
  };
  void enable_stats(Stats* stats) { stats_ = stats; }

 private:
  struct Decision;
  struct TokenState;
  void observe(uint32_t chunk, uint32_t index, TokenState& ts) const;
  void candidate_inputs(const TokenState& ts, const LmTable& lm, int32_t c, Decision& d, uint32_t* sm_ctx) const;
  void node_inputs(const TokenState& ts, int32_t lo, int32_t mid, int32_t hi, int32_t excluded, uint64_t fl,
                   uint64_t fr, int depth, Decision& d) const;
  void direct_inputs(const TokenState& ts, uint64_t key, int32_t* st, uint32_t* index) const;
  uint32_t refine(const TokenState& ts, Decision& d);
  void learn_decision(const Decision& d);
  void learn_token(TokenState& ts);

  MixParams params_;
  int n_vocab_;
  int n_contexts_;
  int n_orders_;  // contexts of kind kOrder (listed in ascending order)
  VocabInfo vocab_;
  History history_;
  std::vector<Sequence> sequences_;  // per chunk
  std::vector<ContextTable> tables_;  // per context
  MatchModel match_;
  StateMap escape_map_;     // P(token among a context's candidates | what the context holds)
  StateMap candidate_map_;  // P(option right | its statistics in a context)
  StateMap match_map_;      // P(match prediction right | length, misses)
  StateMap direct_map_;     // P(bit | decision, the last 0-2 tokens), hashed
  TwoLayerMixer candidate_mixer_, tree_mixer_;
  Apm candidate_apm1_, candidate_apm2_, tree_apm_;
  std::vector<std::unique_ptr<TokenState>> pending_;  // kPerStep: the step's tokens
  std::unique_ptr<TokenState> scratch_;
  Stats* stats_ = nullptr;
};

}  // namespace lmzip::mix
