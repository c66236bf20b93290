// The learning parts of the mixer: an adaptive probability per small context
// (StateMap), secondary estimation over the stretch domain (Apm) and the logistic
// mixer. Each keeps its update rule next to its prediction; all integer
// (docs/MIXING.md, "Adaptive tables" and "Mixer").
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fixed_point.h"

namespace lmzip::mix {

// A probability per context that learns how often its event happened: p moves
// towards each outcome by 1/(n + 1.5), n counting updates up to `limit`, so early
// updates move fast and later ones average (a state map in the lpaq sense).
// Entry: p in Q22 in the high 22 bits, n in the low 10 bits.
class StateMap {
 public:
  StateMap(size_t contexts, int limit);
  uint32_t p16(size_t ctx) const { return clamp_p16(t_[ctx] >> 16); }
  void update(size_t ctx, int bit);
  size_t size() const { return t_.size(); }

 private:
  std::vector<uint32_t> t_;
  int limit_;
};

// Secondary estimation: maps a probability (as stretch) to a refined one per
// context by interpolating between 33 learned points spaced one bit of log-odds
// apart; the nearer point moves towards each outcome by 1/2^rate.
class Apm {
 public:
  Apm(size_t contexts, int rate);
  // Remembers the point to update: call update() before the next predict().
  uint32_t predict(int32_t st, size_t ctx);
  void update(int bit);
  // Stateless form for deferred updates: the point index predict() used.
  uint32_t last_index() const { return last_; }
  void update_at(uint32_t index, int bit);

 private:
  std::vector<uint16_t> t_;
  int rate_;
  uint32_t last_ = 0;
};

// Logistic mixing: p = squash(sum w_i * st_i), one weight vector per selected set,
// trained online to minimise coding cost: w_i += lr * st_i * (bit - p)
// (exactly: e = clamp(round(err * rate / 2^10)), w_i += (st_i * e + 2^13) >> 14).
// Weights are Q16 (65536 = 1.0); inputs are stretches (1/256 bit of log-odds).
class Mixer {
 public:
  static constexpr int32_t kMaxWeight = 1 << 22;  // |w| <= 64.0
  static constexpr int32_t kMaxStep = (1 << 18) - 1;
  // initial_weights[i] starts input i's weight in every set. A set's learning rate
  // starts at learning_rate + boost and decays towards learning_rate:
  //   rate = learning_rate + boost * half / (half + updates of the set).
  Mixer(const std::vector<int32_t>& initial_weights, int sets, int32_t learning_rate, int32_t boost = 0,
        uint32_t half = 1);
  int inputs() const { return n_; }
  // The mixed stretch (clamped) for inputs st[0..inputs) under weight set `set`.
  int32_t dot(const int32_t* st, int set) const;
  // Trains set `set` after a decision coded with probability p16 (from squash(dot)).
  void update(const int32_t* st, int set, uint32_t p16, int bit);

 private:
  int n_;
  int32_t lr_, boost_;
  uint32_t half_;
  std::vector<int32_t> w_;
  std::vector<uint32_t> updates_;  // per set, saturating
};

// Two layers of mixing: several mixers see the same inputs but select their weight
// sets by different contexts; a final mixer combines their outputs (as stretches,
// plus a bias). Each mixer learns from its own output.
class TwoLayerMixer {
 public:
  static constexpr int kMaxFirst = 4;
  // sets[i]: weight sets of first-layer mixer i; final_sets: of the final mixer.
  TwoLayerMixer(const std::vector<int32_t>& initial_weights, const std::vector<int>& sets, int final_sets,
                int32_t learning_rate, int32_t boost, uint32_t half, int32_t final_rate);
  int layers() const { return int(first_.size()); }
  // Mixed stretch; s1 receives the first layer's outputs.
  int32_t mix(const int32_t* st, const int* sets, int final_set, int32_t* s1) const;
  void update(const int32_t* st, const int* sets, int final_set, const int32_t* s1, int32_t s, int bit);

 private:
  std::vector<Mixer> first_;
  Mixer final_;
};

}  // namespace lmzip::mix
