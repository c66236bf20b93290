// native/analyze.*: the per-token figures of lmzip analyze, against straightforward
// reference computations on real frequency tables (logits_to_freqs of random logits).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "analyze.h"
#include "check.h"
#include "freqs.h"

using lmzip::inspect_step;
using lmzip::token_bits;

namespace {

struct Table {
  std::vector<uint32_t> freqs;
  uint64_t total = 0;
};

// Tables as the coder sees them: flat (a random model), peaked (a trained one) and in between.
Table make_table(std::mt19937_64& rng, int n, float scale) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> logits(static_cast<size_t>(n));
  for (auto& l : logits) l = normal(rng);
  Table t;
  t.freqs.resize(size_t(n));
  t.total = lmzip::logits_to_freqs(logits.data(), n, t.freqs.data());
  return t;
}

double reference_entropy(const Table& t) {
  double h = 0;
  for (uint32_t f : t.freqs) {
    const double p = double(f) / double(t.total);
    h -= p * std::log2(p);
  }
  return h;
}

}  // namespace

TEST(entropy_rank_and_candidates_match_a_reference) {
  std::mt19937_64 rng(13);
  for (int n : {1, 2, 7, 512, 32000}) {
    for (float scale : {0.1f, 2.0f, 8.0f, 30.0f}) {
      const Table t = make_table(rng, n, scale);
      std::vector<int> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return t.freqs[size_t(a)] > t.freqs[size_t(b)]; });
      for (int token : {0, n / 2, n - 1, order[0]}) {
        for (int k : {0, 1, 5, 32}) {
          std::vector<int32_t> ids(size_t(std::max(k, 1)), -7);
          const lmzip::StepInsight s = inspect_step(t.freqs.data(), n, t.total, token, k, ids.data());
          CHECK(std::fabs(s.entropy - reference_entropy(t)) < 1e-5);
          CHECK(s.entropy >= 0 && s.entropy <= std::log2(double(n)) + 1e-9);
          uint32_t higher = 0;
          for (uint32_t f : t.freqs) higher += f > t.freqs[size_t(token)];
          CHECK(s.rank == higher + 1);
          CHECK(s.top_count == std::min(k, n));
          for (int j = 0; j < s.top_count; ++j) CHECK(ids[size_t(j)] == order[size_t(j)]);  // ties: lower id first
        }
      }
    }
  }
}

TEST(the_first_choice_has_rank_one) {
  std::mt19937_64 rng(5);
  const Table t = make_table(rng, 512, 8.0f);
  int32_t top = -1;
  inspect_step(t.freqs.data(), 512, t.total, 0, 1, &top);
  CHECK(inspect_step(t.freqs.data(), 512, t.total, top, 0, nullptr).rank == 1);
}

TEST(a_one_token_table_has_no_entropy) {
  const uint32_t f = 1u << 30;
  int32_t id = -1;
  const lmzip::StepInsight s = inspect_step(&f, 1, f, 0, 3, &id);
  CHECK(s.entropy == 0.0);
  CHECK(s.rank == 1);
  CHECK(s.top_count == 1 && id == 0);
}

TEST(token_bits_is_the_coders_code_length) {
  CHECK(token_bits(1, 2) == 1.0);
  CHECK(token_bits(1u << 20, uint64_t(1) << 30) == 10.0);
  // the exact expression engine.cpp sums into table_bits
  const uint32_t f = 123457;
  const uint64_t total = 2147483647;
  CHECK(token_bits(f, total) == -std::log2(double(f) / double(total)));
}

TEST_MAIN()
