// MixedPredictor: codes one token at a time with the language model's frequency
// table mixed with adaptive context models (docs/MIXING.md).
//
// A token is coded as a short series of binary decisions, each with a probability
// from a logistic mixer over the models' opinions, refined by secondary estimation:
//   stage 1  "is it the candidate c?" (c: of the LM's top token, the match model's
//            prediction and each context's favourite, the one the mixer rates best);
//   stage 2  if not, the token's id, one bit at a time down a binary tree over the
//            vocabulary (c excluded), each node mixing the LM's and the context
//            models' masses on both sides.
// After each token every model learns from it. Encoder and decoder make the same
// calls in the same order (the engine's schedule), so they stay in lock step.
//
//   MixedPredictor p(params, vocab_info, chunk_token_counts);
//   LmTable lm; lm.build(freqs, n_vocab);              // once per token
//   p.code(chunk, index, lm, bit_encoder, token);       // encode ...
//   token = p.code(chunk, index, lm, bit_decoder, -1);  // ... or decode
//   p.end_step();                                       // after each step (all lanes)
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
#include "vocab_info.h"

namespace lmzip::mix {

// When the adaptive state learns from a coded token.
enum class UpdateMode {
  kPerDecision,  // mixers after each binary decision, models after each token
  kPerToken,     // everything after each token
  kPerStep,      // everything at end_step(), in the order tokens were coded:
                 // the tokens of one step could then be predicted in parallel
};

struct MixParams {
  std::vector<ContextSpec> contexts = parse_contexts("o1,o2,o3,o4,o6,column,above");
  int table_bits = 20;  // 2^bits buckets (32 bytes each) per context model
  uint32_t count_limit = 255;
  int match_min_len = 6;
  int match_bits = 20;
  int32_t lr_candidate = 300;  // mixer learning rates
  int32_t lr_tree = 300;
  int32_t lr_boost = 1000;        // extra learning rate of a fresh weight set ...
  uint32_t lr_half = 512;       // ... halved after this many updates of the set
  int mixers = 3;               // first-layer mixers per stage (1: no second layer)
  int32_t lr_final = 150;
  int apm_rate = 6;
  bool tree_apm = true;
  int direct_orders = 3;     // direct node models: orders 0 ... direct_orders-1 (at most 3)
  int direct_bits = 22;      // 2^bits entries (4 bytes each) shared by the direct models
  int direct_limit = 255;    // their adaptation limit
  bool candidate_stage = true;  // false: tree only
  int candidate_policy = 1;     // 0: the LM's top token; 1: the best rated of several
  bool train_chosen_only = false;  // true: only the coded candidate's decision trains the mixer
  UpdateMode update_mode = UpdateMode::kPerDecision;
};

class MixedPredictor {
 public:
  static constexpr int kMaxContexts = 12;
  static constexpr int kMaxDirect = 3;
  static constexpr int kMaxInputs = 2 * kMaxContexts + 3 + kMaxDirect;

  MixedPredictor(const MixParams& params, int n_vocab, const VocabInfo& vocab,
                 const std::vector<uint32_t>& chunk_token_counts);
  ~MixedPredictor();

  // Codes chunk `chunk`'s token `index` (its tokens 0 ... index-1 were coded through
  // this predictor). `coder.code(p16, bit)` codes one decision and returns the bit;
  // `token` is the token to encode, or -1 when decoding. Returns the token.
  template <class Coder>
  int32_t code(uint32_t chunk, uint32_t index, const LmTable& lm, Coder& coder, int32_t token);
  // In UpdateMode::kPerStep, applies the step's learning; otherwise does nothing.
  void end_step();

  size_t memory_bytes() const;

  // Where the bits go (measurement only; off unless enabled).
  struct Stats {
    uint64_t tokens = 0, candidate_hits = 0, tree_decisions = 0;
    double candidate_hit_bits = 0, candidate_miss_bits = 0, tree_bits = 0;
  };
  void enable_stats(Stats* stats) { stats_ = stats; }

 private:
  struct TokenState;
  struct Decision;
  void predict_models(uint32_t chunk, uint32_t index, TokenState& ts) const;
  void candidate_inputs(const TokenState& ts, const LmTable& lm, int32_t c, Decision& d, uint32_t* sm_ctx) const;
  void node_inputs(const TokenState& ts, int32_t lo, int32_t mid, int32_t hi, int32_t excluded, uint64_t fl,
                   uint64_t fr, int depth, Decision& d) const;
  void direct_inputs(const TokenState& ts, uint64_t key, int32_t* st, uint32_t* index) const;
  void learn_decision(const Decision& d);
  void learn_token(TokenState& ts);

  MixParams params_;
  int n_vocab_;
  int n_contexts_;
  int n_order_contexts_;  // how many of the contexts are of kind kOrder
  VocabInfo vocab_;
  History history_;
  std::vector<ContextTable> tables_;
  MatchModel match_;
  std::vector<Sequence> sequences_;  // per chunk
  StateMap escape_map_;              // P(token among a context's candidates)
  StateMap candidate_map_;           // P(candidate right | its statistics in a context)
  StateMap match_map_;               // P(match prediction right | length, misses)
  StateMap direct_map_;              // P(bit | decision, the last 0-2 tokens), hashed
  TwoLayerMixer candidate_mixer_, tree_mixer_;
  Apm candidate_apm1_, candidate_apm2_, tree_apm_;
  std::vector<std::unique_ptr<TokenState>> pending_;  // kPerStep: tokens coded this step
  std::unique_ptr<TokenState> scratch_;
  Stats* stats_ = nullptr;
};

}  // namespace lmzip::mix
