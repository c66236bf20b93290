// The lane engine: runs the lane schedule (which tokens go into which llama_decode)
// and hands each step's logits to a coding hook (what is done with them).
//
// The schedule is what makes encoder and decoder logits bit-identical:
//  * scheduled chunks are handed to lanes in order; a lane that finishes its chunk
//    takes the next one at the following step (lowest lane first);
//  * a lane starts a chunk by feeding the start token (BOS) at position 0;
//  * a lane whose context holds `window` positions keeps the start token and its last
//    `overlap` tokens: either it restarts (its sequence is cleared and they are fed
//    again) or, with shift_context, the cached ones are moved down in place and only
//    the newest is fed (llama.cpp re-rotates the moved keys: no prefill), with
//    compact_shift after moving them to the lowest cells of the lane's cache;
//  * each step puts every active lane's tokens into one batch, in lane order, and
//    asks for logits of each lane's last token only.
// When a chunk ends is decided by the hook (encoder: its plan is used up; decoder:
// the token count recorded in a v1 file, or the chunk's byte size in v2), so the
// schedule is a function of the chunks' token counts alone.
//
// The hook (StepHook) receives all active lanes of a step at once. The standard
// hooks (coding.h) compute every lane's frequency table first, then range-code the
// lanes in lane order, so that table computation can be parallelised or pipelined
// without changing a byte.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model.h"

namespace lmzip {

class ThreadGovernor;  // threads.h

// What decides the coding besides the model: coding method 1 is the model alone
// (freq_algorithm 1); other ids are for later methods (docs/FORMAT.md, "coding method").
struct CodingMethod {
  uint32_t id = 1;
  std::vector<uint8_t> params;
};

struct SessionParams {
  int lanes = 1;
  int window = 256;   // positions a lane may hold, start token included
  int overlap = 128;  // tokens a full lane keeps (restart or shift)
  // A full lane moves its kept positions down instead of feeding them again
  // (docs/FORMAT.md, SHIFT_CONTEXT). Needs ModelFacts::can_shift_context.
  bool shift_context = false;
  // With shift_context: a shift first moves the lane's kept cells to the lowest cells of
  // its cache, so that later steps attend over the positions held, not the whole
  // window (docs/FORMAT.md, COMPACT_SHIFT). What writers do; false only decodes the
  // files written before it.
  bool compact_shift = false;
  int threads = 1;
  bool flash_attention = false;
  uint32_t ubatch = 512;
  CodingMethod method;
};

// One chunk's passage through the schedule.
struct ScheduledChunk {
  // Encoder: the chunk's whole token plan. Decoder: the tokens decoded so far (the hook appends).
  std::vector<llama_token> tokens;
  // Bytes the chunk's token pieces stand for (its size, plus one for a stripped
  // leading space): the unit of progress.
  uint64_t piece_bytes = 0;
  bool scheduled = false;  // false: the chunk takes no lane (not model-coded)
};

// One lane in one step, as the hook sees it.
struct LaneStep {
  int lane = 0;
  size_t chunk = 0;               // index into the job's chunks
  uint32_t index = 0;             // which of the chunk's tokens is coded now (0-based)
  const float* logits = nullptr;  // n_vocab logits predicting that token
  bool chunk_done = false;        // set by the hook when this was the chunk's last token
};

// What is done with each step's logits: encode, decode, analyse.
class StepHook {
 public:
  virtual ~StepHook() = default;
  // Called once per llama_decode with every active lane, in increasing lane order.
  // A decoding hook appends each decoded token to chunks[lane.chunk].tokens. The hook
  // sets chunk_done on a lane whose chunk is complete; the lane then takes the next
  // chunk at the following step.
  virtual void code_step(std::span<LaneStep> lanes, std::vector<ScheduledChunk>& chunks) = 0;
};

// Progress in bytes coded so far (called from the worker thread, throttled).
using ProgressFn = std::function<void(uint64_t bytes_done, uint64_t bytes_total)>;

// ---- jobs built on the schedule (implemented with the hooks of coding.h) -------------

struct EncodedChunk {
  bool model_coded = false;  // false: no exact token plan, mostly byte tokens, or not allowed
  bool strip_leading_space = false;
  uint32_t token_count = 0;
  uint32_t byte_coded = 0;
  double ideal_bits = 0;   // -sum log2 p(token) from the float logits, when measured
  double table_bits = 0;   // -sum log2 P(token) as coded: the chunk's share of the stream (always measured)
  double model_bits = 0;   // -sum log2 f(token)/total from the model's integer tables alone (= table_bits
                           // for coding method 1; the mixer's saving is model_bits - table_bits)
  std::vector<uint8_t> payload;  // format v1 only: this chunk's own range-coder stream
};

// Format v2: all model-coded chunks of a block share one range-coder stream.
struct EncodedBlock {
  std::vector<EncodedChunk> chunks;
  std::vector<uint8_t> stream;  // empty when no chunk is model-coded
};

// A format-v1 chunk to decode: its own payload and recorded token count.
struct DecodeChunk {
  const uint8_t* payload = nullptr;
  size_t payload_size = 0;
  uint32_t token_count = 0;
  uint32_t original_size = 0;
  bool strip_leading_space = false;
};

// A format-v2 model-coded chunk to decode: it ends when its bytes are complete.
struct BlockChunk {
  uint32_t original_size = 0;
  bool strip_leading_space = false;
};

class TokenListener;  // coding.h: sees every coded token with its table (analysis)

class Session {
 public:
  Session(std::shared_ptr<const Model> model, const SessionParams& params);  // throws lmzip::Error
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs the lane schedule over `chunks`, calling `hook` once per step.
  void run(std::vector<ScheduledChunk>& chunks, StepHook& hook, const std::atomic<int32_t>* cancel,
           const ProgressFn& progress);

  // Format v1 (one stream per chunk). Chunks whose bytes cannot be planned as tokens,
  // or are mostly byte tokens, come back with model_coded = false and take no lane.
  // `allow_model[i] == 0` keeps chunk i out of the schedule (empty: all allowed).
  std::vector<EncodedChunk> encode(const std::vector<std::pair<const uint8_t*, size_t>>& chunks,
                                   const std::vector<uint8_t>& allow_model, bool measure_ideal,
                                   const std::atomic<int32_t>* cancel, const ProgressFn& progress);
  std::vector<std::string> decode(const std::vector<DecodeChunk>& chunks, const std::atomic<int32_t>* cancel,
                                  const ProgressFn& progress);

  // Format v2 (one stream per block, tokens in schedule order; adaptive state starts fresh).
  EncodedBlock encode_block(const std::vector<std::pair<const uint8_t*, size_t>>& chunks,
                            const std::vector<uint8_t>& allow_model, bool measure_ideal,
                            const std::atomic<int32_t>* cancel, const ProgressFn& progress,
                            TokenListener* listener = nullptr);
  std::vector<std::string> decode_block(const uint8_t* stream, size_t stream_size, const std::vector<BlockChunk>& chunks,
                                        const std::atomic<int32_t>* cancel, const ProgressFn& progress);

  // Evaluates the same schedule without coding: the model's raw speed.
  void evaluate_only(const std::vector<std::vector<llama_token>>& chunks, const std::atomic<int32_t>* cancel,
                     const ProgressFn& progress);

  const SessionParams& params() const { return params_; }
  const Model& model() const { return *model_; }

 private:
  void compact_lane(int lane);

  std::shared_ptr<const Model> model_;
  SessionParams params_;
  llama_context* ctx_ = nullptr;
  // Lives as long as the context: what it measured holds across blocks, so a block
  // does not start by probing again (probes run steps on one thread).
  std::unique_ptr<ThreadGovernor> threads_;
  std::atomic<int32_t> const* abort_flag_ = nullptr;
  std::vector<uint8_t> compact_buffer_;  // one lane's saved cells, reused by compact_lane
};

// Bytes a session with `params` is expected to allocate for llama.cpp (KV cache,
// compute buffers, logits) plus the coder's tables: checked against a budget
// before a context is created. An estimate, calibrated in test_engine.cpp.
uint64_t estimate_session_memory(const Model& model, const SessionParams& params);

}  // namespace lmzip
