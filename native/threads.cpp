#include "threads.h"

#include <algorithm>

namespace lmzip {

namespace {
// Steps timed per candidate in one probe; their median is compared.
constexpr size_t kProbeSteps = 5;
// The requested count is kept when it is faster than one thread by more than the
// noise of a 5-step median. At 1 lane SmolLM2's shape runs 12-14 % faster on two
// threads than on one (llama-batched-bench, 2 cores): the 15 % this was kept one
// thread and lost that to llama.cpp. Load makes the requested count 60-100x slower.
constexpr double kMustBeFaster = 0.95;
// A probe step this much slower than one thread ends the probe at once (no need for more).
constexpr double kHopeless = 3.0;
// Probes at most this far apart, in steps (unless a probe costs more, see below).
constexpr int kMaxRunLength = 4096;
// Probing the requested count may cost at most this share of the time between probes.
constexpr double kProbeShare = 0.05;
// With the requested count in use: this many consecutive steps this much slower per
// token than it measured mean load has come, and start a probe. Steps of fewer lanes
// than usual (a block's tail) cost up to ~2.5x per token; load costs 60-100x.
constexpr double kLoadSign = 4.0;
constexpr int kLoadSteps = 3;

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
      if (current_ == max_) slow_steps_ = per_token > kLoadSign * chosen_per_token_ ? slow_steps_ + 1 : 0;
      if (--run_steps_left_ <= 0 || slow_steps_ >= kLoadSteps) {
        slow_steps_ = 0;
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
  // The requested count won: load shows in its own step times (above), so the next
  // probe can wait long.
  chosen_per_token_ = median(samples_max_);
  run_steps_left_ = choice == 1 ? int(std::min(std::max<double>(run_length_, affordable), 1e9)) : kMaxRunLength;
  phase_ = Phase::Run;
  use(choice);
}

}  // namespace lmzip

// ---- WorkerPool ------------------------------------------------------------------------

namespace lmzip {

WorkerPool::WorkerPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work_loop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void WorkerPool::take_iterations(Loop& loop) {
  for (size_t i = loop.next.fetch_add(1); i < loop.n; i = loop.next.fetch_add(1)) {
    try {
      (*loop.fn)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!loop.error) loop.error = std::current_exception();
    }
  }
}

void WorkerPool::work_loop() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || (loop_ && generation_ != seen); });
    if (stopping_) return;
    seen = generation_;
    Loop& loop = *loop_;
    ++active_;
    lock.unlock();
    take_iterations(loop);
    lock.lock();
    if (--active_ == 0) finished_.notify_all();
  }
}

void WorkerPool::run(size_t n, const std::function<void(size_t)>& fn) {
  if (workers_.empty() || n <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  Loop loop{&fn, n};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    loop_ = &loop;
    ++generation_;
  }
  wake_.notify_all();
  take_iterations(loop);
  std::exception_ptr error;
  {
    // Every iteration is taken; those still running belong to active workers.
    std::unique_lock<std::mutex> lock(mutex_);
    loop_ = nullptr;  // workers that wake from now on wait for the next loop
    finished_.wait(lock, [&] { return active_ == 0; });
    error = loop.error;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace lmzip
