#include "engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "errors.h"
#include "freqs.h"
#include "range_coder.h"

namespace lmzip {

// One chunk's passage through the schedule. `tokens` is known in advance when
// encoding and grows as tokens are decoded.
struct Session::LaneWork {
  uint32_t token_count = 0;
  std::vector<llama_token> tokens;
};

namespace {
bool cancelled(const std::atomic<int32_t>* flag) { return flag && flag->load(std::memory_order_relaxed) != 0; }

// Chunks that are mostly single-byte fallback tokens (binary data) are cheaper and
// smaller without the model.
bool worth_modelling(const TokenPlan& plan, size_t size) { return plan.ok && plan.byte_coded * 2 <= size; }
}  // namespace

Session::Session(std::shared_ptr<const Model> model, const SessionParams& params)
    : model_(std::move(model)), params_(params) {
  if (model_->facts().vocab_only)
    throw Error("MODEL_VOCAB_ONLY", "this model file has a vocabulary but no weights; it cannot predict text");
  llama_context_params cp = llama_context_default_params();
  cp.n_seq_max = uint32_t(params_.lanes);
  cp.n_ctx = uint32_t(params_.lanes) * uint32_t(params_.window);
  cp.n_batch = std::max<uint32_t>(uint32_t(params_.lanes) * uint32_t(params_.overlap + 1), cp.n_ctx < 512 ? cp.n_ctx : 512);
  cp.n_batch = std::max<uint32_t>(cp.n_batch, uint32_t(params_.lanes));
  cp.n_ubatch = params_.ubatch;
  cp.n_threads = params_.threads;
  cp.n_threads_batch = params_.threads;
  cp.flash_attn_type = params_.flash_attention ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.kv_unified = false;  // lanes must not see each other (and must not change each other's kernels)
  cp.no_perf = true;
  cp.embeddings = false;
  cp.abort_callback = [](void* data) { return cancelled(*static_cast<const std::atomic<int32_t>**>(data)); };
  cp.abort_callback_data = &abort_flag_;
  take_last_llama_error();
  try {
    ctx_ = llama_init_from_model(model_->llama(), cp);
  } catch (const std::exception& e) {
    throw Error("CONTEXT_FAILED", std::string("llama.cpp could not create a context: ") + e.what());
  }
  if (!ctx_) {
    const std::string why = take_last_llama_error();
    throw Error("CONTEXT_FAILED", "llama.cpp could not create a context for " + std::to_string(params_.lanes) +
                                      " lanes of " + std::to_string(params_.window) + " tokens" +
                                      (why.empty() ? std::string() : ": " + why));
  }
}

Session::~Session() {
  if (ctx_) llama_free(ctx_);
}

template <typename CodeToken>
void Session::run_schedule(std::vector<LaneWork>& work, const std::atomic<int32_t>* cancel,
                           const ProgressFn& progress, CodeToken&& code_token) {
  const int n_lanes = params_.lanes;
  const int window = params_.window;
  const int overlap = std::min(params_.overlap, window - 2);
  const llama_token start = model_->start_token();
  llama_memory_t memory = llama_get_memory(ctx_);
  abort_flag_ = cancel;

  struct Lane {
    int chunk = -1;        // index into work, -1 when idle
    uint32_t coded = 0;    // tokens of the chunk already coded
    int positions = 0;     // positions held in the lane's sequence
    bool restart = true;   // feed the start token (and overlap) next step
    int32_t logits_index = -1;
  };
  std::vector<Lane> lanes(static_cast<size_t>(n_lanes));
  size_t next_chunk = 0;
  auto assign_next = [&](Lane& lane) {
    while (next_chunk < work.size() && work[next_chunk].token_count == 0) ++next_chunk;
    lane = Lane{};
    if (next_chunk < work.size()) lane.chunk = int(next_chunk++);
  };
  for (auto& lane : lanes) assign_next(lane);

  uint64_t total_tokens = 0, done_tokens = 0;
  for (const auto& w : work) total_tokens += w.token_count;
  auto last_report = std::chrono::steady_clock::now();

  llama_batch batch = llama_batch_init(int32_t(llama_n_batch(ctx_)), 0, 1);
  struct BatchGuard {
    llama_batch& b;
    ~BatchGuard() { llama_batch_free(b); }
  } guard{batch};

  while (true) {
    batch.n_tokens = 0;
    auto push = [&](llama_token token, int pos, int seq, bool logits) {
      const int i = batch.n_tokens++;
      batch.token[i] = token;
      batch.pos[i] = pos;
      batch.n_seq_id[i] = 1;
      batch.seq_id[i][0] = seq;
      batch.logits[i] = logits;
      return i;
    };
    for (int l = 0; l < n_lanes; ++l) {
      Lane& lane = lanes[size_t(l)];
      if (lane.chunk < 0) continue;
      const LaneWork& w = work[size_t(lane.chunk)];
      if (lane.restart || lane.positions >= window) {
        // Start (or restart) the lane: start token, then the last `overlap` tokens.
        llama_memory_seq_rm(memory, l, -1, -1);
        const uint32_t carried = std::min<uint32_t>(lane.coded, uint32_t(overlap));
        lane.positions = 0;
        lane.logits_index = push(start, lane.positions++, l, carried == 0);
        for (uint32_t k = 0; k < carried; ++k)
          lane.logits_index = push(w.tokens[lane.coded - carried + k], lane.positions++, l, k + 1 == carried);
        lane.restart = false;
      } else {
        lane.logits_index = push(w.tokens[lane.coded - 1], lane.positions++, l, true);
      }
    }
    if (batch.n_tokens == 0) break;

    const int32_t rc = llama_decode(ctx_, batch);
    if (rc == 2 || cancelled(cancel)) throw Error("CANCELLED", "the operation was cancelled");
    if (rc != 0) {
      const std::string why = take_last_llama_error();
      throw Error("DECODE_FAILED", "llama_decode failed with status " + std::to_string(rc) +
                                       (why.empty() ? std::string() : ": " + why));
    }

    for (int l = 0; l < n_lanes; ++l) {
      Lane& lane = lanes[size_t(l)];
      if (lane.chunk < 0) continue;
      LaneWork& w = work[size_t(lane.chunk)];
      const float* logits = llama_get_logits_ith(ctx_, lane.logits_index);
      code_token(size_t(lane.chunk), w, lane.coded, logits);
      ++lane.coded;
      ++done_tokens;
      if (lane.coded == w.token_count) assign_next(lane);
    }

    if (progress) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_report > std::chrono::milliseconds(100)) {
        last_report = now;
        progress(done_tokens, total_tokens);
      }
    }
  }
  for (int l = 0; l < n_lanes; ++l) llama_memory_seq_rm(memory, l, -1, -1);
  if (progress) progress(done_tokens, total_tokens);
}

std::vector<EncodedChunk> Session::encode(const std::vector<std::pair<const uint8_t*, size_t>>& chunks,
                                          const std::vector<uint8_t>& allow_model, bool measure_ideal,
                                          const std::atomic<int32_t>* cancel, const ProgressFn& progress,
                                          const TokenObserver& observe) {
  std::vector<EncodedChunk> out(chunks.size());
  std::vector<LaneWork> work(chunks.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    if (cancelled(cancel)) throw Error("CANCELLED", "the operation was cancelled");
    if (!allow_model.empty() && !allow_model[c]) continue;
    TokenPlan plan = model_->plan_tokens(chunks[c].first, chunks[c].second);
    if (!worth_modelling(plan, chunks[c].second) || plan.tokens.empty()) continue;
    out[c].model_coded = true;
    out[c].strip_leading_space = plan.strip_leading_space;
    out[c].byte_coded = plan.byte_coded;
    out[c].token_count = uint32_t(plan.tokens.size());
    work[c].token_count = out[c].token_count;
    work[c].tokens = std::move(plan.tokens);
  }

  const int n_vocab = model_->n_vocab();
  std::vector<uint32_t> freqs(static_cast<size_t>(n_vocab));
  std::vector<std::unique_ptr<RangeEncoder>> encoders(chunks.size());
  run_schedule(work, cancel, progress, [&](size_t c, LaneWork& w, uint32_t i, const float* logits) {
    if (!encoders[c]) encoders[c] = std::make_unique<RangeEncoder>(out[c].payload);
    const llama_token token = w.tokens[i];
    const uint64_t total = logits_to_freqs(logits, n_vocab, freqs.data());
    uint64_t cum = 0;
    for (llama_token t = 0; t < token; ++t) cum += freqs[size_t(t)];
    encoders[c]->encode(cum, freqs[size_t(token)], total);
    if (observe) observe(c, token, freqs.data(), n_vocab, total);
    if (measure_ideal) {
      out[c].ideal_bits += ideal_bits(logits, n_vocab, token);
      out[c].table_bits -= std::log2(double(freqs[size_t(token)]) / double(total));
    }
    if (i + 1 == w.token_count) {
      encoders[c]->finish();
      encoders[c].reset();
      w.tokens = {};
    }
  });
  return out;
}

std::vector<std::string> Session::decode(const std::vector<DecodeChunk>& chunks, const std::atomic<int32_t>* cancel,
                                         const ProgressFn& progress) {
  std::vector<std::string> out(chunks.size());
  std::vector<LaneWork> work(chunks.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    // Every token stands for at least one byte (the stripped space adds one): a count
    // beyond that can only come from damaged or hostile input.
    if (uint64_t(chunks[c].token_count) > uint64_t(chunks[c].original_size) + (chunks[c].strip_leading_space ? 1 : 0))
      throw Error("CORRUPT_DATA", "compressed data is damaged: a chunk records more tokens than bytes");
    work[c].token_count = chunks[c].token_count;
    // Sizes come from the file: reserve a bounded amount and let real data grow it.
    constexpr size_t kMaxReserve = size_t(1) << 20;
    work[c].tokens.reserve(std::min<size_t>(chunks[c].token_count, kMaxReserve));
    out[c].reserve(std::min<size_t>(size_t(chunks[c].original_size) + 1, kMaxReserve));
  }
  const int n_vocab = model_->n_vocab();
  std::vector<uint32_t> freqs(static_cast<size_t>(n_vocab));
  std::vector<std::unique_ptr<RangeDecoder>> decoders(chunks.size());
  run_schedule(work, cancel, progress, [&](size_t c, LaneWork& w, uint32_t i, const float* logits) {
    if (!decoders[c]) decoders[c] = std::make_unique<RangeDecoder>(chunks[c].payload, chunks[c].payload_size);
    const uint64_t total = logits_to_freqs(logits, n_vocab, freqs.data());
    const uint64_t target = decoders[c]->target(total);
    uint64_t cum = 0;
    llama_token token = 0;
    while (token + 1 < n_vocab && cum + freqs[size_t(token)] <= target) cum += freqs[size_t(token++)];
    decoders[c]->consume(cum, freqs[size_t(token)]);
    // Encoders never plan tokens that stand for no bytes; decoding one means damage
    // (and would otherwise let a damaged chunk run all its steps before failing).
    const std::string& piece = model_->piece(token);
    if (piece.empty()) throw Error("CORRUPT_DATA", "compressed data is damaged: it decodes to a token that stands for no bytes");
    w.tokens.push_back(token);
    out[c] += piece;
    // A damaged payload can decode to anything: stop it from growing past the chunk.
    if (out[c].size() > size_t(chunks[c].original_size) + 1)
      throw Error("CORRUPT_DATA", "compressed data is damaged: a chunk decodes to more bytes than recorded");
    if (i + 1 == w.token_count) decoders[c].reset();
  });
  for (size_t c = 0; c < chunks.size(); ++c) {
    std::string& bytes = out[c];
    if (chunks[c].strip_leading_space) {
      if (bytes.empty() || bytes[0] != ' ')
        throw Error("CORRUPT_DATA", "compressed data is damaged: a chunk lacks its expected leading space");
      bytes.erase(0, 1);
    }
    if (bytes.size() != chunks[c].original_size)
      throw Error("CORRUPT_DATA", "compressed data is damaged: a chunk decodes to " + std::to_string(bytes.size()) +
                                      " bytes instead of " + std::to_string(chunks[c].original_size));
  }
  return out;
}

void Session::evaluate_only(const std::vector<std::vector<llama_token>>& chunks, const std::atomic<int32_t>* cancel,
                            const ProgressFn& progress) {
  std::vector<LaneWork> work(chunks.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    work[c].tokens = chunks[c];
    work[c].token_count = uint32_t(chunks[c].size());
  }
  run_schedule(work, cancel, progress, [](size_t, LaneWork&, uint32_t, const float*) {});
}

}  // namespace lmzip
