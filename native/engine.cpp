#include "engine.h"

#include <algorithm>
#include <chrono>

#include "coding.h"
#include "errors.h"
#include "model_guard.h"
#include "threads.h"

namespace lmzip {

namespace {
bool cancelled(const std::atomic<int32_t>* flag) { return flag && flag->load(std::memory_order_relaxed) != 0; }

[[noreturn]] void damaged(const std::string& what) { throw Error("CORRUPT_DATA", "compressed data is damaged: " + what); }

// Chunks that are mostly single-byte fallback tokens (binary data) are cheaper and
// smaller without the model.
bool worth_modelling(const TokenPlan& plan, size_t size) { return plan.ok && plan.byte_coded * 2 <= size; }

// Sizes come from the file: reserve a bounded amount per chunk (a block may hold 4096
// chunks) and let real data grow it.
constexpr size_t kMaxReserve = size_t(1) << 16;

// Threads for the frequency tables of a step (phase 1, coding.h): the session's thread
// count, which llama.cpp's threads leave idle between two decodes. Measured in
// docs/benchmark.md ("Frequency tables").
std::unique_ptr<WorkerPool> table_workers(const SessionParams& p) {
  return p.threads > 1 ? std::make_unique<WorkerPool>(p.threads) : nullptr;
}

// n_batch as docs/FORMAT.md specifies it: room for every lane's restart at once.
uint32_t batch_size(const SessionParams& p) {
  const uint32_t n_ctx = uint32_t(p.lanes) * uint32_t(p.window);
  uint32_t n_batch = std::max<uint32_t>(uint32_t(p.lanes) * uint32_t(p.overlap + 1), n_ctx < 512 ? n_ctx : 512);
  return std::max<uint32_t>(n_batch, uint32_t(p.lanes));
}
}  // namespace

Session::Session(std::shared_ptr<const Model> model, const SessionParams& params)
    : model_(std::move(model)), params_(params) {
  if (model_->facts().vocab_only)
    throw Error("MODEL_VOCAB_ONLY", "this model file has a vocabulary but no weights; it cannot predict text");
  make_predictor(params_.method, *model_);  // an unknown method fails before any allocation
  // Writers ask for it only where the model allows it; a file that asks anyway is damaged.
  if (params_.shift_context && !model_->facts().can_shift_context)
    throw Error("CORRUPT_HEADER", "the file asks to shift the context of a " + model_->facts().architecture +
                                      " model, which llama.cpp cannot do");
  llama_context_params cp = llama_context_default_params();
  cp.n_seq_max = uint32_t(params_.lanes);
  cp.n_ctx = uint32_t(params_.lanes) * uint32_t(params_.window);
  cp.n_batch = batch_size(params_);
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
    AssertionsThrow guard("CONTEXT_FAILED");  // a graph assertion on a hostile model: an error, not abort()
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
  // can_shift_context above is lmzip's reading of llama.cpp's rules; this is llama.cpp's own.
  if (params_.shift_context && !llama_memory_can_shift(llama_get_memory(ctx_))) {
    llama_free(ctx_);
    ctx_ = nullptr;
    throw Error("CORRUPT_HEADER", "the file asks to shift the context of a model whose cache cannot be shifted");
  }
  // The thread count per step, measured against one thread (native/threads.h).
  threads_ = std::make_unique<ThreadGovernor>(ctx_, params_.threads, !params_.flash_attention);
}

Session::~Session() {
  if (ctx_) llama_free(ctx_);
}

// Moves lane `lane`'s cached cells to the lowest cells of its cache, keeping their
// order (docs/FORMAT.md, COMPACT_SHIFT: with it a lane's cells stay in position
// order). llama.cpp attends over every cell up to the highest one in use, so kept
// tokens left in high cells would make each later step attend over the whole window. llama.cpp has no call that moves cells, but
// restoring a sequence's saved state finds free cells from the lowest one: the same
// cells, keys and values, only their places change. The positions are moved after
// this (llama_memory_seq_add), because a saved state holds no pending K-shift.
void Session::compact_lane(int lane) {
  const size_t size = llama_state_seq_get_size_ext(ctx_, lane, LLAMA_STATE_SEQ_FLAGS_NONE);
  compact_buffer_.resize(size);
  if (llama_state_seq_get_data_ext(ctx_, compact_buffer_.data(), size, lane, LLAMA_STATE_SEQ_FLAGS_NONE) != size ||
      llama_state_seq_set_data_ext(ctx_, compact_buffer_.data(), size, lane, LLAMA_STATE_SEQ_FLAGS_NONE) != size)
    throw Error("NATIVE_ERROR", "internal: llama.cpp could not move lane " + std::to_string(lane) + "'s cached tokens");
}

void Session::run(std::vector<ScheduledChunk>& chunks, StepHook& hook, const std::atomic<int32_t>* cancel,
                  const ProgressFn& progress) {
  const int n_lanes = params_.lanes;
  const int window = params_.window;
  const int overlap = std::min(params_.overlap, window - 2);
  const llama_token start = model_->start_token();
  llama_memory_t memory = llama_get_memory(ctx_);
  abort_flag_ = cancel;

  struct Lane {
    int chunk = -1;        // index into chunks, -1 when idle
    uint32_t coded = 0;    // tokens of the chunk already coded
    int positions = 0;     // positions held in the lane's sequence
    bool restart = true;   // feed the start token (and overlap) next step
    int32_t logits_index = -1;
  };
  std::vector<Lane> lanes(static_cast<size_t>(n_lanes));
  size_t next_chunk = 0;
  auto assign_next = [&](Lane& lane) {
    while (next_chunk < chunks.size() && !chunks[next_chunk].scheduled) ++next_chunk;
    lane = Lane{};
    if (next_chunk < chunks.size()) lane.chunk = int(next_chunk++);
  };
  for (auto& lane : lanes) assign_next(lane);

  uint64_t total_bytes = 0, done_bytes = 0;
  for (const auto& c : chunks)
    if (c.scheduled) total_bytes += c.piece_bytes;
  auto last_report = std::chrono::steady_clock::now();

  llama_batch batch = llama_batch_init(int32_t(llama_n_batch(ctx_)), 0, 1);
  struct BatchGuard {
    llama_batch& b;
    ~BatchGuard() { llama_batch_free(b); }
  } guard{batch};
  std::vector<LaneStep> steps;
  steps.reserve(size_t(n_lanes));

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
      const std::vector<llama_token>& tokens = chunks[size_t(lane.chunk)].tokens;
      // A lane keeps the start token and the last `carried` coded tokens when it starts a
      // chunk (none yet) or its window is full.
      const uint32_t carried = std::min<uint32_t>(lane.coded, uint32_t(overlap));
      if (!lane.restart && lane.positions >= window && params_.shift_context && carried > 0) {
        // Shift: positions 1 .. window-1 hold the last window-1 tokens before the newest.
        // Drop all but the last carried-1 of them, move those down to 1 .. carried-1
        // (llama.cpp re-rotates their keys at the next decode), then feed the newest.
        const int kept_from = window - int(carried) + 1;
        llama_memory_seq_rm(memory, l, 1, kept_from);
        if (params_.compact_shift) compact_lane(l);
        llama_memory_seq_add(memory, l, kept_from, -1, -(kept_from - 1));
        lane.positions = int(carried);
        lane.logits_index = push(tokens[lane.coded - 1], lane.positions++, l, true);
      } else if (lane.restart || lane.positions >= window) {
        // Start (or restart) the lane: start token, then the last `carried` tokens.
        llama_memory_seq_rm(memory, l, -1, -1);
        lane.positions = 0;
        lane.logits_index = push(start, lane.positions++, l, carried == 0);
        for (uint32_t k = 0; k < carried; ++k)
          lane.logits_index = push(tokens[lane.coded - carried + k], lane.positions++, l, k + 1 == carried);
        lane.restart = false;
      } else {
        lane.logits_index = push(tokens[lane.coded - 1], lane.positions++, l, true);
      }
    }
    if (batch.n_tokens == 0) break;

    threads_->before_decode();
    const int32_t rc = llama_decode(ctx_, batch);
    threads_->after_decode(batch.n_tokens);
    if (rc == 2 || cancelled(cancel)) throw Error("CANCELLED", "the operation was cancelled");
    if (rc != 0) {
      const std::string why = take_last_llama_error();
      throw Error("DECODE_FAILED", "llama_decode failed with status " + std::to_string(rc) +
                                       (why.empty() ? std::string() : ": " + why));
    }

    steps.clear();
    for (int l = 0; l < n_lanes; ++l) {
      const Lane& lane = lanes[size_t(l)];
      if (lane.chunk < 0) continue;
      steps.push_back(LaneStep{l, size_t(lane.chunk), lane.coded, llama_get_logits_ith(ctx_, lane.logits_index), false});
    }
    hook.code_step(steps, chunks);
    for (const LaneStep& s : steps) {
      Lane& lane = lanes[size_t(s.lane)];
      const std::vector<llama_token>& tokens = chunks[s.chunk].tokens;
      if (tokens.size() <= s.index) throw Error("NATIVE_ERROR", "internal: the coding hook gave a lane no token");
      done_bytes += model_->piece(tokens[s.index]).size();
      ++lane.coded;
      if (s.chunk_done) assign_next(lane);
    }

    if (progress) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_report > std::chrono::milliseconds(100)) {
        last_report = now;
        progress(done_bytes, total_bytes);
      }
    }
  }
  for (int l = 0; l < n_lanes; ++l) llama_memory_seq_rm(memory, l, -1, -1);
  if (progress) progress(done_bytes, total_bytes);
}

// ---- encoding ---------------------------------------------------------------------------

namespace {
// Plans every allowed chunk; the ones worth modelling are scheduled.
std::vector<ScheduledChunk> plan_chunks(const Model& model, const std::vector<std::pair<const uint8_t*, size_t>>& chunks,
                                        const std::vector<uint8_t>& allow_model, std::vector<EncodedChunk>& out,
                                        const std::atomic<int32_t>* cancel) {
  std::vector<ScheduledChunk> work(chunks.size());
  out.assign(chunks.size(), EncodedChunk{});
  for (size_t c = 0; c < chunks.size(); ++c) {
    if (cancelled(cancel)) throw Error("CANCELLED", "the operation was cancelled");
    if (!allow_model.empty() && !allow_model[c]) continue;
    TokenPlan plan = model.plan_tokens(chunks[c].first, chunks[c].second);
    if (!worth_modelling(plan, chunks[c].second) || plan.tokens.empty()) continue;
    out[c].model_coded = true;
    out[c].strip_leading_space = plan.strip_leading_space;
    out[c].byte_coded = plan.byte_coded;
    out[c].token_count = uint32_t(plan.tokens.size());
    work[c].scheduled = true;
    work[c].piece_bytes = chunks[c].second + (plan.strip_leading_space ? 1 : 0);
    work[c].tokens = std::move(plan.tokens);
  }
  return work;
}
}  // namespace

std::vector<EncodedChunk> Session::encode(const std::vector<std::pair<const uint8_t*, size_t>>& chunks,
                                          const std::vector<uint8_t>& allow_model, bool measure_ideal,
                                          const std::atomic<int32_t>* cancel, const ProgressFn& progress) {
  std::vector<EncodedChunk> out;
  std::vector<ScheduledChunk> work = plan_chunks(*model_, chunks, allow_model, out, cancel);
  auto predictor = make_predictor(params_.method, *model_);
  EncodeHook hook(*model_, *predictor, StreamLayout::PerChunk, out, measure_ideal, nullptr);
  const auto workers = table_workers(params_);
  hook.use_workers(workers.get());
  run(work, hook, cancel, progress);
  return out;
}

EncodedBlock Session::encode_block(const std::vector<std::pair<const uint8_t*, size_t>>& chunks,
                                   const std::vector<uint8_t>& allow_model, bool measure_ideal,
                                   const std::atomic<int32_t>* cancel, const ProgressFn& progress,
                                   TokenListener* listener) {
  EncodedBlock block;
  std::vector<ScheduledChunk> work = plan_chunks(*model_, chunks, allow_model, block.chunks, cancel);
  auto predictor = make_predictor(params_.method, *model_);  // fresh adaptive state per block
  EncodeHook hook(*model_, *predictor, StreamLayout::PerBlock, block.chunks, measure_ideal, listener);
  const auto workers = table_workers(params_);
  hook.use_workers(workers.get());
  run(work, hook, cancel, progress);
  block.stream = hook.finish_block();
  return block;
}

// ---- decoding ---------------------------------------------------------------------------

std::vector<std::string> Session::decode(const std::vector<DecodeChunk>& chunks, const std::atomic<int32_t>* cancel,
                                         const ProgressFn& progress) {
  std::vector<std::string> out(chunks.size());
  std::vector<ScheduledChunk> work(chunks.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    const uint64_t piece_bytes = uint64_t(chunks[c].original_size) + (chunks[c].strip_leading_space ? 1 : 0);
    // Every token stands for at least one byte: a count beyond that can only come
    // from damaged or hostile input.
    if (chunks[c].token_count > piece_bytes) damaged("a chunk records more tokens than bytes");
    work[c].scheduled = chunks[c].token_count > 0;
    work[c].piece_bytes = piece_bytes;
    work[c].tokens.reserve(std::min<size_t>(chunks[c].token_count, kMaxReserve));
    out[c].reserve(std::min<size_t>(piece_bytes, kMaxReserve));
  }
  auto predictor = make_predictor(params_.method, *model_);
  DecodeHook hook(*model_, *predictor, chunks, out);
  const auto workers = table_workers(params_);
  hook.use_workers(workers.get());
  run(work, hook, cancel, progress);
  for (size_t c = 0; c < chunks.size(); ++c) {
    std::string& bytes = out[c];
    if (chunks[c].strip_leading_space) {
      if (bytes.empty() || bytes[0] != ' ') damaged("a chunk lacks its expected leading space");
      bytes.erase(0, 1);
    }
    if (bytes.size() != chunks[c].original_size)
      damaged("a chunk decodes to " + std::to_string(bytes.size()) + " bytes instead of " +
              std::to_string(chunks[c].original_size));
  }
  return out;
}

std::vector<std::string> Session::decode_block(const uint8_t* stream, size_t stream_size,
                                               const std::vector<BlockChunk>& chunks, const std::atomic<int32_t>* cancel,
                                               const ProgressFn& progress) {
  std::vector<std::string> out(chunks.size());
  std::vector<ScheduledChunk> work(chunks.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    if (chunks[c].original_size == 0) damaged("a model-coded chunk of 0 bytes");
    work[c].scheduled = true;
    work[c].piece_bytes = uint64_t(chunks[c].original_size) + (chunks[c].strip_leading_space ? 1 : 0);
    work[c].tokens.reserve(std::min<size_t>(work[c].piece_bytes, kMaxReserve));
    out[c].reserve(std::min<size_t>(work[c].piece_bytes, kMaxReserve));
  }
  if (!chunks.empty() && stream_size == 0) damaged("a block with model-coded chunks has an empty model stream");
  auto predictor = make_predictor(params_.method, *model_);  // fresh adaptive state per block
  DecodeHook hook(*model_, *predictor, stream, stream_size, chunks, out);
  const auto workers = table_workers(params_);
  hook.use_workers(workers.get());
  run(work, hook, cancel, progress);
  if (!chunks.empty()) hook.finish_block();
  for (size_t c = 0; c < chunks.size(); ++c) {
    std::string& bytes = out[c];
    if (chunks[c].strip_leading_space) {
      if (bytes.empty() || bytes[0] != ' ') damaged("a chunk lacks its expected leading space");
      bytes.erase(0, 1);
    }
  }
  return out;
}

// ---- the model's raw speed ----------------------------------------------------------------

namespace {
// Ends each chunk after its known tokens, coding nothing.
class EvaluateHook : public StepHook {
 public:
  void code_step(std::span<LaneStep> lanes, std::vector<ScheduledChunk>& chunks) override {
    for (LaneStep& s : lanes) s.chunk_done = s.index + 1 == chunks[s.chunk].tokens.size();
  }
};
}  // namespace

void Session::evaluate_only(const std::vector<std::vector<llama_token>>& chunks, const std::atomic<int32_t>* cancel,
                            const ProgressFn& progress) {
  std::vector<ScheduledChunk> work(chunks.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    work[c].tokens = chunks[c];
    work[c].scheduled = !chunks[c].empty();
    for (llama_token t : chunks[c]) work[c].piece_bytes += model_->piece(t).size();
  }
  EvaluateHook hook;
  run(work, hook, cancel, progress);
}

// ---- memory ---------------------------------------------------------------------------------

uint64_t estimate_session_memory(const Model& model, const SessionParams& p) {
  const llama_model* m = model.llama();
  const uint64_t n_layer = uint64_t(std::max(1, llama_model_n_layer(m)));
  const uint64_t n_embd = uint64_t(std::max(1, llama_model_n_embd(m)));
  const uint64_t n_head = uint64_t(std::max(1, llama_model_n_head(m)));
  const uint64_t n_head_kv = uint64_t(std::max(1, llama_model_n_head_kv(m)));
  const uint64_t n_vocab = uint64_t(std::max(1, model.n_vocab()));
  const uint64_t lanes = uint64_t(p.lanes), window = uint64_t(p.window);
  const uint64_t n_ctx = lanes * window;
  const uint64_t n_embd_kv = n_embd / n_head * n_head_kv;
  // K and V, f16, every layer, every position of every lane.
  const uint64_t kv = 2 * n_layer * n_ctx * n_embd_kv * 2;
  // The largest graph llama.cpp reserves: one ubatch of tokens attending to a full
  // lane (attention scores per head, f32) plus activations and the logits of the
  // ubatch; then the logits buffer the outputs are copied to, and one frequency
  // table per lane for the coder.
  const uint64_t ubatch = std::min<uint64_t>(p.ubatch, std::max<uint64_t>(batch_size(p), 1));
  const uint64_t scores = ubatch * window * n_head * 4 * 2;
  const uint64_t activations = ubatch * (n_embd * 16 + n_vocab) * 4;
  const uint64_t outputs = std::max<uint64_t>(lanes, 1) * n_vocab * 4 * 2;
  const uint64_t fixed = uint64_t(28) << 20;  // graph metadata, buffers of any context (measured: 25 MiB)
  // A compacting shift saves one lane's cells (compact_lane): at most a lane's share of the cache.
  const uint64_t compact = p.shift_context && p.compact_shift ? kv / std::max<uint64_t>(lanes, 1) + 4096 : 0;
  return kv + scores + activations + outputs + fixed + compact;
}

}  // namespace lmzip
