// The lane engine: codes many chunks at once, one token per lane per llama_decode.
//
// Encoder and decoder run the very same schedule, which is what makes their
// logits bit-identical:
//  * model chunks are handed to lanes in order; a lane that finishes takes the next
//    chunk at the following step (lowest lane first);
//  * a lane starts a chunk by feeding the start token (BOS) at position 0;
//  * a lane whose context holds `window` positions restarts: its sequence is cleared
//    and the start token plus the last `overlap` tokens are fed again;
//  * each step puts every active lane's tokens into one batch, in lane order, and
//    asks for logits of each lane's last token only.
// The schedule depends only on each chunk's token count, which the file records.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model.h"

namespace lmzip {

struct SessionParams {
  int lanes = 1;
  int window = 256;   // positions a lane may hold, start token included
  int overlap = 128;  // tokens carried over on a restart
  int threads = 1;
  bool flash_attention = false;
  uint32_t ubatch = 512;
};

struct EncodedChunk {
  bool model_coded = false;  // false: no exact token plan, or mostly byte tokens
  bool strip_leading_space = false;
  uint32_t token_count = 0;
  uint32_t byte_coded = 0;
  double ideal_bits = 0;     // -sum log2 p(token) from the float logits, when measured
  double table_bits = 0;     // -sum log2 f(token)/total from the integer tables, when measured
  std::vector<uint8_t> payload;
};

struct DecodeChunk {
  const uint8_t* payload = nullptr;
  size_t payload_size = 0;
  uint32_t token_count = 0;
  uint32_t original_size = 0;
  bool strip_leading_space = false;
};

// Progress in tokens coded so far (called from the worker thread, throttled).
using ProgressFn = std::function<void(uint64_t tokens_done, uint64_t tokens_total)>;

// Sees each coded token with the integer table the coder used for it (lmzip analyze;
// see analyze.h). Called on the worker thread, in schedule order.
using TokenObserver =
    std::function<void(size_t chunk, llama_token token, const uint32_t* freqs, int n_vocab, uint64_t total)>;

class Session {
 public:
  Session(std::shared_ptr<const Model> model, const SessionParams& params);  // throws lmzip::Error
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Chunks whose bytes cannot be planned as tokens, or are mostly byte tokens,
  // come back with model_coded = false and are not part of the schedule.
  // `allow_model[i] == 0` keeps chunk i out of the schedule (empty: all allowed).
  std::vector<EncodedChunk> encode(const std::vector<std::pair<const uint8_t*, size_t>>& chunks,
                                   const std::vector<uint8_t>& allow_model, bool measure_ideal,
                                   const std::atomic<int32_t>* cancel, const ProgressFn& progress,
                                   const TokenObserver& observe = {});
  std::vector<std::string> decode(const std::vector<DecodeChunk>& chunks, const std::atomic<int32_t>* cancel,
                                  const ProgressFn& progress);
  // Evaluates the same schedule without coding: the model's raw speed.
  void evaluate_only(const std::vector<std::vector<llama_token>>& chunks, const std::atomic<int32_t>* cancel,
                     const ProgressFn& progress);

  const SessionParams& params() const { return params_; }
  const Model& model() const { return *model_; }

 private:
  struct LaneWork;
  template <typename CodeToken>
  void run_schedule(std::vector<LaneWork>& work, const std::atomic<int32_t>* cancel, const ProgressFn& progress,
                    CodeToken&& code_token);

  std::shared_ptr<const Model> model_;
  SessionParams params_;
  llama_context* ctx_ = nullptr;
  std::atomic<int32_t> const* abort_flag_ = nullptr;
};

}  // namespace lmzip
