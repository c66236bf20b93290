// MixedPredictor: codes one token at a time with the language model's frequency
// table mixed with adaptive context models (docs/MIXING.md).
//
// A token is coded as a short series of binary decisions, each with a probability
// from a logistic mixer over the models' opinions, refined by secondary estimation:
//   stage 1  "is it the candidate c?" (c: the LM's most likely token);
//   stage 2  if not, the token's id, one bit at a time down a binary tree over the
//            vocabulary (c excluded), each node mixing the LM's and the context
//            models' masses on both sides.
// After each token every model learns from it. Encoder and decoder make the same
// calls in the same order (the engine's schedule), so they stay in lock step.
//
//   MixedPredictor p(params, n_vocab, chunk_token_counts);
//   LmTable lm; lm.build(freqs, n_vocab);            // once per token
//   p.code(chunk, index, lm, bit_encoder, token);     // encode ...
//   token = p.code(chunk, index, lm, bit_decoder, -1) // ... or decode
//   p.end_step();                                     // after each step (all lanes)
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "adaptive.h"
#include "history.h"
#include "lm_table.h"
#include "match_model.h"
#include "order_model.h"

namespace lmzip::mix {

// When the adaptive state learns from a coded token.
enum class UpdateMode {
  kPerDecision,  // mixers after each binary decision, models after each token
  kPerToken,     // everything after each token
  kPerStep,      // everything at end_step(), in the order tokens were coded:
                 // the tokens of one step could then be predicted in parallel
};

struct MixParams {
  std::vector<int> orders{1, 2, 3, 4, 6};  // context orders, ascending, at most kMaxOrders
  int order_bits = 20;                     // 2^bits buckets (32 bytes each) per order
  uint32_t count_limit = 255;
  int match_min_len = 6;
  int match_bits = 20;
  int32_t lr_candidate = 600;  // mixer learning rates
  int32_t lr_tree = 600;
  int apm_rate = 7;
  bool candidate_stage = true;  // false: tree only
  UpdateMode update_mode = UpdateMode::kPerDecision;
};

// The range coder seen as a coder of binary decisions with p16 = P(bit = 1).
// bit 1 takes [0, p16), bit 0 [p16, 65536) of a total of 65536.
template <class Coder>
struct BitCoder;

class MixedPredictor {
 public:
  static constexpr int kMaxOrders = 8;
  static constexpr int kMaxInputs = kMaxOrders + 3;

  MixedPredictor(const MixParams& params, int n_vocab, const std::vector<uint32_t>& chunk_token_counts);
  ~MixedPredictor();

  // Codes chunk `chunk`'s token `index` (its tokens 0 ... index-1 were coded through
  // this predictor). `coder.code(p16, bit)` codes one decision and returns the bit;
  // `token` is the token to encode, or -1 when decoding. Returns the token.
  template <class Coder>
  int32_t code(uint32_t chunk, uint32_t index, const LmTable& lm, Coder& coder, int32_t token);
  // In UpdateMode::kPerStep, applies the step's learning; otherwise does nothing.
  void end_step();

  size_t memory_bytes() const;

 private:
  struct TokenState;
  struct Decision;
  void predict_models(uint32_t chunk, uint32_t index, const LmTable& lm, TokenState& ts) const;
  uint32_t mix_decision(Decision& d) ;
  void learn_decision(const Decision& d);
  void learn_token(TokenState& ts);

  // Inputs of the candidate decision and of one tree node.
  int candidate_inputs(const TokenState& ts, const LmTable& lm, int32_t c, int32_t* st) const;
  int node_inputs(const TokenState& ts, const LmTable& lm, int32_t lo, int32_t mid, int32_t hi, int32_t excluded,
                  uint64_t fl, uint64_t fr, int depth, int32_t* st) const;

  MixParams params_;
  int n_vocab_;
  int n_orders_;
  History history_;
  std::vector<OrderModel> orders_;
  MatchModel match_;
  std::vector<MatchState> match_states_;  // per chunk
  StateMap escape_map_;                   // P(token among a context's candidates)
  StateMap match_map_;                    // P(match prediction right) by length
  Mixer candidate_mixer_, tree_mixer_;
  Apm candidate_apm1_, candidate_apm2_;
  std::vector<std::unique_ptr<TokenState>> pending_;  // kPerStep: tokens coded this step
  std::unique_ptr<TokenState> scratch_;
};

}  // namespace lmzip::mix
