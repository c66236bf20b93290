#include "threads.h"

#include <algorithm>

namespace lmzip {

namespace {
// Steps timed per candidate in one probe; their median is compared.
constexpr size_t kProbeSteps = 5;
// The requested count must be clearly faster than one thread to be kept.
constexpr double kMustBeFaster = 0.85;
// A probe step this much slower than one thread ends the probe at once (no need for more).
constexpr double kHopeless = 3.0;
// Probes at most this far apart, in steps (unless a probe costs more, see below).
constexpr int kMaxRunLength = 4096;
// Probing the requested count may cost at most this share of the time between probes.
constexpr double kProbeShare = 0.05;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
}  // namespace

ThreadGovernor::ThreadGovernor(llama_context* ctx, int max_threads, bool adaptive)
    : ctx_(ctx), max_(std::max(1, max_threads)), adaptive_(adaptive && max_threads > 1), current_(max_) {
  // Probe one thread first: it is the cheap candidate, and the reference for the other.
  if (adaptive_) use(1);
}

void ThreadGovernor::use(int threads) {
  if (threads == current_) return;
  current_ = threads;
  llama_set_n_threads(ctx_, threads, threads);
}

void ThreadGovernor::before_decode() {
  if (adaptive_) started_ = std::chrono::steady_clock::now();
}

void ThreadGovernor::after_decode(int tokens) {
  if (!adaptive_ || tokens <= 0) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double per_token = seconds / tokens;
  switch (phase_) {
    case Phase::ProbeOne:
      samples_one_.push_back(per_token);
      steps_one_.push_back(seconds);
      if (samples_one_.size() >= kProbeSteps) {
        phase_ = Phase::ProbeMax;
        probe_max_seconds_ = 0;
        use(max_);
      }
      break;
    case Phase::ProbeMax:
      samples_max_.push_back(per_token);
      probe_max_seconds_ += seconds;
      if (samples_max_.size() >= kProbeSteps || per_token > kHopeless * median(samples_one_)) decide();
      break;
    case Phase::Run:
      if (--run_steps_left_ <= 0) {
        samples_one_.clear();
        samples_max_.clear();
        steps_one_.clear();
        phase_ = Phase::ProbeOne;
        use(1);
      }
      break;
  }
}

void ThreadGovernor::decide() {
  const int choice = median(samples_max_) < kMustBeFaster * median(samples_one_) ? max_ : 1;
  // The same answer again: look less often. A change: look again soon.
  run_length_ = choice == last_choice_ ? std::min(run_length_ * 2, kMaxRunLength) : 64;
  last_choice_ = choice;
  // When the requested count lost, its probe was slow: wait long enough that probing
  // stays a small share of the time (a step at one thread is what the run costs).
  const double step = std::max(median(steps_one_), 1e-6);
  const double affordable = probe_max_seconds_ / kProbeShare / step;
  run_steps_left_ = choice == 1 ? int(std::min(std::max<double>(run_length_, affordable), 1e9)) : run_length_;
  phase_ = Phase::Run;
  use(choice);
}

}  // namespace lmzip
