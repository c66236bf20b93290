#include "predictor.h"

#include <algorithm>

#include "bit_coder.h"
#include "hash.h"

namespace lmzip::mix {
namespace {

// Bucket of a context's total count for the escape estimate: 1, 2, 3, 4-5, 6-8,
// 9-15, 16-31, 32+.
uint32_t total_bucket(uint32_t n) {
  return n <= 3 ? (n ? n - 1 : 0) : n <= 5 ? 3 : n <= 8 ? 4 : n <= 15 ? 5 : n <= 31 ? 6 : 7;
}

// Bucket of a match length: the length itself below 16, then one per power of two.
uint32_t length_bucket(uint32_t len) {
  if (len < 16) return len;
  uint32_t b = 16;
  for (uint32_t l = len >> 5; l && b < 31; l >>= 1) ++b;
  return b;
}

constexpr int32_t kBias = 256;

// Q12 escape probability from a p16 probability that the token is a candidate.
uint32_t escape_q12(uint32_t p_hit) {
  const uint32_t e = (65536 - p_hit + 8) >> 4;
  return e < 1 ? 1 : e > 4095 ? 4095 : e;
}

// stretch of a context's mass on `a` against `b`: the context's candidate counts
// smoothed with the LM's frequencies by the escape probability e (Q12):
//   mass(X) = (4096 - e) * n(X) * F + e * f(X) * N
int32_t smoothed_stretch(uint64_t n_a, uint64_t n_b, uint64_t f_a, uint64_t f_b, uint32_t e) {
  const uint64_t n = n_a + n_b, f = f_a + f_b;
  const uint64_t mass_a = (4096 - e) * n_a * f + e * f_a * n;
  const uint64_t mass_b = (4096 - e) * n_b * f + e * f_b * n;
  return stretch_ratio(mass_a, mass_b);
}

}  // namespace

struct MixedPredictor::Decision {
  int32_t st[kMaxInputs];
  int set = 0;
  bool tree = false;
  int bit = 0;
  uint32_t p_mix = 0;
  int n_apm = 0;
  uint32_t apm_index[2] = {0, 0};
};

struct MixedPredictor::TokenState {
  uint32_t chunk = 0, index = 0;
  int32_t token = -1;
  int32_t prev_token = -1;
  uint64_t hash[kMaxOrders];
  ContextPrediction ctx[kMaxOrders];
  uint32_t escape[kMaxOrders];      // Q12
  uint32_t escape_ctx[kMaxOrders];
  int32_t match_token = -1;
  uint32_t match_ctx = 0;
  int32_t match_st = 0;
  std::vector<Decision> decisions;
};

MixedPredictor::MixedPredictor(const MixParams& params, int n_vocab, const std::vector<uint32_t>& chunk_token_counts)
    : params_(params),
      n_vocab_(n_vocab),
      n_orders_(int(std::min<size_t>(params.orders.size(), kMaxOrders))),
      history_(chunk_token_counts),
      match_(params.match_bits, params.match_min_len),
      match_states_(chunk_token_counts.size()),
      escape_map_(size_t(kMaxOrders) * 7 * 8, 1023),
      match_map_(32, 1023),
      candidate_mixer_(std::vector<int32_t>(size_t(n_orders_ + 3), 0), 7 * (n_orders_ + 1), params.lr_candidate),
      tree_mixer_(std::vector<int32_t>(size_t(n_orders_ + 3), 0), 4 * 2 * (n_orders_ + 1), params.lr_tree),
      candidate_apm1_(4096, params.apm_rate),
      candidate_apm2_(65536, params.apm_rate),
      scratch_(std::make_unique<TokenState>()) {
  orders_.reserve(size_t(n_orders_));
  for (int k = 0; k < n_orders_; ++k) orders_.emplace_back(params.order_bits, params.count_limit);
  // Start from the language model alone: weight 1 on its input, 0 elsewhere.
  candidate_mixer_ = Mixer([&] {
    std::vector<int32_t> w(size_t(n_orders_ + 3), 0);
    w[0] = 65536;
    return w;
  }(), 7 * (n_orders_ + 1), params.lr_candidate);
  tree_mixer_ = Mixer([&] {
    std::vector<int32_t> w(size_t(n_orders_ + 3), 0);
    w[0] = 65536;
    return w;
  }(), 4 * 2 * (n_orders_ + 1), params.lr_tree);
}

MixedPredictor::~MixedPredictor() = default;

size_t MixedPredictor::memory_bytes() const {
  size_t m = match_.memory_bytes() + history_.size() * sizeof(int32_t);
  for (const auto& o : orders_) m += o.memory_bytes();
  return m;
}

void MixedPredictor::predict_models(uint32_t chunk, uint32_t index, const LmTable&, TokenState& ts) const {
  const int32_t* tokens = history_.chunk_tokens(chunk);
  ts.chunk = chunk;
  ts.index = index;
  ts.prev_token = index ? tokens[index - 1] : -1;
  uint64_t s = kHashSeed;
  int depth = 0;
  for (int k = 0; k < n_orders_; ++k) {
    const int order = params_.orders[size_t(k)];
    for (; depth < order; ++depth) s = hash_step(s, uint32_t(depth) < index ? hash_token(tokens[index - 1 - uint32_t(depth)]) : 0);
    ts.hash[k] = hash_finish(s, uint64_t(order));
    ContextPrediction& cp = ts.ctx[k];
    orders_[size_t(k)].predict(ts.hash[k], cp);
    ts.escape_ctx[k] = (uint32_t(k) * 7 + uint32_t(std::min(cp.n, 6))) * 8 + total_bucket(cp.total);
    ts.escape[k] = escape_q12(escape_map_.p16(ts.escape_ctx[k]));
  }
  const MatchState& ms = match_states_[chunk];
  ts.match_token = MatchModel::predicted(ms, history_);
  ts.match_ctx = length_bucket(ms.len);
  ts.match_st = ts.match_token >= 0 ? stretch(match_map_.p16(ts.match_ctx)) : 0;
}

int MixedPredictor::candidate_inputs(const TokenState& ts, const LmTable& lm, int32_t c, int32_t* st) const {
  const uint64_t f = lm.total(), fc = lm.freq(c);
  st[0] = stretch_ratio(fc, f - fc);
  int highest = 0;
  for (int k = 0; k < n_orders_; ++k) {
    const ContextPrediction& cp = ts.ctx[k];
    if (!cp.found || cp.total == 0) {
      st[1 + k] = 0;
      continue;
    }
    const uint32_t nc = cp.count_of(c);
    if (nc) highest = k + 1;
    st[1 + k] = smoothed_stretch(nc, cp.total - nc, fc, f - fc, ts.escape[k]);
  }
  int match_class = 0;
  if (ts.match_token >= 0) {
    const uint32_t len = match_states_[ts.chunk].len;
    const int len_class = len < 16 ? 0 : len < 32 ? 1 : 2;
    const bool agree = ts.match_token == c;
    st[1 + n_orders_] = agree ? ts.match_st : -ts.match_st;
    match_class = agree ? 1 + len_class : 4 + len_class;
  } else {
    st[1 + n_orders_] = 0;
  }
  st[2 + n_orders_] = kBias;
  return match_class * (n_orders_ + 1) + highest;
}

int MixedPredictor::node_inputs(const TokenState& ts, const LmTable&, int32_t lo, int32_t mid, int32_t hi,
                                int32_t excluded, uint64_t fl, uint64_t fr, int depth, int32_t* st) const {
  st[0] = stretch_ratio(fr, fl);
  int highest = 0;
  for (int k = 0; k < n_orders_; ++k) {
    const ContextPrediction& cp = ts.ctx[k];
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
    highest = k + 1;
    st[1 + k] = smoothed_stretch(nr, nl, fr, fl, ts.escape[k]);
  }
  const int32_t m = ts.match_token;
  const bool match_here = m >= 0 && m != excluded && m >= lo && m < hi;
  st[1 + n_orders_] = match_here ? (m >= mid ? ts.match_st : -ts.match_st) : 0;
  st[2 + n_orders_] = kBias;
  const int depth_class = std::min(depth / 3, 3);
  return (depth_class * 2 + (match_here ? 1 : 0)) * (n_orders_ + 1) + highest;
}

uint32_t MixedPredictor::mix_decision(Decision& d) {
  Mixer& mixer = d.tree ? tree_mixer_ : candidate_mixer_;
  const int32_t s = mixer.dot(d.st, d.set);
  d.p_mix = squash(s);
  if (d.tree) {
    d.n_apm = 0;
    return d.p_mix;
  }
  return d.p_mix;
}

void MixedPredictor::learn_decision(const Decision& d) {
  Mixer& mixer = d.tree ? tree_mixer_ : candidate_mixer_;
  mixer.update(d.st, d.set, d.p_mix, d.bit);
  if (d.n_apm > 0) candidate_apm1_.update_at(d.apm_index[0], d.bit);
  if (d.n_apm > 1) candidate_apm2_.update_at(d.apm_index[1], d.bit);
}

void MixedPredictor::learn_token(TokenState& ts) {
  if (params_.update_mode != UpdateMode::kPerDecision)
    for (const Decision& d : ts.decisions) learn_decision(d);
  history_.set(ts.chunk, ts.index, ts.token);
  for (int k = 0; k < n_orders_; ++k) {
    if (ts.ctx[k].found) escape_map_.update(ts.escape_ctx[k], ts.ctx[k].count_of(ts.token) > 0);
    orders_[size_t(k)].update(ts.hash[k], ts.token);
  }
  if (ts.match_token >= 0) match_map_.update(ts.match_ctx, ts.match_token == ts.token);
  match_.update(match_states_[ts.chunk], history_, ts.chunk, ts.index);
}

template <class Coder>
int32_t MixedPredictor::code(uint32_t chunk, uint32_t index, const LmTable& lm, Coder& coder, int32_t token) {
  std::unique_ptr<TokenState> owned;
  TokenState* ts = scratch_.get();
  if (params_.update_mode == UpdateMode::kPerStep) {
    owned = std::make_unique<TokenState>();
    ts = owned.get();
  }
  ts->decisions.clear();
  predict_models(chunk, index, lm, *ts);
  const bool learn_now = params_.update_mode == UpdateMode::kPerDecision;

  auto decide = [&](Decision& d, int bit_if_known) {
    uint32_t p = mix_decision(d);
    if (!d.tree) {
      const int32_t s = stretch(d.p_mix);
      const uint32_t a1 = candidate_apm1_.predict(s, size_t(d.set) & 4095);
      d.apm_index[0] = candidate_apm1_.last_index();
      const uint32_t a2 = candidate_apm2_.predict(
          s, size_t(uint32_t(ts->prev_token + 1) * 0x9E3779B1u ^ uint32_t(d.st[0] >> 6)) & 65535);
      d.apm_index[1] = candidate_apm2_.last_index();
      d.n_apm = 2;
      p = clamp_p16((uint64_t(p) * 2 + a1 + a2 + 2) >> 2);
    }
    d.bit = coder.code(p, bit_if_known);
    if (learn_now) learn_decision(d);
    ts->decisions.push_back(d);
    return d.bit;
  };

  int32_t excluded = -1;
  int32_t result = -1;
  if (params_.candidate_stage) {
    const int32_t c = lm.top();
    Decision d;
    d.tree = false;
    d.set = candidate_inputs(*ts, lm, c, d.st);
    if (decide(d, token == c)) result = c;
    else excluded = c;
  }
  if (result < 0) {
    int32_t lo = 0, hi = n_vocab_;
    int depth = 0;
    const uint64_t fx = excluded >= 0 ? lm.freq(excluded) : 0;
    while (hi - lo > 1) {
      const int32_t mid = lo + (hi - lo) / 2;
      uint64_t fl = lm.mass(lo, mid), fr = lm.mass(mid, hi);
      if (excluded >= lo && excluded < hi) (excluded < mid ? fl : fr) -= fx;
      if (fl == 0) {
        lo = mid;
        continue;
      }
      if (fr == 0) {
        hi = mid;
        continue;
      }
      Decision d;
      d.tree = true;
      d.set = node_inputs(*ts, lm, lo, mid, hi, excluded, fl, fr, depth, d.st);
      if (decide(d, token >= mid)) lo = mid;
      else hi = mid;
      ++depth;
    }
    result = lo;
  }
  ts->token = result;
  if (params_.update_mode == UpdateMode::kPerStep) pending_.push_back(std::move(owned));
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
