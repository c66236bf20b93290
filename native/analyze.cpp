#include "analyze.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace lmzip {
namespace {

// log2(x) for x >= 1 in float, straight-line so that the compiler vectorizes the
// pass over the table (libm's log2 per entry of a 32000-token vocabulary cost more
// than the coding itself). x = m·2^e with m in [√½, √2), and log2(m) = log2(1 + t)
// from a degree-6 polynomial fitted at Chebyshev nodes: error below 3e-6 bits.
inline float log2_approx(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t high = (bits & 0x007fffffu) > 0x003504f3u;  // mantissa above √2: halve m
  const int e = int(bits >> 23) - 127 + int(high);
  const float t = std::bit_cast<float>(((bits & 0x007fffffu) | 0x3f800000u) - (high << 23)) - 1.0f;
  float p = -0.19654828f;
  p = p * t + 0.31991413f;
  p = p * t - 0.36936922f;
  p = p * t + 0.47958777f;
  p = p * t - 0.72102095f;
  p = p * t + 1.44270950f;
  p = p * t - 1.6958884e-6f;
  return float(e) + p;
}

}  // namespace

double token_bits(uint32_t freq, uint64_t total) { return -std::log2(double(freq) / double(total)); }

// The addon's own sources are built for plain x86-64; this pass runs 2-3 times
// faster with AVX2 (measured), so on Linux x86-64 the compiler also makes an AVX2
// copy and the loader picks the one the CPU can run.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define LMZIP_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define LMZIP_AVX2_CLONE
#endif

LMZIP_AVX2_CLONE
StepInsight inspect_step(const uint32_t* freqs, int n, uint64_t total, int token, int k, int32_t* top_ids) {
  const uint32_t own = freqs[token];
  if (k > n) k = n;
  if (k < 0) k = 0;
  int filled = 0;
  uint32_t kth = 0;  // the smallest frequency on the candidate list once it is full
  // The k most likely: insertion into a short sorted list, most likely first (ties:
  // lower id first).
  auto consider = [&](int t) {
    const uint32_t f = freqs[t];
    if (filled == k && f <= kth) return;
    int at = filled < k ? filled++ : k - 1;
    while (at > 0 && freqs[top_ids[at - 1]] < f) {
      top_ids[at] = top_ids[at - 1];
      --at;
    }
    top_ids[at] = t;
    if (filled == k) kth = freqs[top_ids[k - 1]];
  };
  // Σ f·log2 f, the count of more likely tokens and each block's largest frequency,
  // in independent lanes (one vector's worth) so the loop vectorizes; each block's
  // float sums are added in double. Only a block whose largest frequency could enter
  // the candidate list is looked at token by token.
  constexpr int kLanes = 8, kBlock = 128;
  double sum = 0;
  uint32_t above = 0;
  int i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    float lanes[kLanes] = {};
    uint32_t higher[kLanes] = {};
    int32_t largest[kLanes] = {};
    for (int b = 0; b < kBlock; b += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        // Frequencies are below 2^31 (freqs.h): signed arithmetic, which x86 vectors do natively.
        const int32_t f = int32_t(freqs[i + b + j]);
        const float x = float(f);
        lanes[j] += x * log2_approx(x);
        higher[j] += f > int32_t(own);
        largest[j] = std::max(largest[j], f);
      }
    uint32_t block_max = 0;
    for (int j = 0; j < kLanes; ++j) {
      sum += lanes[j];
      above += higher[j];
      block_max = std::max(block_max, uint32_t(largest[j]));
    }
    if (k > 0 && (filled < k || block_max > kth))
      for (int t = i; t < i + kBlock; ++t) consider(t);
  }
  for (; i < n; ++i) {
    const float x = float(freqs[i]);
    sum += double(x) * double(log2_approx(x));
    above += freqs[i] > own;
    if (k > 0) consider(i);
  }
  // H = log2 T − (1/T)·Σ f·log2 f
  // (kept within [0, log2 n], which rounding could leave by a hair for one-token or flat tables)
  const double h = std::clamp(std::log2(double(total)) - sum / double(total), 0.0, std::log2(double(n)));
  return StepInsight{h, above + 1, filled};
}

TokenRecorder::TokenRecorder(size_t n_chunks, int top_k)
    : top_k_(top_k), steps_(n_chunks), top_ids_(n_chunks), top_probs_(n_chunks) {}

void TokenRecorder::record(size_t chunk, int32_t token, const uint32_t* freqs, int n_vocab, uint64_t total) {
  auto& ids = top_ids_[chunk];
  auto& probs = top_probs_[chunk];
  const size_t at = ids.size();
  ids.resize(at + size_t(top_k_), -1);
  probs.resize(at + size_t(top_k_), 0.0f);
  const StepInsight s = inspect_step(freqs, n_vocab, total, token, top_k_, ids.data() + at);
  for (int j = 0; j < s.top_count; ++j) probs[at + size_t(j)] = float(double(freqs[ids[at + size_t(j)]]) / double(total));
  steps_[chunk].push_back(Step{token, s.rank, token_bits(freqs[token], total), float(s.entropy)});
}

TokenRecords TokenRecorder::finish(const Model& model, const std::vector<uint8_t>& strip_leading_space) {
  TokenRecords r;
  r.top_k = top_k_;
  size_t n = 0;
  for (const auto& s : steps_) n += s.size();
  r.tokens.reserve(n);
  r.byte_lengths.reserve(n);
  r.bits.reserve(n);
  r.entropy.reserve(n);
  r.rank.reserve(n);
  r.top_ids.reserve(n * size_t(std::max(top_k_, 0)));
  r.top_probs.reserve(n * size_t(std::max(top_k_, 0)));
  std::vector<bool> seen(size_t(model.n_vocab()), false);
  auto note_piece = [&](int32_t id) {
    if (id < 0 || seen[size_t(id)]) return;
    seen[size_t(id)] = true;
    const std::string& p = model.piece(id);
    r.piece_ids.push_back(id);
    r.piece_lengths.push_back(uint32_t(p.size()));
    r.piece_bytes += p;
  };
  for (size_t c = 0; c < steps_.size(); ++c) {
    double chunk_bits = 0;
    for (size_t i = 0; i < steps_[c].size(); ++i) {
      const Step& s = steps_[c][i];
      uint32_t length = uint32_t(model.piece(s.token).size());
      // The planner's leading space belongs to the first piece and not to the data.
      if (i == 0 && c < strip_leading_space.size() && strip_leading_space[c] && length > 0) --length;
      r.tokens.push_back(s.token);
      r.byte_lengths.push_back(length);
      r.bits.push_back(s.bits);
      r.entropy.push_back(s.entropy);
      r.rank.push_back(s.rank);
      chunk_bits += s.bits;  // the order and expression of encode's table_bits
      note_piece(s.token);
    }
    r.chunk_bits.push_back(chunk_bits);
    r.chunk_tokens.push_back(uint32_t(steps_[c].size()));
    r.top_ids.insert(r.top_ids.end(), top_ids_[c].begin(), top_ids_[c].end());
    r.top_probs.insert(r.top_probs.end(), top_probs_[c].begin(), top_probs_[c].end());
    for (int32_t id : top_ids_[c]) note_piece(id);
    steps_[c] = {};
    top_ids_[c] = {};
    top_probs_[c] = {};
  }
  return r;
}

}  // namespace lmzip
