// How many threads each llama_decode uses, chosen by measuring, so that a thread count
// stays safe when the cores are busy.
//
// ggml's worker threads meet at a spinning barrier after every graph node. When a core
// is taken by other work, a thread that is not running holds every other thread at the
// barrier for a scheduler time slice, hundreds of times per token: measured, -T 2 on
// two busy cores took 60-100x longer than -T 1 (docs/RELIABILITY.md, "Threads under load").
// The requested count is therefore a maximum. The governor times decode steps, compares
// seconds per token with the requested count against one thread, uses whichever is
// faster, and checks again from time to time (load comes and goes).
//
// Changing the thread count between steps does not change any result: lmzip's graphs
// (no flash attention) compute each output on one thread, in the same order, whatever
// the count (docs/DETERMINISM.md). With flash attention on it could, so the governor
// then keeps the requested count.
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

#include "llama.h"

namespace lmzip {

class ThreadGovernor {
 public:
  // `max_threads`: the count asked for; `adaptive`: false keeps it fixed.
  ThreadGovernor(llama_context* ctx, int max_threads, bool adaptive);

  // Around every llama_decode of the session; `tokens` is the batch's token count.
  void before_decode();
  void after_decode(int tokens);

  int current() const { return current_; }

 private:
  enum class Phase { ProbeOne, ProbeMax, Run };
  void use(int threads);
  void decide();

  llama_context* ctx_;
  int max_;
  bool adaptive_;
  int current_;
  Phase phase_ = Phase::ProbeOne;
  std::vector<double> samples_one_, samples_max_;  // seconds per token, this probe
  std::vector<double> steps_one_;                   // seconds per step at one thread, this probe
  double probe_max_seconds_ = 0;                    // what probing the requested count cost
  int run_steps_left_ = 0;
  int run_length_ = 64;  // steps between probes; doubles while the choice holds
  int last_choice_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace lmzip
