// How many threads each llama_decode uses, chosen by measuring, so that a thread count
// stays safe when the cores are busy.
//
// ggml's worker threads meet at a spinning barrier after every graph node. When a core
// is taken by other work, a thread that is not running holds every other thread at the
// barrier for a scheduler time slice, hundreds of times per token: measured, -T 2 on
// two busy cores took 60-100x longer than -T 1 (docs/RELIABILITY.md, "Threads under load").
// The requested count is therefore a maximum. The governor times decode steps, compares
// seconds per token with the requested count against one thread, uses whichever is
// faster, and checks again (load comes and goes): with the requested count in use, as
// soon as steps turn several times slower per token than it measured (the sign of load,
// which costs 60-100x), else every few thousand steps; with one thread, after a run that
// keeps probing a small share of the time. Probing is not free (its steps run on one
// thread), so a quiet machine is probed once per session and then rarely.
//
// Changing the thread count between steps does not change any result: lmzip's graphs
// (no flash attention) compute each output on one thread, in the same order, whatever
// the count (docs/DETERMINISM.md). With flash attention on it could, so the governor
// then keeps the requested count.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
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
  int run_length_ = 64;  // steps between probes of one thread's choice; doubles while it holds
  int last_choice_ = 0;
  double chosen_per_token_ = 0;  // the requested count's median seconds per token at its last probe
  int slow_steps_ = 0;           // consecutive steps since then that were far slower per token
  std::chrono::steady_clock::time_point started_;
};

}  // namespace lmzip

namespace lmzip {

// A small set of persistent threads that share one loop's iterations with the thread
// that calls run(): the engine computes the lanes' frequency tables of a step on it
// (coding.h, phase 1), between two llama_decode calls, while ggml's own threads wait.
//
// Workers sleep on a condition variable between loops (they never spin, so they take
// no core from llama.cpp), and iterations are handed out one at a time from a shared
// counter: a worker the scheduler does not run takes none, and the caller does its
// share (a busy machine costs at most the iteration a worker started). Which thread
// computes an iteration never changes its result.
class WorkerPool {
 public:
  // `threads`: how many threads a loop may use, the caller included (<= 1: no workers).
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Calls fn(i) for every i in [0, n), on up to `threads` threads, and returns when all
  // calls have returned. The first exception thrown by fn is rethrown here.
  void run(size_t n, const std::function<void(size_t)>& fn);
  int threads() const { return int(workers_.size()) + 1; }

 private:
  // One run()'s loop; lives on run()'s stack, which waits until no worker holds it.
  struct Loop {
    const std::function<void(size_t)>* fn;
    size_t n;
    std::atomic<size_t> next{0};
    std::exception_ptr error;  // under mutex_
  };
  void work_loop();
  void take_iterations(Loop& loop);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  // Under mutex_:
  Loop* loop_ = nullptr;     // the loop being run, if any
  uint64_t generation_ = 0;  // one per run()
  int active_ = 0;           // workers inside loop_
  bool stopping_ = false;
};

}  // namespace lmzip
