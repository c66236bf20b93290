// Turning each step's logits into coded tokens: where probabilities come from
// (Predictor), and the hooks that range-code or decode with them (EncodeHook,
// DecodeHook). The lane schedule itself is in engine.h.
//
// A step is coded in two phases:
//  1. every active lane's frequency table is computed (Predictor::frequencies),
//     independently per lane, from its logits, its history and state as it was at
//     the end of the previous step;
//  2. lanes are coded in increasing lane order, and after each token the predictor
//     sees it (Predictor::observe), so adaptive models update in schedule order.
// Phase 1 can therefore run in parallel or be pipelined without changing a byte.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine.h"
#include "range_coder.h"
#include "threads.h"

namespace lmzip {

// A lane's state as a predictor sees it.
struct LaneView {
  int lane = 0;
  size_t chunk = 0;
  uint32_t index = 0;                              // the token about to be coded
  const float* logits = nullptr;                   // the model's n_vocab logits for it
  const std::vector<llama_token>* history = nullptr;  // the chunk's tokens; [0, index) are coded
  const std::vector<ScheduledChunk>* chunks = nullptr;  // every chunk of the block (sizes, which are model-coded)
};

// Where a token's probability comes from, and how the token is coded with it.
// Implementations: ModelPredictor (coding method 1, the model alone) and
// MixPredictor (coding method 2, mix_predictor.h: the model mixed with adaptive
// context models, coded as binary decisions).
class Predictor {
 public:
  explicit Predictor(int n_vocab) : n_vocab_(n_vocab) {}
  virtual ~Predictor() = default;
  int n_vocab() const { return n_vocab_; }
  // Phase 1: writes freqs[0..n_vocab), each >= 1, and returns their sum (< 2^32).
  virtual uint64_t frequencies(const LaneView& lane, uint32_t* freqs) = 0;
  // Phase 2, in lane order: codes the lane's token into the stream, given the table
  // phase 1 wrote for it, and returns the bits it cost (-log2 of its probability,
  // for measurement only). The default codes it as one symbol of the table.
  virtual double encode(const LaneView& lane, const uint32_t* freqs, uint64_t total, llama_token token,
                        RangeEncoder& out);
  // The inverse of encode: reads the lane's token from the stream.
  virtual llama_token decode(const LaneView& lane, const uint32_t* freqs, uint64_t total, RangeDecoder& in);
  // The token coded for `lane` (called in lane order, after it is coded).
  virtual void observe(const LaneView& lane, llama_token token) { (void)lane, (void)token; }
  // After the step's last lane is coded.
  virtual void end_step() {}
  // A block starts: adaptive state must return to its initial value.
  virtual void reset() {}
  // True when frequencies() may be called for several lanes of a step at once, from
  // different threads (it reads only the lane it is given and state no call writes).
  // Phase 1 then runs on the engine's worker threads; otherwise on one thread, in lane order.
  virtual bool lanes_independent() const { return false; }

 private:
  int n_vocab_;
};

// Coding method 1: freq_algorithm 1 over the model's logits (freqs.h).
class ModelPredictor : public Predictor {
 public:
  explicit ModelPredictor(int n_vocab) : Predictor(n_vocab) {}
  uint64_t frequencies(const LaneView& lane, uint32_t* freqs) override;
  bool lanes_independent() const override { return true; }  // a pure function of the lane's logits
};

// Interval arithmetic over a frequency table (exposed for tests).
namespace coding_detail {
// [cum, cum + freqs[token]) is the token's interval: returns cum.
uint64_t cumulative(const uint32_t* freqs, llama_token token);
// The token whose interval holds `target` (< the table's total), and its interval's start.
llama_token find_token(const uint32_t* freqs, int n_vocab, uint64_t target, uint64_t* cum_out);
}  // namespace coding_detail

// The predictor for a coding method; throws Error(UNSUPPORTED_VERSION) for ids this build lacks.
std::unique_ptr<Predictor> make_predictor(const CodingMethod& method, const Model& model);
// Coding method 2 (mix_predictor.cpp); throws Error(CORRUPT_HEADER) for bad parameter bytes.
std::unique_ptr<Predictor> make_mix_predictor(const std::vector<uint8_t>& params, const Model& model);

// Sees every coded token with the table it was coded with (for analysis: cost,
// rank, entropy). Called in coding order.
struct TokenRecord {
  const LaneView& lane;
  llama_token token;
  const uint32_t* freqs;  // the table, n_vocab entries
  uint64_t total;
};
class TokenListener {
 public:
  virtual ~TokenListener() = default;
  virtual void on_token(const TokenRecord& record) = 0;
};

// Phase 1 for a whole step: one table per lane, on the worker threads when there are
// some and the predictor's lanes are independent (the tables are the same either way).
class StepTables {
 public:
  StepTables(Predictor& predictor, int n_vocab) : predictor_(predictor), n_vocab_(size_t(n_vocab)) {}
  void use_workers(WorkerPool* workers) { workers_ = workers; }
  void compute(std::span<LaneStep> lanes, const std::vector<ScheduledChunk>& chunks);
  const uint32_t* freqs(size_t i) const { return tables_.data() + i * n_vocab_; }
  uint64_t total(size_t i) const { return totals_[i]; }
  LaneView view(size_t i) const { return views_[i]; }
  Predictor& predictor() { return predictor_; }

 private:
  Predictor& predictor_;
  size_t n_vocab_;
  WorkerPool* workers_ = nullptr;
  std::vector<uint32_t> tables_;
  std::vector<uint64_t> totals_;
  std::vector<LaneView> views_;
};

// Encodes each lane's next planned token. Streams: format v1 gives every chunk its
// own stream (finished when the chunk ends, trailing zero bytes dropped); format v2
// puts all chunks of a block into one stream, in schedule order (finished by
// finish_block, nothing dropped).
enum class StreamLayout { PerChunk, PerBlock };

class EncodeHook : public StepHook {
 public:
  EncodeHook(const Model& model, Predictor& predictor, StreamLayout layout, std::vector<EncodedChunk>& out,
             bool measure_ideal, TokenListener* listener);
  void code_step(std::span<LaneStep> lanes, std::vector<ScheduledChunk>& chunks) override;
  void use_workers(WorkerPool* workers) { tables_.use_workers(workers); }
  // PerBlock: ends the block's stream and returns it.
  std::vector<uint8_t> finish_block();

 private:
  RangeEncoder& encoder_for(size_t chunk);
  const Model& model_;
  StepTables tables_;
  StreamLayout layout_;
  std::vector<EncodedChunk>& out_;
  bool measure_ideal_;
  TokenListener* listener_;
  std::vector<std::unique_ptr<RangeEncoder>> chunk_encoders_;
  std::vector<uint8_t> block_stream_;
  std::unique_ptr<RangeEncoder> block_encoder_;
  bool coded_any_ = false;
};

// Decodes each lane's next token and appends it to the chunk. A v1 chunk ends after
// its recorded token count; a v2 chunk when its pieces reach its byte size. Damage
// ends in Error(CORRUPT_DATA) as early as it shows.
class DecodeHook : public StepHook {
 public:
  // v1: one stream per chunk (payloads[i] for chunk i), token counts from the file.
  DecodeHook(const Model& model, Predictor& predictor, const std::vector<DecodeChunk>& chunks,
             std::vector<std::string>& out);
  // v2: one stream for the block's chunks.
  DecodeHook(const Model& model, Predictor& predictor, const uint8_t* stream, size_t stream_size,
             const std::vector<BlockChunk>& chunks, std::vector<std::string>& out);
  void code_step(std::span<LaneStep> lanes, std::vector<ScheduledChunk>& chunks) override;
  void use_workers(WorkerPool* workers) { tables_.use_workers(workers); }
  // v2: checks that the stream was used up exactly (a valid stream always is).
  void finish_block() const;

 private:
  RangeDecoder& decoder_for(size_t chunk);
  const Model& model_;
  StepTables tables_;
  StreamLayout layout_;
  std::vector<std::string>& out_;
  std::vector<uint32_t> token_counts_;   // v1
  std::vector<uint64_t> piece_bytes_;    // bytes each chunk's pieces must reach
  std::vector<std::pair<const uint8_t*, size_t>> payloads_;  // v1
  std::vector<std::unique_ptr<RangeDecoder>> chunk_decoders_;
  std::unique_ptr<RangeDecoder> block_decoder_;
};

}  // namespace lmzip
