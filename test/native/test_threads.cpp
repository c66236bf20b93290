// WorkerPool (native/threads.h): every iteration runs exactly once, on any number of
// threads, loop after loop; exceptions reach the caller; and the frequency tables of a
// step (StepTables, coding.h) are the same computed on the pool as on one thread.
// Also the coder's blocked interval arithmetic (coding.h, coding_detail) against a plain scan.
#include <atomic>
#include <random>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "coding.h"
#include "threads.h"

using lmzip::WorkerPool;

TEST(every_iteration_once) {
  for (int threads : {0, 1, 2, 3, 8}) {
    WorkerPool pool(threads);
    CHECK(pool.threads() == (threads > 1 ? threads : 1));
    bool all_once = true;
    for (size_t n : {size_t(0), size_t(1), size_t(2), size_t(7), size_t(64), size_t(1000)}) {
      for (int repeat = 0; repeat < 50; ++repeat) {
        std::vector<std::atomic<int>> hits(n);
        pool.run(n, [&](size_t i) { hits[i].fetch_add(1); });
        for (auto& h : hits) all_once = all_once && h.load() == 1;
      }
    }
    CHECK(all_once);
  }
}

TEST(many_short_loops) {
  // Workers waking late for one loop must never touch the next one twice.
  WorkerPool pool(4);
  std::atomic<uint64_t> sum{0};
  uint64_t expected = 0;
  for (int loop = 0; loop < 20000; ++loop) {
    const size_t n = 1 + size_t(loop % 5);
    pool.run(n, [&](size_t i) { sum.fetch_add(i + 1); });
    expected += n * (n + 1) / 2;
  }
  CHECK(sum.load() == expected);
}

TEST(exception_reaches_the_caller) {
  WorkerPool pool(3);
  bool thrown = false;
  std::atomic<int> ran{0};
  try {
    pool.run(100, [&](size_t i) {
      ran.fetch_add(1);
      if (i == 37) throw std::runtime_error("lane 37");
    });
  } catch (const std::runtime_error& e) {
    thrown = std::string(e.what()) == "lane 37";
  }
  CHECK(thrown);
  CHECK(ran.load() == 100);  // the other iterations still ran: the step is not left half done
  // The pool still works afterwards.
  std::atomic<int> after{0};
  pool.run(10, [&](size_t) { after.fetch_add(1); });
  CHECK(after.load() == 10);
}

TEST(step_tables_same_on_workers) {
  const int n_vocab = 49152 + 3, lanes = 16;
  std::mt19937_64 rng(15);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::vector<std::vector<float>> logits(lanes, std::vector<float>(n_vocab));
  for (auto& l : logits)
    for (float& x : l) x = normal(rng);
  std::vector<lmzip::ScheduledChunk> chunks(lanes);
  std::vector<lmzip::LaneStep> steps;
  for (int l = 0; l < lanes; ++l) steps.push_back(lmzip::LaneStep{l, size_t(l), 0, logits[size_t(l)].data(), false});

  lmzip::ModelPredictor predictor(n_vocab);
  CHECK(predictor.lanes_independent());
  lmzip::StepTables alone(predictor, n_vocab), shared(predictor, n_vocab);
  WorkerPool pool(4);
  shared.use_workers(&pool);
  bool same = true;
  for (int step = 0; step < 5; ++step) {
    alone.compute(steps, chunks);
    shared.compute(steps, chunks);
    for (int i = 0; i < lanes; ++i) {
      same = same && alone.total(size_t(i)) == shared.total(size_t(i)) && alone.view(size_t(i)).lane == shared.view(size_t(i)).lane;
      for (int t = 0; t < n_vocab && same; ++t) same = alone.freqs(size_t(i))[t] == shared.freqs(size_t(i))[t];
    }
  }
  CHECK(same);
}

// The blocked interval search against a plain scan, on tables with zeros-free random
// entries, huge entries, and sizes around the block length.
TEST(interval_search_equals_plain_scan) {
  std::mt19937_64 rng(16);
  bool same = true;
  int searches = 0;
  for (int iter = 0; iter < 300 && same; ++iter) {
    const int n = iter < 140 ? 1 + iter : 1 + int(rng() % 160000);
    std::vector<uint32_t> f(static_cast<size_t>(n));
    for (auto& x : f) x = iter % 3 == 0 ? 1 + uint32_t(rng() % 3) : 1 + uint32_t(rng() % (1u << 24));
    if (iter % 4 == 0) f[rng() % f.size()] = 1u << 30;  // one token holds most of the mass
    std::vector<uint64_t> start(f.size() + 1, 0);
    for (size_t t = 0; t < f.size(); ++t) start[t + 1] = start[t] + f[t];
    const uint64_t total = start.back();
    for (int k = 0; k < 40 && same; ++k) {
      const llama_token token = llama_token(rng() % f.size());
      same = lmzip::coding_detail::cumulative(f.data(), token) == start[size_t(token)];
      // Targets at interval edges and anywhere.
      const uint64_t target = k % 3 == 0 ? start[size_t(token)] : k % 3 == 1 ? start[size_t(token) + 1] - 1 : rng() % total;
      uint64_t cum = 0;
      const llama_token found = lmzip::coding_detail::find_token(f.data(), n, target, &cum);
      same = same && found >= 0 && found < n && start[size_t(found)] <= target && target < start[size_t(found) + 1] &&
             cum == start[size_t(found)];
      ++searches;
    }
  }
  std::printf("  %d searches compared\n", searches);
  CHECK(same);
}

TEST_MAIN()
