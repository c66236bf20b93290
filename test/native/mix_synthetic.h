// A synthetic "language model" and text for testing the mixed coder without llama.cpp:
// the LM favours a token that depends on the previous one, and the text follows that
// rule often, repeats itself sometimes and has lines (for the column/above contexts).
// Everything is a pure function of the seed, so encoder and decoder agree.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lm_table.h"
#include "vocab_info.h"

namespace lmzip_test {

inline uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The token the LM favours after `prev`.
inline int32_t favoured(int32_t prev, int n_vocab) { return int32_t((uint32_t(prev + 1) * 7u + 3u) % uint32_t(n_vocab)); }

// Pieces: token 0 is "\n", tokens 1-26 single letters, the rest two-letter pieces,
// every 5th with a leading space.
inline std::vector<std::string> synthetic_pieces(int n_vocab) {
  std::vector<std::string> p(static_cast<size_t>(n_vocab));
  for (int t = 0; t < n_vocab; ++t) {
    if (t == 0) p[0] = "\n";
    else if (t <= 26) p[size_t(t)] = std::string(1, char('a' + t - 1));
    else p[size_t(t)] = std::string(t % 5 == 0 ? " " : "") + char('a' + t % 26) + char('a' + (t / 26) % 26);
  }
  return p;
}

// LM frequencies for the token after `prev` (-1 at a chunk's start): noise plus a
// strong favourite, each >= 1, total < 2^32.
inline void synthetic_freqs(uint64_t seed, int32_t prev, int n_vocab, std::vector<uint32_t>& f) {
  f.resize(static_cast<size_t>(n_vocab));
  for (int t = 0; t < n_vocab; ++t) f[size_t(t)] = 1 + uint32_t(splitmix(seed ^ uint64_t(prev + 1) << 20 ^ uint64_t(t)) % 4096);
  f[size_t(favoured(prev, n_vocab))] += 60000;
}

// A chunk's text: follows the LM's favourite 60% of the time, copies an earlier stretch
// sometimes, ends lines now and then.
inline std::vector<int32_t> synthetic_text(uint64_t seed, size_t n, int n_vocab) {
  std::vector<int32_t> t;
  uint64_t r = seed;
  while (t.size() < n) {
    r = splitmix(r);
    const int32_t prev = t.empty() ? -1 : t.back();
    if (t.size() > 20 && r % 10 == 0) {  // copy 5-14 tokens from earlier
      const size_t from = size_t(r >> 8) % (t.size() - 15), len = 5 + size_t(r >> 40) % 10;
      for (size_t k = 0; k < len && t.size() < n; ++k) t.push_back(t[from + k]);
    } else if (r % 23 == 1) {
      t.push_back(0);
    } else if (r % 10 < 6) {
      t.push_back(favoured(prev, n_vocab));
    } else {
      t.push_back(int32_t((r >> 16) % uint64_t(n_vocab)));
    }
  }
  return t;
}

}  // namespace lmzip_test
