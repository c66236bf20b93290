// How long the host takes to turn one lane's logits into an integer frequency table
// (native/freqs.cpp, the same compile flags), per vocabulary size and implementation
// (scalar reference, AVX2: the same integers, freqs.h): the work the engine does
// per lane per step, which at many lanes decides whether the host or the model sets the
// pace (docs/GPU.md, docs/benchmark.md). CPU time per table on one thread, median of 5 rounds.
//
//   g++ -O3 -DNDEBUG -std=c++20 -ffp-contract=off -fno-fast-math -Inative native/freqs.cpp bench/freqs-cost.cpp -o /tmp/freqs-cost
//   (the flags CMakeLists.txt gives native/freqs.cpp in a Release build: no -mavx2)
//   /tmp/freqs-cost 49152 151936
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "freqs.h"

static double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  for (int a = 1; a < argc; ++a) {
    const int n = std::atoi(argv[a]);
    // Logits shaped like a language model's: roughly normal, a few standing out.
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    const int tables = std::getenv("FREQS_TABLES") ? std::atoi(std::getenv("FREQS_TABLES")) : 64;
    std::vector<std::vector<float>> logits(tables, std::vector<float>(n));
    for (auto& l : logits) {
      for (float& x : l) x = normal(rng);
      for (int k = 0; k < 5; ++k) l[rng() % n] += 15.0f;
    }
    std::vector<uint32_t> freqs(n);
    using lmzip::freqs_detail::Impl;
    const Impl impls[] = {Impl::Scalar, Impl::Avx2};
    std::vector<double> table[2], search;
    uint64_t sink = 0;
    for (int r = 0; r < 5; ++r) {
      for (int k = 0; k < 2; ++k) {
        const double t0 = cpu_seconds();
        for (int i = 0; i < tables; ++i)
          sink += lmzip::freqs_detail::logits_to_freqs(impls[k], logits[i].data(), n, freqs.data());
        table[k].push_back((cpu_seconds() - t0) / tables);
      }
      double t0;
      // The decoder's search for a symbol: a linear scan of the cumulative table, to a
      // target spread over the whole range (the engine's own search may differ).
      t0 = cpu_seconds();
      uint64_t total = 0;
      for (uint32_t f : freqs) total += f;
      for (int i = 0; i < tables; ++i) {
        uint64_t target = (total * uint64_t(i)) / tables, cum = 0;
        int s = 0;
        while (s < n - 1 && cum + freqs[s] <= target) cum += freqs[s++];
        sink += s;
      }
      search.push_back((cpu_seconds() - t0) / tables);
    }
    for (auto& t : table) std::sort(t.begin(), t.end());
    std::sort(search.begin(), search.end());
    std::printf("vocab %d: table %.1f us scalar, %.1f us avx2 (this CPU uses %s); linear search %.1f us"
                " (CPU time per lane and step, one thread; checksum %llu)\n",
                n, table[0][2] * 1e6, table[1][2] * 1e6,
                lmzip::freqs_detail::impl_name(lmzip::freqs_detail::best_impl()), search[2] * 1e6,
                (unsigned long long)(sink & 0xff));
  }
}
