#include "analyze.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace lmzip {
namespace {

// f·log2(f) for the small frequencies that make up most of a large vocabulary's
// table (the tail the model finds unlikely), so entropy needs log2 only for the few
// likely tokens.
constexpr uint32_t kSmallFreqs = 4096;
const std::array<double, kSmallFreqs>& small_f_log2_f() {
  static const std::array<double, kSmallFreqs> table = [] {
    std::array<double, kSmallFreqs> t{};
    for (uint32_t f = 1; f < kSmallFreqs; ++f) t[f] = double(f) * std::log2(double(f));
    return t;
  }();
  return table;
}

}  // namespace

double token_bits(uint32_t freq, uint64_t total) { return -std::log2(double(freq) / double(total)); }

double table_entropy(const uint32_t* freqs, int n, uint64_t total) {
  // H = log2 T − (1/T)·Σ f·log2 f
  const auto& small = small_f_log2_f();
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    const uint32_t f = freqs[i];
    sum += f < kSmallFreqs ? small[f] : double(f) * std::log2(double(f));
  }
  const double t = double(total);
  const double h = std::log2(t) - sum / t;
  return h > 0 ? h : 0;  // a one-token table rounds to a tiny negative
}

uint32_t token_rank(const uint32_t* freqs, int n, int token) {
  const uint32_t own = freqs[token];
  uint32_t higher = 0;
  for (int i = 0; i < n; ++i) higher += freqs[i] > own;
  return higher + 1;
}

int top_tokens(const uint32_t* freqs, int n, int k, int32_t* ids) {
  if (k > n) k = n;
  if (k <= 0) return 0;
  // Insertion into a short sorted list; most tokens fail the first comparison.
  int filled = 0;
  for (int i = 0; i < n; ++i) {
    const uint32_t f = freqs[i];
    if (filled == k && f <= freqs[ids[k - 1]]) continue;
    int at = filled < k ? filled++ : k - 1;
    while (at > 0 && freqs[ids[at - 1]] < f) {
      ids[at] = ids[at - 1];
      --at;
    }
    ids[at] = i;
  }
  return k;
}

TokenRecorder::TokenRecorder(size_t n_chunks, int top_k)
    : top_k_(top_k), steps_(n_chunks), top_ids_(n_chunks), top_probs_(n_chunks) {}

void TokenRecorder::record(size_t chunk, int32_t token, const uint32_t* freqs, int n_vocab, uint64_t total) {
  steps_[chunk].push_back(
      Step{token, token_rank(freqs, n_vocab, token), token_bits(freqs[token], total), float(table_entropy(freqs, n_vocab, total))});
  if (top_k_ <= 0) return;
  auto& ids = top_ids_[chunk];
  auto& probs = top_probs_[chunk];
  const size_t at = ids.size();
  ids.resize(at + size_t(top_k_), -1);
  probs.resize(at + size_t(top_k_), 0.0f);
  const int written = top_tokens(freqs, n_vocab, top_k_, ids.data() + at);
  for (int j = 0; j < written; ++j) probs[at + size_t(j)] = float(double(freqs[ids[at + size_t(j)]]) / double(total));
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
