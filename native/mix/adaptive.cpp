#include "adaptive.h"

#include <algorithm>

namespace lmzip::mix {

// ---- StateMap ---------------------------------------------------------------------
StateMap::StateMap(size_t contexts, int limit) : t_(contexts, uint32_t(1) << 31), limit_(limit) {}

void StateMap::update(size_t ctx, int bit) {
  uint32_t& e = t_[ctx];
  const uint32_t n = e & 1023;
  const int64_t p = e >> 10;                      // Q22
  const int64_t target = bit ? (1 << 22) - 1 : 0;
  const int64_t step = 131072 / (2 * int64_t(n) + 3);  // 2/(2n+3) = 1/(n+1.5) in Q16
  const int64_t q = p + (((target - p) * step) >> 16);
  e = (uint32_t(q) << 10) | (n < uint32_t(limit_) ? n + 1 : n);
}

// ---- Apm --------------------------------------------------------------------------
Apm::Apm(size_t contexts, int rate) : t_(contexts * 33), rate_(rate) {
  uint16_t row[33];  // the identity: point j is squash((j - 16) * 256)
  for (int j = 0; j < 33; ++j) row[j] = uint16_t(squash((j - 16) * 256));
  for (size_t c = 0; c < contexts; ++c) std::copy(row, row + 33, t_.begin() + ptrdiff_t(c * 33));
}

uint32_t Apm::predict(int32_t st, size_t ctx) {
  const int32_t pos = clamp_stretch(st) + 4096;  // 1 ... 8191
  const uint32_t j = uint32_t(pos) >> 8, w = uint32_t(pos) & 255;
  const size_t base = ctx * 33 + j;
  last_ = uint32_t(base + (w >> 7));
  return clamp_p16((uint32_t(t_[base]) * (256 - w) + uint32_t(t_[base + 1]) * w) >> 8);
}

void Apm::update(int bit) { update_at(last_, bit); }

void Apm::update_at(uint32_t index, int bit) {
  const int32_t t = t_[index];
  const int32_t target = bit ? 65535 : 1;
  t_[index] = uint16_t(t + ((target - t) >> rate_));
}

// ---- Mixer ------------------------------------------------------------------------
Mixer::Mixer(const std::vector<int32_t>& initial_weights, int sets, int32_t learning_rate, int32_t boost,
             uint32_t half)
    : n_(int(initial_weights.size())), lr_(learning_rate), boost_(boost), half_(half ? half : 1),
      updates_(size_t(sets), 0) {
  w_.reserve(size_t(sets) * size_t(n_));
  for (int s = 0; s < sets; ++s) w_.insert(w_.end(), initial_weights.begin(), initial_weights.end());
}

int32_t Mixer::dot(const int32_t* st, int set) const {
  const int32_t* w = &w_[size_t(set) * size_t(n_)];
  const int n = n_;
  int64_t sum = 0;
  for (int i = 0; i < n; ++i) sum += int64_t(w[i]) * st[i];
  return clamp_stretch(round_shift(sum, 16));
}

void Mixer::update(const int32_t* __restrict st, int set, uint32_t p16, int bit) {
  int32_t* __restrict w = &w_[size_t(set) * size_t(n_)];
  uint32_t& updates = updates_[size_t(set)];
  const int64_t rate = lr_ + int64_t(boost_) * half_ / (uint64_t(half_) + updates);
  if (updates != UINT32_MAX) ++updates;
  // The step per unit of input: error (p16 units) times rate, in 1/2^14 of a weight
  // unit per stretch unit; bounded so that st * e fits 31 bits.
  const int64_t err = (int64_t(bit) << 16) - int64_t(p16);
  const int32_t e = int32_t(std::clamp<int64_t>(round_shift(err * rate, 10), -kMaxStep, kMaxStep));
  const int n = n_;
  for (int i = 0; i < n; ++i) {
    const int32_t v = w[i] + ((st[i] * e + 8192) >> 14);
    w[i] = v > kMaxWeight ? kMaxWeight : v < -kMaxWeight ? -kMaxWeight : v;
  }
}

// ---- TwoLayerMixer ---------------------------------------------------------------
namespace {
std::vector<int32_t> final_weights(size_t n) {
  std::vector<int32_t> w(n + 1, 0);  // the last input is the bias
  for (size_t i = 0; i < n; ++i) w[i] = int32_t(65536 / n);
  return w;
}
}  // namespace

TwoLayerMixer::TwoLayerMixer(const std::vector<int32_t>& initial_weights, const std::vector<int>& sets,
                             int final_sets, int32_t learning_rate, int32_t boost, uint32_t half, int32_t final_rate)
    : final_(final_weights(sets.size()), final_sets, final_rate, 0, 1) {
  for (int n : sets) first_.emplace_back(initial_weights, n, learning_rate, boost, half);
}

int32_t TwoLayerMixer::mix(const int32_t* st, const int* sets, int final_set, int32_t* s1) const {
  int32_t in[kMaxFirst + 1];
  const size_t n = first_.size();
  for (size_t i = 0; i < n; ++i) in[i] = s1[i] = first_[i].dot(st, sets[i]);
  if (n == 1) return s1[0];
  in[n] = 256;
  return final_.dot(in, final_set);
}

void TwoLayerMixer::update(const int32_t* st, const int* sets, int final_set, const int32_t* s1, int32_t s,
                           int bit) {
  int32_t in[kMaxFirst + 1];
  const size_t n = first_.size();
  for (size_t i = 0; i < n; ++i) {
    first_[i].update(st, sets[i], squash(s1[i]), bit);
    in[i] = s1[i];
  }
  if (n == 1) return;
  in[n] = 256;
  final_.update(in, final_set, squash(s), bit);
}

}  // namespace lmzip::mix
