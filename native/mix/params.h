// The mixed coder's parameters and their bytes in a file's header (the coding
// method's parameter bytes; layout in docs/MIXING.md, "Parameters").
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "contexts.h"

namespace lmzip::mix {

// When the adaptive state learns from a coded token.
enum class UpdateMode : uint8_t {
  kPerDecision = 0,  // mixers, APMs and direct models after each coded decision; the rest after the token
  kPerToken = 1,     // everything after each token
  kPerStep = 2,      // everything at the end of each step, tokens in the order they were coded:
                     // the tokens of one step can then be predicted in parallel
};

struct MixParams {
  std::vector<ContextSpec> contexts = parse_contexts("o1,o2,o3,o4,o6,column,above");
  int table_bits = 20;          // 2^bits buckets (32 bytes each) per context model
  uint32_t count_limit = 255;   // a candidate's count that halves its bucket's counts
  int match_min_len = 6;        // tokens a match must have before it predicts
  int match_bits = 20;          // 2^bits match table entries (4 bytes each)
  int direct_orders = 3;        // direct models of the last 0 ... direct_orders-1 tokens
  int direct_bits = 22;         // 2^bits direct model entries (4 bytes each), shared
  int direct_limit = 255;       // their adaptation limit (state map counts)
  int32_t lr_candidate = 300;   // first-layer mixer learning rates
  int32_t lr_tree = 300;
  int32_t lr_boost = 1000;      // extra learning rate of a fresh weight set ...
  uint32_t lr_half = 512;       // ... halved after this many updates of the set
  int32_t lr_final = 150;       // final mixer learning rate
  uint32_t init_lm_weight = 3072;      // first-layer initial weights in 1/4096: the LM's input ...
  uint32_t init_context_weight = 512;  // ... and each context's and direct model's
  int apm_rate = 6;             // APM points move 1/2^rate towards each outcome
  UpdateMode update_mode = UpdateMode::kPerDecision;

  // Table sizes for a block of about `tokens` tokens: tables grow with the input
  // (fewer collisions) up to a bounded memory (about 240 MB at most).
  static MixParams for_block(uint64_t tokens);
  size_t memory_bytes() const;
};

constexpr uint8_t kParamsVersion = 1;
// The short form: two bytes (kPresetVersion, b) stand for MixParams::for_block(2^b),
// every other field at its default (what encoders write unless told otherwise).
constexpr uint8_t kPresetVersion = 2;
constexpr int kMaxPresetBits = 40;
// A decoder refuses parameters whose tables (MixParams::memory_bytes) exceed this.
constexpr size_t kMaxMemory = size_t(512) << 20;

std::vector<uint8_t> serialize_params(const MixParams& p);
// The short form for blocks of about `tokens` tokens: (2, ceil(log2 tokens)).
std::vector<uint8_t> serialize_preset(uint64_t tokens);
// Throws std::invalid_argument naming the first field out of range.
MixParams parse_params(const uint8_t* data, size_t size);

}  // namespace lmzip::mix
