#include "predictor.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>

#include "bit_coder.h"
#include "hash.h"

namespace lmzip::mix {
namespace {

constexpr int32_t kBias = 256;  // the constant input: 1 bit of log-odds
constexpr uint64_t kSaltDirect = 0x444952454354ull, kSaltNode = 0x4E4F4445ull, kSaltTreeApm = 0x54415041ull,
                   kSaltSets = 0x53455453ull;

// Bucket of a count: 0, 1, 2, 3, 4-5, 6-9, 10-19, 20+.
uint32_t count_bucket(uint32_t n) { return n <= 3 ? n : n <= 5 ? 4 : n <= 9 ? 5 : n <= 19 ? 6 : 7; }

// Bucket of a match length: the length itself below 16, then one per power of two up to 31.
uint32_t length_bucket(uint32_t len) {
  if (len < 16) return len;
  uint32_t b = 16;
  for (uint32_t l = len >> 5; l && b < 31; l >>= 1) ++b;
  return b;
}

// Q12 escape probability from a p16 probability that the token is a candidate.
uint32_t escape_q12(uint32_t p_hit) {
  const uint32_t e = (65536 - p_hit + 8) >> 4;
  return e < 1 ? 1 : e > 4095 ? 4095 : e;
}

// A context's opinion of `a` against `b`: its candidate counts n smoothed with the
// LM's frequencies f by the escape probability e (Q12):
//   mass(X) = (4096 - e) * n(X) * (f_a + f_b) + e * f(X) * (n_a + n_b)
int32_t smoothed_stretch(uint64_t n_a, uint64_t n_b, uint64_t f_a, uint64_t f_b, uint32_t e) {
  const uint64_t n = n_a + n_b, f = f_a + f_b;
  const uint64_t mass_a = (4096 - e) * n_a * f + e * f_a * n;
  const uint64_t mass_b = (4096 - e) * n_b * f + e * f_b * n;
  return stretch_ratio(mass_a, mass_b);
}

// A tree node [lo, hi) as one number.
uint64_t node_key(int32_t lo, int32_t hi) { return uint64_t(uint32_t(lo)) << 32 | uint32_t(hi); }

}  // namespace

// One binary decision: its inputs, how they were mixed, what was coded.
struct MixedPredictor::Decision {
  int32_t st[kMaxInputs];
  bool tree = false;
  uint64_t node = 0;        // tree decisions: node_key(lo, hi)
  int sets[4] = {0, 0, 0, 0};  // weight set of each first-layer mixer
  int final_set = 0;
  int32_t s1[4] = {0, 0, 0, 0};  // first-layer outputs
  int32_t s = 0;              // mixed stretch
  uint32_t p_mix = 0;         // squash(s)
  uint32_t direct_index[kMaxDirect];
  uint32_t apm_index[2] = {0, 0};
  int n_apm = 0;
  int bit = 0;
};

// Everything one token's coding observed, kept until it is learnt from.
struct MixedPredictor::TokenState {
  uint32_t chunk = 0, index = 0;
  int32_t token = -1;
  int32_t prev_token = -1;
  uint64_t hash[kMaxContexts];
  ContextPrediction ctx[kMaxContexts];
  uint32_t escape[kMaxContexts];      // Q12
  uint32_t escape_ctx[kMaxContexts];  // escape_map_ entry
  uint64_t recent[3];  // running hashes of the last 0, 1, 2 tokens (d_0, d_1, d_2)
  int32_t match_token = -1;
  uint32_t match_ctx = 0;
  int32_t match_st = 0;
  // Stage 1: the options, their inputs, the chosen one (the candidate).
  int n_options = 0, chosen = -1;
  int32_t option_token[kMaxOptions];
  Decision option[kMaxOptions];
  uint32_t option_ctx[kMaxOptions][kMaxContexts];  // candidate_map_ entry per context (UINT32_MAX: none)
  std::vector<Decision> decisions;                 // as coded
};

MixedPredictor::MixedPredictor(const MixParams& params, int n_vocab, const VocabInfo& vocab,
                               const std::vector<uint32_t>& chunk_token_counts)
    : params_(params),
      n_vocab_(n_vocab),
      n_contexts_(int(params.contexts.size())),
      n_orders_(int(std::count_if(params.contexts.begin(), params.contexts.end(),
                                  [](const ContextSpec& c) { return c.kind == ContextKind::kOrder; }))),
      vocab_(vocab),
      history_(chunk_token_counts),
      sequences_(chunk_token_counts.size()),
      match_(params.match_bits, params.match_min_len),
      escape_map_(size_t(kMaxContexts) * 7 * 8, 1023),
      candidate_map_(size_t(kMaxContexts) * 256, 1023),
      match_map_(32 * 4, 1023),
      direct_map_(size_t(1) << params.direct_bits, params.direct_limit),
      candidate_mixer_({}, {}, 0, 0, 0, 1, 0),
      tree_mixer_({}, {}, 0, 0, 0, 1, 0),
      candidate_apm1_(4096, params.apm_rate),
      candidate_apm2_(65536, params.apm_rate),
      tree_apm_(65536, params.apm_rate),
      scratch_(std::make_unique<TokenState>()) {
  if (n_vocab < 2 || n_vocab > kMaxVocab) throw std::invalid_argument("vocabulary size out of range for mixing");
  if (n_contexts_ > kMaxContexts) throw std::invalid_argument("too many context models");
  if (params.direct_orders < 0 || params.direct_orders > kMaxDirect) throw std::invalid_argument("direct_orders > 3");
  tables_.reserve(size_t(n_contexts_));
  for (int k = 0; k < n_contexts_; ++k) tables_.emplace_back(params.table_bits, params.count_limit);
  // Initial weights: init_lm_weight on the LM's input, init_context_weight on each
  // context's and direct model's, 0 on the match model's and the bias (Q12 -> Q16).
  const int32_t w_lm = int32_t(params.init_lm_weight) << 4, w_ctx = int32_t(params.init_context_weight) << 4;
  std::vector<int32_t> w(size_t(2 * n_contexts_ + 3 + params.direct_orders), w_ctx);
  w[0] = w_lm;
  w[size_t(1 + 2 * n_contexts_)] = w[size_t(2 + 2 * n_contexts_)] = 0;
  candidate_mixer_ = TwoLayerMixer(w, {7 * (n_orders_ + 1) * 2, 16 * 2, 1024, 1024}, 7, params.lr_candidate,
                                   params.lr_boost, params.lr_half, params.lr_final);
  w.assign(size_t(n_contexts_ + 3 + params.direct_orders), w_ctx);
  w[0] = w_lm;
  w[size_t(1 + n_contexts_)] = w[size_t(2 + n_contexts_)] = 0;
  tree_mixer_ = TwoLayerMixer(w, {4 * 2 * (n_orders_ + 1), 16 * 8, 1024, 1024}, 4, params.lr_tree, params.lr_boost,
                              params.lr_half, params.lr_final);
}

MixedPredictor::~MixedPredictor() = default;

// What the models say before the token: context lookups, escape estimates, the
// direct models' contexts, the match model's prediction.
void MixedPredictor::observe(uint32_t chunk, uint32_t index, TokenState& ts) const {
  const int32_t* tokens = history_.chunk_tokens(chunk);
  const Sequence& seq = sequences_[chunk];
  ts.chunk = chunk;
  ts.index = index;
  ts.prev_token = index ? tokens[index - 1] : -1;
  context_hashes(params_.contexts, history_, chunk, index, seq, ts.hash);
  for (int k = 0; k < n_contexts_; ++k) {
    ContextPrediction& cp = ts.ctx[k];
    tables_[size_t(k)].predict(ts.hash[k], cp);
    ts.escape_ctx[k] = (uint32_t(k) * 7 + uint32_t(std::min(cp.n, 6))) * 8 + count_bucket(cp.total);
    ts.escape[k] = escape_q12(escape_map_.p16(ts.escape_ctx[k]));
  }
  ts.recent[0] = kHashSeed;
  for (uint32_t j = 1; j < 3; ++j) ts.recent[j] = hash_step(ts.recent[j - 1], j <= index ? hash_token(tokens[index - j]) : 0);
  ts.match_token = MatchModel::predicted(seq.match, history_);
  ts.match_ctx = length_bucket(seq.match.len) * 4 + std::min<uint32_t>(seq.match.misses, 3);
  ts.match_st = ts.match_token >= 0 ? stretch(match_map_.p16(ts.match_ctx)) : 0;
}

// Inputs of "is the token c?": the LM's stretch of c, each context's smoothed and
// learned opinion, the match model's, the bias (the direct models' follow).
void MixedPredictor::candidate_inputs(const TokenState& ts, const LmTable& lm, int32_t c, Decision& d,
                                      uint32_t* sm_ctx) const {
  int32_t* st = d.st;
  const uint64_t f = lm.total(), fc = lm.freq(c);
  st[0] = stretch_ratio(fc, f - fc);
  int highest_order = 0, orders_seen = 0;
  bool structure_top = false;
  for (int k = 0; k < n_contexts_; ++k) {
    const ContextPrediction& cp = ts.ctx[k];
    const bool is_order = params_.contexts[size_t(k)].kind == ContextKind::kOrder;
    if (is_order) ++orders_seen;
    if (cp.n == 0) {
      st[1 + 2 * k] = st[2 + 2 * k] = 0;
      sm_ctx[k] = UINT32_MAX;
      continue;
    }
    const uint32_t nc = cp.count_of(c);
    const bool top = cp.c[0].token == c;
    if (nc && is_order) highest_order = orders_seen;
    if (top && !is_order) structure_top = true;
    st[1 + 2 * k] = smoothed_stretch(nc, cp.total - nc, fc, f - fc, ts.escape[k]);
    sm_ctx[k] = uint32_t(k) * 256 + count_bucket(nc) * 32 + count_bucket(cp.total) * 4 + (top ? 2 : 0) + (cp.n == 1 ? 1 : 0);
    st[2 + 2 * k] = stretch(candidate_map_.p16(sm_ctx[k]));
  }
  const int m = 1 + 2 * n_contexts_;
  int match_class = 0;  // 0 none, 1-3 agrees, 4-6 disagrees (by length)
  if (ts.match_token >= 0) {
    const uint32_t len = sequences_[ts.chunk].match.len;
    const int len_class = len < 16 ? 0 : len < 32 ? 1 : 2;
    const bool agree = ts.match_token == c;
    st[m] = agree ? ts.match_st : -ts.match_st;
    match_class = (agree ? 1 : 4) + len_class;
  } else {
    st[m] = 0;
  }
  st[m + 1] = kBias;
  d.sets[0] = (match_class * (n_orders_ + 1) + highest_order) * 2 + (structure_top ? 1 : 0);
  d.sets[1] = std::clamp((st[0] + 4096) >> 9, 0, 15) * 2 + (c == lm.top() ? 1 : 0);
  d.sets[2] = int(uint32_t(ts.prev_token + 1) & 1023);
  d.sets[3] = int(hash_finish(ts.recent[2], kSaltSets) >> 54);
  d.final_set = match_class;
}

// Inputs of "is the token in [mid, hi) rather than [lo, mid)?" (excluded left out).
void MixedPredictor::node_inputs(const TokenState& ts, int32_t lo, int32_t mid, int32_t hi, int32_t excluded,
                                 uint64_t fl, uint64_t fr, int depth, Decision& d) const {
  int32_t* st = d.st;
  st[0] = stretch_ratio(fr, fl);
  int highest_order = 0, orders_seen = 0;
  for (int k = 0; k < n_contexts_; ++k) {
    const ContextPrediction& cp = ts.ctx[k];
    const bool is_order = params_.contexts[size_t(k)].kind == ContextKind::kOrder;
    if (is_order) ++orders_seen;
    uint32_t nl = 0, nr = 0;
    for (int i = 0; i < cp.n; ++i) {
      const int32_t t = cp.c[i].token;
      if (t == excluded || t < lo || t >= hi) continue;
      (t < mid ? nl : nr) += cp.c[i].count;
    }
    if (nl + nr == 0) {
      st[1 + k] = 0;
      continue;
    }
    if (is_order) highest_order = orders_seen;
    st[1 + k] = smoothed_stretch(nr, nl, fr, fl, ts.escape[k]);
  }
  const int32_t m = ts.match_token;
  const bool match_here = m >= 0 && m != excluded && m >= lo && m < hi;
  st[1 + n_contexts_] = match_here ? (m >= mid ? ts.match_st : -ts.match_st) : 0;
  st[2 + n_contexts_] = kBias;
  const int depth_class = std::min(depth / 3, 3);
  d.sets[0] = (depth_class * 2 + (match_here ? 1 : 0)) * (n_orders_ + 1) + highest_order;
  d.sets[1] = std::min(depth, 15) * 8 + std::min(std::abs(st[0]) >> 9, 7);
  d.sets[2] = int(hash_finish(node_key(lo, hi), kSaltNode) & 1023);
  d.sets[3] = int(hash_finish(hash_step(ts.recent[1], node_key(lo, hi)), kSaltSets) >> 54);
  d.final_set = depth_class;
}

// The direct models' inputs for a decision identified by `key`: an adaptive
// probability per (decision, last j tokens), j = 0 ... direct_orders-1.
void MixedPredictor::direct_inputs(const TokenState& ts, uint64_t key, int32_t* st, uint32_t* index) const {
  for (int j = 0; j < params_.direct_orders; ++j) {
    index[j] = uint32_t(hash_finish(hash_step(ts.recent[j], key), kSaltDirect + uint64_t(j)) >>
                        (64 - params_.direct_bits));
    st[j] = stretch(direct_map_.p16(index[j]));
  }
}

// The probability a decision is coded with: the mixed one averaged with APMs.
uint32_t MixedPredictor::refine(const TokenState& ts, Decision& d) {
  d.p_mix = squash(d.s);
  if (!d.tree) {
    const uint32_t a1 = candidate_apm1_.predict(d.s, size_t(d.sets[0]));
    d.apm_index[0] = candidate_apm1_.last_index();
    const uint32_t ctx2 = (uint32_t(ts.prev_token + 1) * 0x9E3779B1u ^ uint32_t(d.st[0] >> 6)) & 65535;
    const uint32_t a2 = candidate_apm2_.predict(d.s, ctx2);
    d.apm_index[1] = candidate_apm2_.last_index();
    d.n_apm = 2;
    return clamp_p16((uint64_t(d.p_mix) * 2 + a1 + a2 + 2) >> 2);
  }
  const uint64_t ctx = hash_finish(hash_step(ts.recent[1], d.node), kSaltTreeApm) >> 48;
  const uint32_t a = tree_apm_.predict(d.s, ctx);
  d.apm_index[0] = tree_apm_.last_index();
  d.n_apm = 1;
  return clamp_p16((uint64_t(d.p_mix) + a + 1) >> 1);
}

void MixedPredictor::learn_decision(const Decision& d) {
  (d.tree ? tree_mixer_ : candidate_mixer_).update(d.st, d.sets, d.final_set, d.s1, d.s, d.bit);
  for (int j = 0; j < params_.direct_orders; ++j) direct_map_.update(d.direct_index[j], d.bit);
  if (d.tree) {
    if (d.n_apm > 0) tree_apm_.update_at(d.apm_index[0], d.bit);
  } else {
    if (d.n_apm > 0) candidate_apm1_.update_at(d.apm_index[0], d.bit);
    if (d.n_apm > 1) candidate_apm2_.update_at(d.apm_index[1], d.bit);
  }
}

// Everything learns from the coded token, in this order (docs/MIXING.md, "Learning").
void MixedPredictor::learn_token(TokenState& ts) {
  if (params_.update_mode != UpdateMode::kPerDecision)
    for (const Decision& d : ts.decisions) learn_decision(d);
  // The options not coded learn as if they had been: "was it this one?"
  for (int i = 0; i < ts.n_options; ++i) {
    const int bit = ts.option_token[i] == ts.token;
    if (i != ts.chosen) {
      Decision& d = ts.option[i];
      d.bit = bit;
      d.n_apm = 0;
      learn_decision(d);
    }
    for (int k = 0; k < n_contexts_; ++k)
      if (ts.option_ctx[i][k] != UINT32_MAX) candidate_map_.update(ts.option_ctx[i][k], bit);
  }
  for (int k = 0; k < n_contexts_; ++k) {
    if (ts.ctx[k].n) escape_map_.update(ts.escape_ctx[k], ts.ctx[k].count_of(ts.token) > 0);
    tables_[size_t(k)].update(ts.hash[k], ts.token);
  }
  if (ts.match_token >= 0) match_map_.update(ts.match_ctx, ts.match_token == ts.token);
  history_.set(ts.chunk, ts.index, ts.token);
  Sequence& seq = sequences_[ts.chunk];
  match_.update(seq.match, history_, ts.chunk, ts.index);
  seq.advance(history_.chunk_tokens(ts.chunk), ts.index, vocab_);
}

template <class Coder>
int32_t MixedPredictor::code(uint32_t chunk, uint32_t index, const LmTable& lm, Coder& coder, int32_t token) {
  std::unique_ptr<TokenState> deferred;
  TokenState* ts = scratch_.get();
  if (params_.update_mode == UpdateMode::kPerStep) {
    deferred = std::make_unique<TokenState>();
    ts = deferred.get();
  }
  ts->decisions.clear();
  observe(chunk, index, *ts);

  auto decide = [&](Decision& d, int bit_if_known) {
    const uint32_t p = refine(*ts, d);
    d.bit = coder.code(p, bit_if_known);
    if (stats_) {
      const double bits = -std::log2(double(d.bit ? p : 65536 - p) / 65536.0);
      if (d.tree) stats_->tree_bits += bits, ++stats_->tree_decisions;
      else (d.bit ? stats_->candidate_hit_bits : stats_->candidate_miss_bits) += bits;
      if (!d.tree && d.bit) ++stats_->candidate_hits;
    }
    if (params_.update_mode == UpdateMode::kPerDecision) learn_decision(d);
    ts->decisions.push_back(d);
    return d.bit;
  };

  // ---- stage 1: the options, in order: the LM's top token, the match model's
  // prediction, each context's most counted token from the last context to the
  // first; the first occurrence of each token counts.
  ts->n_options = 0;
  auto offer = [&](int32_t t) {
    if (t < 0) return;
    for (int i = 0; i < ts->n_options; ++i)
      if (ts->option_token[i] == t) return;
    ts->option_token[ts->n_options++] = t;
  };
  offer(lm.top());
  offer(ts->match_token);
  for (int k = n_contexts_ - 1; k >= 0; --k)
    if (ts->ctx[k].n) offer(ts->ctx[k].c[0].token);
  // The candidate is the option mixed most likely (the first on a tie).
  ts->chosen = 0;
  for (int i = 0; i < ts->n_options; ++i) {
    Decision& d = ts->option[i];
    d.tree = false;
    candidate_inputs(*ts, lm, ts->option_token[i], d, ts->option_ctx[i]);
    direct_inputs(*ts, uint64_t(uint32_t(ts->option_token[i])) << 1, d.st + 2 * n_contexts_ + 3, d.direct_index);
    d.s = candidate_mixer_.mix(d.st, d.sets, d.final_set, d.s1);
    if (d.s > ts->option[ts->chosen].s) ts->chosen = i;
  }
  const int32_t c = ts->option_token[ts->chosen];
  Decision first = ts->option[ts->chosen];
  int32_t result = decide(first, token == c) ? c : -1;

  // ---- stage 2: down the tree over [0, n_vocab), c excluded.
  if (result < 0) {
    int32_t lo = 0, hi = n_vocab_;
    int depth = 0;
    const uint64_t fc = lm.freq(c);
    uint64_t node_mass = lm.total();  // of [lo, hi), c included
    while (hi - lo > 1) {
      const int32_t mid = lo + (hi - lo) / 2;
      const uint64_t left = lm.mass(lo, mid);
      uint64_t fl = left, fr = node_mass - left;
      if (c >= lo && c < hi) (c < mid ? fl : fr) -= fc;
      if (fl == 0 || fr == 0) {  // one side holds only c: no decision
        if (fl == 0) lo = mid, node_mass -= left;
        else hi = mid, node_mass = left;
        continue;
      }
      Decision d;
      d.tree = true;
      d.node = node_key(lo, hi);
      node_inputs(*ts, lo, mid, hi, c, fl, fr, depth, d);
      direct_inputs(*ts, node_key(lo, hi) << 1 | 1, d.st + n_contexts_ + 3, d.direct_index);
      d.s = tree_mixer_.mix(d.st, d.sets, d.final_set, d.s1);
      if (decide(d, token >= mid)) lo = mid, node_mass -= left;
      else hi = mid, node_mass = left;
      ++depth;
    }
    result = lo;
  }
  ts->token = result;
  if (stats_) ++stats_->tokens;
  if (params_.update_mode == UpdateMode::kPerStep) pending_.push_back(std::move(deferred));
  else learn_token(*ts);
  return result;
}

void MixedPredictor::end_step() {
  for (auto& ts : pending_) learn_token(*ts);
  pending_.clear();
}

template int32_t MixedPredictor::code(uint32_t, uint32_t, const LmTable&, BitEncoder&, int32_t);
template int32_t MixedPredictor::code(uint32_t, uint32_t, const LmTable&, BitDecoder&, int32_t);
template int32_t MixedPredictor::code(uint32_t, uint32_t, const LmTable&, MeasuringCoder<BitEncoder>&, int32_t);
template int32_t MixedPredictor::code(uint32_t, uint32_t, const LmTable&, MeasuringCoder<BitDecoder>&, int32_t);

}  // namespace lmzip::mix
