#include "analyze.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace lmzip {
namespace {

// f·log2(f) exactly for the small frequencies that make up most of a large
// vocabulary's table (the tail the model finds unlikely)...
constexpr uint32_t kSmallFreqs = 4096;
// ...and log2(1 + j/1024) for the mantissa of larger ones, interpolated linearly
// (error below 2e-7: the entropy is for display, and libm's log2 per token of a
// 32000-token vocabulary costs more than the coding itself).
constexpr int kMantissaBits = 10;
struct Log2Tables {
  std::array<double, kSmallFreqs> small_f_log2_f{};
  std::array<double, (1 << kMantissaBits) + 1> log2_1p{};
  Log2Tables() {
    for (uint32_t f = 1; f < kSmallFreqs; ++f) small_f_log2_f[f] = double(f) * std::log2(double(f));
    for (int j = 0; j <= (1 << kMantissaBits); ++j) log2_1p[size_t(j)] = std::log2(1.0 + double(j) / (1 << kMantissaBits));
  }
};
const Log2Tables& tables() {
  static const Log2Tables t;
  return t;
}

// f·log2(f) for any frequency.
inline double f_log2_f(uint32_t f, const Log2Tables& t) {
  if (f < kSmallFreqs) return t.small_f_log2_f[f];
  const int e = 31 - __builtin_clz(f);                     // 2^e <= f < 2^(e+1), e >= 12
  const uint32_t frac = (f << (31 - e)) << 1;              // the bits below the leading one, left-aligned
  const uint32_t j = frac >> (32 - kMantissaBits);
  const double within = double(frac << kMantissaBits) / 4294967296.0;  // position between table entries
  const double log2_m = t.log2_1p[j] + (t.log2_1p[j + 1] - t.log2_1p[j]) * within;
  return double(f) * (double(e) + log2_m);
}

}  // namespace

double token_bits(uint32_t freq, uint64_t total) { return -std::log2(double(freq) / double(total)); }

StepInsight inspect_step(const uint32_t* freqs, int n, uint64_t total, int token, int k, int32_t* top_ids) {
  const Log2Tables& t = tables();
  const uint32_t own = freqs[token];
  if (k > n) k = n;
  if (k < 0) k = 0;
  double sum = 0;
  uint32_t higher = 0;
  int filled = 0;
  uint32_t kth = 0;  // the smallest frequency on the list once it is full
  for (int i = 0; i < n; ++i) {
    const uint32_t f = freqs[i];
    sum += f_log2_f(f, t);
    higher += f > own;
    if (k == 0 || (filled == k && f <= kth)) continue;
    // Insertion into the short sorted list; most tokens never get here.
    int at = filled < k ? filled++ : k - 1;
    while (at > 0 && freqs[top_ids[at - 1]] < f) {
      top_ids[at] = top_ids[at - 1];
      --at;
    }
    top_ids[at] = i;
    if (filled == k) kth = freqs[top_ids[k - 1]];
  }
  // H = log2 T − (1/T)·Σ f·log2 f
  const double h = std::log2(double(total)) - sum / double(total);
  return StepInsight{h > 0 ? h : 0, higher + 1, filled};  // a one-token table rounds to a tiny negative
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
