// mix_eval: the offline harness for the mixed coder (docs/MIXING.md, "Measuring").
//
// Turns a slice of a file into the compressor's token plan (same chunking, same
// planner, same context policy as the engine), evaluates the language model once
// per chunk (1 lane; logits cached under /tmp for fast iteration), simulates the
// lane schedule, then codes every token with the real range coder under
//   (a) the LM alone (freq_algorithm 1), and
//   (b) the mixed predictor,
// decodes (b) again to prove the round trip, and reports bits/byte, the mixture's
// ideal code length, coder overhead and CPU time per token.
//
//   mix_eval --model M.gguf --file F [--offset O] [--bytes N] [--lanes 16] [options]
//   mix_eval --help
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bit_coder.h"
#include "errors.h"
#include "freqs.h"
#include "lm_table.h"
#include "model.h"
#include "predictor.h"
#include "range_coder.h"
#include "schedule.h"

using namespace lmzip;
using namespace lmzip::mix;

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Options {
  std::string model, file, cache_dir = "/tmp/lmzip-mix-cache";
  uint64_t offset = 0, bytes = UINT64_MAX;
  int lanes = 16, window = 256, overlap = 128, threads = 1;
  uint64_t chunk_size = 0;  // 0: the compressor's default for this input and lane count
  std::string scope = "block";
  bool stats = false, verify = true, no_lm = false, all_chunks = false, cache = true, lm_only = false;
  int repeat = 1, dump_tokens = 0, speed = 0;
  int table_bits = 0, match_bits = 0, direct_bits = 0;  // 0: MixParams::for_block
  MixParams mix;
};

void usage() {
  std::puts(
      "mix_eval --model M.gguf --file F [--offset O] [--bytes N]\n"
      "  --lanes L (16) --chunk-size S (compressor default) --window W (256) --overlap V (128)\n"
      "  --scope block|lane|chunk   history the adaptive models see (block)\n"
      "  --update decision|token|step   when they learn (decision)\n"
      "  --contexts o1,o2,o3,o4,o6,column,above (any of oK, column, above, word) --count-limit 255 --match-min 6\n"
      "  --table-bits B --match-bits B --direct-bits B   (default: MixParams::for_block)\n"
      "  --lr1 300 --lr2 300 --lr-boost 1000 --lr-half 512 --lr-final 150 --apm-rate 6\n"
      "  --direct 3 --direct-limit 255 --init-lm 3072 --init-context 512 (1/4096)\n"
      "  --no-lm          code with the adaptive models alone (flat LM table)\n"
      "  --all-chunks     also code chunks the compressor would not give the model\n"
      "  --lm-only        only evaluate/cache the LM and report (a)\n"
      "  --stats          where the bits go (stage 1 hits and misses, tree)\n"
      "  --dump-tokens N  print the first chunk's first N tokens and pieces\n"
      "  --no-verify --no-cache --cache-dir D --repeat N (time the mixing N times)\n"
      "  --speed N        CPU time per token of each part, first N tokens, 1 lane");
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value for " + a);
      return argv[++i];
    };
    if (a == "--model") o.model = next();
    else if (a == "--file") o.file = next();
    else if (a == "--offset") o.offset = std::stoull(next());
    else if (a == "--bytes") o.bytes = std::stoull(next());
    else if (a == "--lanes") o.lanes = std::stoi(next());
    else if (a == "--chunk-size") o.chunk_size = std::stoull(next());
    else if (a == "--window") o.window = std::stoi(next());
    else if (a == "--overlap") o.overlap = std::stoi(next());
    else if (a == "--threads") o.threads = std::stoi(next());
    else if (a == "--scope") o.scope = next();
    else if (a == "--update") {
      const std::string m = next();
      o.mix.update_mode = m == "token" ? UpdateMode::kPerToken : m == "step" ? UpdateMode::kPerStep : UpdateMode::kPerDecision;
    } else if (a == "--contexts") o.mix.contexts = parse_contexts(next());
    else if (a == "--table-bits") o.table_bits = std::stoi(next());
    else if (a == "--count-limit") o.mix.count_limit = uint32_t(std::stoul(next()));
    else if (a == "--match-min") o.mix.match_min_len = std::stoi(next());
    else if (a == "--match-bits") o.match_bits = std::stoi(next());
    else if (a == "--lr1") o.mix.lr_candidate = std::stoi(next());
    else if (a == "--lr2") o.mix.lr_tree = std::stoi(next());
    else if (a == "--apm-rate") o.mix.apm_rate = std::stoi(next());
    else if (a == "--lr-final") o.mix.lr_final = std::stoi(next());
    else if (a == "--init-lm") o.mix.init_lm_weight = uint32_t(std::stoul(next()));
    else if (a == "--init-context") o.mix.init_context_weight = uint32_t(std::stoul(next()));
    else if (a == "--lr-boost") o.mix.lr_boost = std::stoi(next());
    else if (a == "--lr-half") o.mix.lr_half = uint32_t(std::stoul(next()));
    else if (a == "--direct") o.mix.direct_orders = std::stoi(next());
    else if (a == "--direct-bits") o.direct_bits = std::stoi(next());
    else if (a == "--direct-limit") o.mix.direct_limit = std::stoi(next());
    else if (a == "--no-lm") o.no_lm = true;
    else if (a == "--all-chunks") o.all_chunks = true;
    else if (a == "--lm-only") o.lm_only = true;
    else if (a == "--no-verify") o.verify = false;
    else if (a == "--no-cache") o.cache = false;
    else if (a == "--cache-dir") o.cache_dir = next();
    else if (a == "--repeat") o.repeat = std::stoi(next());
    else if (a == "--stats") o.stats = true;
    else if (a == "--dump-tokens") o.dump_tokens = std::stoi(next());
    else if (a == "--speed") o.speed = std::stoi(next());
    else if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else throw std::runtime_error("unknown option " + a);
  }
  if (o.model.empty() && !o.no_lm) throw std::runtime_error("--model is required (or --no-lm with --model for tokens)");
  if (o.file.empty()) throw std::runtime_error("--file is required");
  return o;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// src/chunker.ts, the same cuts: about `target` bytes, preferring to end after a
// newline, else after a space, never inside a UTF-8 sequence.
std::vector<size_t> chunk_lengths(const uint8_t* data, size_t n, size_t target) {
  std::vector<size_t> lengths;
  size_t start = 0;
  while (start < n) {
    size_t end = std::min(start + target, n);
    if (end < n) {
      const size_t floor = start + std::max<size_t>(1, target / 2);
      size_t cut = 0;
      for (size_t i = end; i-- > floor;)
        if (data[i] == 0x0a) { cut = i + 1; break; }
      if (!cut)
        for (size_t i = end; i-- > floor;)
          if (data[i] == 0x20) { cut = i + 1; break; }
      if (!cut) {
        cut = end;
        for (int k = 0; k < 3 && cut > start + 1 && (data[cut] & 0xc0) == 0x80; ++k) --cut;
      }
      end = cut;
    }
    lengths.push_back(end - start);
    start = end;
  }
  return lengths;
}

// src/compress.ts defaultChunkSize.
uint64_t default_chunk_size(uint64_t input, int lanes) {
  const uint64_t per_lane = (input + uint64_t(lanes) - 1) / uint64_t(lanes);
  return std::min<uint64_t>(256 * 1024, std::max<uint64_t>(1024, per_lane));
}

uint64_t fnv64(const void* p, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

struct Chunk {
  size_t offset = 0, size = 0;
  bool model = false;  // the compressor would code it with the model
  TokenPlan plan;
  std::vector<float> logits;  // token_count x n_vocab (when evaluated)
};

// The engine's context policy on one lane: start token, restarts with `overlap`
// tokens when the window is full. Writes the logits that predict each token.
void evaluate_chunk(llama_context* ctx, const Model& model, const Options& o, Chunk& ch) {
  const int n_vocab = model.n_vocab();
  const auto& tokens = ch.plan.tokens;
  ch.logits.resize(tokens.size() * size_t(n_vocab));
  llama_memory_t memory = llama_get_memory(ctx);
  const int overlap = std::min(o.overlap, o.window - 2);
  llama_batch batch = llama_batch_init(int32_t(llama_n_batch(ctx)), 0, 1);
  int positions = 0;
  bool restart = true;
  for (size_t i = 0; i < tokens.size(); ++i) {
    batch.n_tokens = 0;
    auto push = [&](llama_token t, bool logits) {
      const int k = batch.n_tokens++;
      batch.token[k] = t;
      batch.pos[k] = positions++;
      batch.n_seq_id[k] = 1;
      batch.seq_id[k][0] = 0;
      batch.logits[k] = logits;
    };
    if (restart || positions >= o.window) {
      llama_memory_seq_rm(memory, 0, -1, -1);
      const size_t carried = std::min<size_t>(i, size_t(overlap));
      positions = 0;
      push(model.start_token(), carried == 0);
      for (size_t k = 0; k < carried; ++k) push(tokens[i - carried + k], k + 1 == carried);
      restart = false;
    } else {
      push(tokens[i - 1], true);
    }
    if (llama_decode(ctx, batch) != 0) throw std::runtime_error("llama_decode failed");
    const float* l = llama_get_logits_ith(ctx, batch.n_tokens - 1);
    std::memcpy(&ch.logits[i * size_t(n_vocab)], l, sizeof(float) * size_t(n_vocab));
  }
  llama_memory_seq_rm(memory, 0, -1, -1);
  llama_batch_free(batch);
}

std::string cache_path(const Options& o, uint64_t model_hash, const Chunk& ch) {
  uint64_t h = fnv64(ch.plan.tokens.data(), ch.plan.tokens.size() * sizeof(llama_token), model_hash);
  const int policy[2] = {o.window, o.overlap};
  h = fnv64(policy, sizeof policy, h);
  char name[64];
  std::snprintf(name, sizeof name, "/%016llx.logits", static_cast<unsigned long long>(h));
  return o.cache_dir + name;
}

bool load_cached(const std::string& path, Chunk& ch, size_t expect) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  ch.logits.resize(expect);
  f.read(reinterpret_cast<char*>(ch.logits.data()), std::streamsize(expect * sizeof(float)));
  if (size_t(f.gcount()) != expect * sizeof(float)) {
    ch.logits.clear();
    return false;
  }
  return true;
}

void store_cached(const std::string& path, const Chunk& ch) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f.write(reinterpret_cast<const char*>(ch.logits.data()), std::streamsize(ch.logits.size() * sizeof(float)));
  }
  std::rename(tmp.c_str(), path.c_str());
}

// Maps each chunk to the predictor that codes it under a history scope:
// block (one for all), lane (one per lane, kept across its chunks) or chunk (fresh
// for each chunk).
class Scope {
 public:
  Scope(const std::string& kind, const MixParams& p, int n_vocab, const VocabInfo& vocab,
        const std::vector<uint32_t>& counts, int lanes)
      : kind_(kind), params_(p), n_vocab_(n_vocab), vocab_(vocab), counts_(counts) {
    if (kind_ != "block" && kind_ != "lane" && kind_ != "chunk") throw std::runtime_error("unknown scope " + kind_);
    predictors_.resize(kind_ == "block" ? 1 : size_t(lanes));
    for (auto& q : predictors_)
      if (kind_ != "chunk") q = std::make_unique<MixedPredictor>(p, n_vocab, vocab, counts);
  }
  MixedPredictor& at(const Slot& s) {
    auto& q = predictors_[kind_ == "block" ? 0 : size_t(s.lane)];
    if (kind_ == "chunk" && s.index == 0) q = std::make_unique<MixedPredictor>(params_, n_vocab_, vocab_, counts_);
    if (stats_) q->enable_stats(stats_);
    return *q;
  }
  void enable_stats(MixedPredictor::Stats* s) { stats_ = s; }
  void end_step() {
    for (auto& q : predictors_)
      if (q) q->end_step();
  }

 private:
  std::string kind_;
  MixParams params_;
  int n_vocab_;
  VocabInfo vocab_;
  std::vector<uint32_t> counts_;
  std::vector<std::unique_ptr<MixedPredictor>> predictors_;
  MixedPredictor::Stats* stats_ = nullptr;
};

// --speed N: CPU time per token of each part of a step on the first N tokens of the
// first chunk, 1 lane: llama_decode, logits -> frequencies, then coding the token
// with the LM alone (the engine's linear cumulative sum / search) or mixed. Encoding
// and decoding run over frequencies kept in memory, `repeat` times.
int speed_mode(const Options& o, Model& model, Chunk& ch, const VocabInfo& vocab) {
  const int n_vocab = model.n_vocab();
  const size_t n = std::min<size_t>(size_t(o.speed), ch.plan.tokens.size());
  ch.plan.tokens.resize(n);
  llama_context_params cp = llama_context_default_params();
  cp.n_seq_max = 1;
  cp.n_ctx = uint32_t(o.window);
  cp.n_batch = std::max<uint32_t>(uint32_t(o.overlap + 1), std::min<uint32_t>(uint32_t(o.window), 512));
  cp.n_threads = cp.n_threads_batch = o.threads;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.kv_unified = false;
  cp.no_perf = true;
  llama_context* ctx = llama_init_from_model(model.llama(), cp);
  if (!ctx) throw std::runtime_error("cannot create a llama context");
  double t0 = cpu_seconds();
  evaluate_chunk(ctx, model, o, ch);
  const double t_decode = cpu_seconds() - t0;
  llama_free(ctx);
  std::vector<uint32_t> freqs(n * size_t(n_vocab));
  std::vector<uint64_t> totals(n);
  t0 = cpu_seconds();
  for (size_t i = 0; i < n; ++i)
    totals[i] = logits_to_freqs(&ch.logits[i * size_t(n_vocab)], n_vocab, &freqs[i * size_t(n_vocab)]);
  const double t_freqs = cpu_seconds() - t0;
  const auto& tokens = ch.plan.tokens;
  const std::vector<uint32_t> counts{uint32_t(n)};
  double t_lm_enc = 0, t_lm_dec = 0, t_mix_enc = 0, t_mix_dec = 0;
  for (int rep = 0; rep < o.repeat; ++rep) {
    std::vector<uint8_t> lm_bytes, mix_bytes;
    t0 = cpu_seconds();
    {  // the engine today: cumulative sum up to the token, encode
      RangeEncoder enc(lm_bytes);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t* f = &freqs[i * size_t(n_vocab)];
        uint64_t cum = 0;
        for (llama_token t = 0; t < tokens[i]; ++t) cum += f[t];
        enc.encode(cum, f[tokens[i]], totals[i]);
      }
      enc.finish();
    }
    t_lm_enc += cpu_seconds() - t0;
    t0 = cpu_seconds();
    {  // ... and its linear search
      RangeDecoder dec(lm_bytes.data(), lm_bytes.size());
      for (size_t i = 0; i < n; ++i) {
        const uint32_t* f = &freqs[i * size_t(n_vocab)];
        const uint64_t target = dec.target(totals[i]);
        uint64_t cum = 0;
        llama_token t = 0;
        while (t + 1 < n_vocab && cum + f[t] <= target) cum += f[t++];
        dec.consume(cum, f[t]);
        if (t != tokens[i]) throw std::runtime_error("LM-alone decode mismatch");
      }
    }
    t_lm_dec += cpu_seconds() - t0;
    LmTable lm;
    t0 = cpu_seconds();
    {
      MixedPredictor p(o.mix, n_vocab, vocab, counts);
      RangeEncoder enc(mix_bytes);
      BitEncoder bits(enc);
      for (size_t i = 0; i < n; ++i) {
        lm.build(&freqs[i * size_t(n_vocab)], n_vocab);
        p.code(0, uint32_t(i), lm, bits, tokens[i]);
      }
      enc.finish();
    }
    t_mix_enc += cpu_seconds() - t0;
    t0 = cpu_seconds();
    {
      MixedPredictor p(o.mix, n_vocab, vocab, counts);
      RangeDecoder dec(mix_bytes.data(), mix_bytes.size());
      BitDecoder bits(dec);
      for (size_t i = 0; i < n; ++i) {
        lm.build(&freqs[i * size_t(n_vocab)], n_vocab);
        if (p.code(0, uint32_t(i), lm, bits, -1) != tokens[i]) throw std::runtime_error("mixed decode mismatch");
      }
    }
    t_mix_dec += cpu_seconds() - t0;
    if (rep == 0)
      std::printf("%zu tokens: LM alone %zu bytes, mixed %zu bytes\n", n, lm_bytes.size(), mix_bytes.size());
  }
  const double us = 1e6 / double(n), r = 1.0 / o.repeat;
  const double step = t_decode * us, fq = t_freqs * us;
  std::printf("CPU us/token: llama_decode %.1f, logits->freqs %.1f | LM-alone encode %.2f decode %.2f | mixed encode %.2f "
              "decode %.2f\n",
              step, fq, t_lm_enc * us * r, t_lm_dec * us * r, t_mix_enc * us * r, t_mix_dec * us * r);
  std::printf("compress %.2f%% slower with mixing, decompress %.2f%% slower (per token, 1 lane)\n",
              100.0 * (t_mix_enc - t_lm_enc) * us * r / (step + fq + t_lm_enc * us * r),
              100.0 * (t_mix_dec - t_lm_dec) * us * r / (step + fq + t_lm_dec * us * r));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options o = parse(argc, argv);
    install_llama_logger();
    auto model = std::make_shared<Model>(o.model, ModelParams{});
    const int n_vocab = model->n_vocab();

    const std::vector<uint8_t> all = read_file(o.file);
    if (o.offset > all.size()) throw std::runtime_error("offset past the end of the file");
    const size_t n = size_t(std::min<uint64_t>(o.bytes, all.size() - o.offset));
    const uint8_t* data = all.data() + o.offset;
    const uint64_t chunk_size = o.chunk_size ? o.chunk_size : default_chunk_size(n, o.lanes);

    // ---- the token plan, as the compressor makes it ----
    std::vector<Chunk> chunks;
    size_t at = 0;
    for (size_t len : chunk_lengths(data, n, chunk_size)) {
      Chunk ch;
      ch.offset = at;
      ch.size = len;
      ch.plan = model->plan_tokens(data + at, len);
      ch.model = ch.plan.ok && ch.plan.byte_coded * 2 <= len && !ch.plan.tokens.empty();
      chunks.push_back(std::move(ch));
      at += len;
    }
    size_t coded_bytes = 0, tokens = 0, byte_tokens = 0, skipped = 0;
    std::vector<uint32_t> counts;
    for (const Chunk& ch : chunks) {
      const bool use = ch.plan.ok && !ch.plan.tokens.empty() && (ch.model || o.all_chunks);
      counts.push_back(use ? uint32_t(ch.plan.tokens.size()) : 0);
      if (use) coded_bytes += ch.size, tokens += ch.plan.tokens.size(), byte_tokens += ch.plan.byte_coded;
      else skipped += ch.size;
    }
    if (o.dump_tokens) {
      const Chunk& ch = chunks[0];
      for (size_t i = 0; i < std::min<size_t>(ch.plan.tokens.size(), size_t(o.dump_tokens)); ++i)
        std::printf("%d:[%s] ", ch.plan.tokens[i], model->piece(ch.plan.tokens[i]).c_str());
      std::printf("\n");
    }
    std::printf("input %s [%llu, +%zu): %zu chunks of ~%llu bytes, %zu tokens (%.3f bytes/token), %zu byte-fallback "
                "bytes, %zu bytes not model-coded, vocab %d\n",
                o.file.c_str(), static_cast<unsigned long long>(o.offset), n, chunks.size(),
                static_cast<unsigned long long>(chunk_size), tokens, double(coded_bytes) / double(std::max<size_t>(tokens, 1)),
                byte_tokens, skipped, n_vocab);

    if (o.speed) {
      std::vector<std::string> pieces(static_cast<size_t>(n_vocab));
      for (int t = 0; t < n_vocab; ++t) pieces[size_t(t)] = model->piece(t);
      const MixParams sized = MixParams::for_block(chunks[0].plan.tokens.size());
      o.mix.table_bits = sized.table_bits, o.mix.match_bits = sized.match_bits, o.mix.direct_bits = sized.direct_bits;
      return speed_mode(o, *model, chunks[0], VocabInfo(pieces));
    }

    // ---- LM logits per chunk (cached) ----
    double lm_eval_cpu = 0;
    size_t lm_eval_tokens = 0;
    if (!o.no_lm) {
      const std::vector<uint8_t> gguf = read_file(o.model);
      const uint64_t model_hash = fnv64(gguf.data(), gguf.size());
      if (o.cache) mkdir(o.cache_dir.c_str(), 0700);
      llama_context* ctx = nullptr;
      for (size_t c = 0; c < chunks.size(); ++c) {
        if (!counts[c]) continue;
        Chunk& ch = chunks[c];
        const std::string path = cache_path(o, model_hash, ch);
        if (o.cache && load_cached(path, ch, ch.plan.tokens.size() * size_t(n_vocab))) continue;
        if (!ctx) {
          llama_context_params cp = llama_context_default_params();
          cp.n_seq_max = 1;
          cp.n_ctx = uint32_t(o.window);
          cp.n_batch = std::max<uint32_t>(uint32_t(o.overlap + 1), std::min<uint32_t>(uint32_t(o.window), 512));
          cp.n_ubatch = 512;
          cp.n_threads = o.threads;
          cp.n_threads_batch = o.threads;
          cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
          cp.kv_unified = false;
          cp.no_perf = true;
          ctx = llama_init_from_model(model->llama(), cp);
          if (!ctx) throw std::runtime_error("cannot create a llama context");
        }
        const double t0 = cpu_seconds();
        evaluate_chunk(ctx, *model, o, ch);
        lm_eval_cpu += cpu_seconds() - t0;
        lm_eval_tokens += ch.plan.tokens.size();
        if (o.cache) store_cached(path, ch);
      }
      if (ctx) llama_free(ctx);
      if (lm_eval_tokens)
        std::printf("LM evaluated %zu tokens: %.1f us CPU per token (llama_decode, 1 lane)\n", lm_eval_tokens,
                    1e6 * lm_eval_cpu / double(lm_eval_tokens));
    }

    const auto steps = lane_schedule(counts, o.lanes);
    {
      const MixParams sized = MixParams::for_block(tokens);
      o.mix.table_bits = o.table_bits ? o.table_bits : sized.table_bits;
      o.mix.match_bits = o.match_bits ? o.match_bits : sized.match_bits;
      o.mix.direct_bits = o.direct_bits ? o.direct_bits : sized.direct_bits;
      // What a file would carry, and what a decoder would make of it.
      const std::vector<uint8_t> bytes = serialize_params(o.mix);
      o.mix = parse_params(bytes.data(), bytes.size());
      std::string contexts;
      for (const auto& c : o.mix.contexts) contexts += (contexts.empty() ? "" : ",") + c.name();
      std::printf("mixing: %zu parameter bytes, contexts %s, tables 2^%d, match 2^%d, direct 2^%d: %.1f MB of tables\n",
                  bytes.size(), contexts.c_str(), o.mix.table_bits, o.mix.match_bits, o.mix.direct_bits,
                  double(o.mix.memory_bytes()) / 1e6);
    }
    std::vector<std::string> pieces(static_cast<size_t>(n_vocab));
    for (int t = 0; t < n_vocab; ++t) pieces[size_t(t)] = model->piece(t);
    const VocabInfo vocab(pieces);

    // ---- (a) the LM alone ----
    std::vector<uint32_t> freqs(static_cast<size_t>(n_vocab));
    auto lm_freqs_for = [&](const Slot& s) -> const uint32_t* {
      if (o.no_lm) {
        std::fill(freqs.begin(), freqs.end(), 1u);
      } else {
        logits_to_freqs(&chunks[s.chunk].logits[size_t(s.index) * size_t(n_vocab)], n_vocab, freqs.data());
      }
      return freqs.data();
    };
    double ideal_lm = 0, table_lm = 0;
    std::vector<uint8_t> lm_stream;
    double t_freqs = 0, t_lm_code = 0;
    {
      RangeEncoder enc(lm_stream);
      for (const auto& step : steps)
        for (const Slot& s : step) {
          const llama_token tok = chunks[s.chunk].plan.tokens[s.index];
          double t0 = cpu_seconds();
          const uint32_t* f = lm_freqs_for(s);
          double t1 = cpu_seconds();
          uint64_t total = 0, cum = 0;
          for (int i = 0; i < n_vocab; ++i) {
            if (i == tok) cum = total;
            total += f[i];
          }
          enc.encode(cum, f[tok], total);
          t_freqs += t1 - t0;
          t_lm_code += cpu_seconds() - t1;
          table_lm -= std::log2(double(f[tok]) / double(total));
          if (!o.no_lm) ideal_lm += ideal_bits(&chunks[s.chunk].logits[size_t(s.index) * size_t(n_vocab)], n_vocab, tok);
        }
      enc.finish();
    }
    const double bpb_lm = 8.0 * double(lm_stream.size()) / double(coded_bytes);
    std::printf("(a) LM alone : %zu bytes  %.4f bits/byte (ideal %.4f, table %.4f)  %.3f bits/token\n", lm_stream.size(),
                bpb_lm, ideal_lm / double(coded_bytes), table_lm / double(coded_bytes), table_lm / double(tokens));
    std::printf("    CPU per token: logits->freqs %.2f us, cumulative+encode %.2f us\n", 1e6 * t_freqs / double(tokens),
                1e6 * t_lm_code / double(tokens));
    if (o.lm_only) return 0;

    // ---- (b) mixed ----
    std::vector<uint8_t> mix_stream;
    double mix_bits = 0;
    uint64_t decisions = 0;
    double t_mix = 0;
    LmTable lm;
    MixedPredictor::Stats stats;
    for (int rep = 0; rep < o.repeat; ++rep) {
      mix_stream.clear();
      Scope scope(o.scope, o.mix, n_vocab, vocab, counts, o.lanes);
      if (rep == 0 && o.stats) scope.enable_stats(&stats);
      RangeEncoder enc(mix_stream);
      BitEncoder bits(enc);
      MeasuringCoder<BitEncoder> measured(bits);
      for (const auto& step : steps) {
        for (const Slot& s : step) {
          const uint32_t* f = lm_freqs_for(s);
          const llama_token tok = chunks[s.chunk].plan.tokens[s.index];
          const double t0 = cpu_seconds();
          if (o.no_lm) lm.build_uniform(n_vocab);
          else lm.build(f, n_vocab);
          const int32_t got = rep == 0 ? scope.at(s).code(s.chunk, s.index, lm, measured, tok)
                                       : scope.at(s).code(s.chunk, s.index, lm, bits, tok);
          t_mix += cpu_seconds() - t0;
          if (got != tok) throw std::runtime_error("encoder returned another token");
        }
        scope.end_step();
      }
      enc.finish();
      if (rep == 0) mix_bits = measured.bits, decisions = measured.decisions;
    }
    t_mix /= o.repeat;
    const double bpb_mix = 8.0 * double(mix_stream.size()) / double(coded_bytes);
    std::printf("(b) mixed    : %zu bytes  %.4f bits/byte (ideal %.4f)  %.3f bits/token  coder overhead %.4f%%\n",
                mix_stream.size(), bpb_mix, mix_bits / double(coded_bytes), mix_bits / double(tokens),
                100.0 * (8.0 * double(mix_stream.size()) - mix_bits) / mix_bits);
    std::printf("    saved %.4f bits/byte (%.2f%%) against the LM alone; %.2f decisions/token; mixing %.2f us CPU/token\n",
                bpb_lm - bpb_mix, 100.0 * (bpb_lm - bpb_mix) / bpb_lm, double(decisions) / double(tokens),
                1e6 * t_mix / double(tokens));

    if (o.stats)
      std::printf("    candidate right %.1f%% of tokens: %.3f bits/token when right, %.3f when wrong; tree %.3f bits/token "
                  "(%.2f decisions/token, %.3f bits each)\n",
                  100.0 * double(stats.candidate_hits) / double(stats.tokens), stats.candidate_hit_bits / double(stats.candidate_hits),
                  stats.candidate_miss_bits / double(stats.tokens - stats.candidate_hits), stats.tree_bits / double(stats.tokens),
                  double(stats.tree_decisions) / double(stats.tokens), stats.tree_bits / double(std::max<uint64_t>(stats.tree_decisions, 1)));
    if (o.verify) {
      Scope scope(o.scope, o.mix, n_vocab, vocab, counts, o.lanes);
      RangeDecoder dec(mix_stream.data(), mix_stream.size());
      BitDecoder bits(dec);
      double t_dec = 0;
      for (const auto& step : steps) {
        for (const Slot& s : step) {
          const uint32_t* f = lm_freqs_for(s);
          const double t0 = cpu_seconds();
          if (o.no_lm) lm.build_uniform(n_vocab);
          else lm.build(f, n_vocab);
          const int32_t got = scope.at(s).code(s.chunk, s.index, lm, bits, -1);
          t_dec += cpu_seconds() - t0;
          if (got != chunks[s.chunk].plan.tokens[s.index]) {
            std::printf("ROUND TRIP FAILED at chunk %u token %u\n", s.chunk, s.index);
            return 1;
          }
        }
        scope.end_step();
      }
      std::printf("    decoded back exactly; decode mixing %.2f us CPU/token\n", 1e6 * t_dec / double(tokens));
    }
    std::printf("RESULT file=%s bytes=%zu lm_bpb=%.4f mix_bpb=%.4f mix_ideal_bpb=%.4f\n", o.file.c_str(), coded_bytes,
                bpb_lm, bpb_mix, mix_bits / double(coded_bytes));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mix_eval: %s\n", e.what());
    return 1;
  }
}
