// Coding method 2: the language model mixed with adaptive context models
// (native/mix/, specified in docs/MIXING.md), as a Predictor of the v2 coding path.
//
// Phase 1 is method 1's: each lane's logits become freq_algorithm 1's integer table.
// Phase 2 differs: instead of coding the token as one symbol of that table, the
// mixer codes it as a short series of binary decisions into the same block stream,
// learning from every token in the order the schedule codes them (lane order within
// a step). One MixPredictor serves one block, so its state starts fresh per block.
//
//   auto p = make_predictor(CodingMethod{2, mix_params_for_block(262144)}, model);
#pragma once
#include <memory>
#include <vector>

#include "coding.h"
#include "mix/predictor.h"

namespace lmzip {

// The parameter bytes an encoder records for blocks of at most `block_bytes` original
// bytes: the two-byte preset form, tables sized for half a token per byte (tokens of
// real text average 2-4 bytes; the tables only need to be about as large as the block).
std::vector<uint8_t> mix_params_for_block(uint64_t block_bytes);

class MixPredictor : public Predictor {
 public:
  MixPredictor(const mix::MixParams& params, const Model& model);
  uint64_t frequencies(const LaneView& lane, uint32_t* freqs) override;
  // Phase 1 is method 1's table, a pure function of the lane's logits; the mixer's
  // state is only read and written in phase 2 (encode/decode), in lane order.
  bool lanes_independent() const override { return true; }
  double encode(const LaneView& lane, const uint32_t* freqs, uint64_t total, llama_token token,
                RangeEncoder& out) override;
  llama_token decode(const LaneView& lane, const uint32_t* freqs, uint64_t total, RangeDecoder& in) override;
  void end_step() override;
  void reset() override { mixer_.reset(); }

 private:
  // The mixer for the block whose chunks `lane` sees, created at its first token.
  mix::MixedPredictor& mixer_for(const LaneView& lane);

  mix::MixParams params_;
  mix::VocabInfo vocab_;
  std::unique_ptr<mix::MixedPredictor> mixer_;
  std::vector<uint32_t> ordinal_;  // block chunk index -> its index among the model-coded chunks
  mix::LmTable lm_;
};

}  // namespace lmzip
