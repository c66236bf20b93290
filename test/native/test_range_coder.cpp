// Range coder: encode -> decode round trips on random frequency tables, including
// totals near the coder's limits, frequency-1 symbols, long and empty streams, and
// damaged streams (which must decode to *something* without crashing).
#include <cstring>
#include <random>
#include <stdexcept>

#include "check.h"
#include "freqs.h"
#include "range_coder.h"

using namespace lmzip;

namespace {

struct Table {
  std::vector<uint64_t> freq, cum;  // cum[i] = sum of freq[0..i)
  uint64_t total = 0;
  explicit Table(std::vector<uint64_t> f) : freq(std::move(f)), cum(freq.size() + 1, 0) {
    for (size_t i = 0; i < freq.size(); ++i) cum[i + 1] = cum[i] + freq[i];
    total = cum.back();
  }
  size_t find(uint64_t target) const {  // symbol whose interval holds target
    size_t lo = 0, hi = freq.size();
    while (hi - lo > 1) {
      const size_t mid = (lo + hi) / 2;
      if (cum[mid] <= target) lo = mid;
      else hi = mid;
    }
    return lo;
  }
};

std::vector<uint8_t> encode(const std::vector<const Table*>& tables, const std::vector<size_t>& symbols) {
  std::vector<uint8_t> out;
  RangeEncoder enc(out);
  for (size_t i = 0; i < symbols.size(); ++i) {
    const Table& t = *tables[i % tables.size()];
    enc.encode(t.cum[symbols[i]], t.freq[symbols[i]], t.total);
  }
  enc.finish();
  return out;
}

std::vector<size_t> decode(const std::vector<const Table*>& tables, const uint8_t* data, size_t size, size_t n,
                           size_t* overread = nullptr) {
  RangeDecoder dec(data, size);
  std::vector<size_t> symbols;
  for (size_t i = 0; i < n; ++i) {
    const Table& t = *tables[i % tables.size()];
    const uint64_t target = dec.target(t.total);
    if (target >= t.total) throw std::runtime_error("target out of range");
    const size_t s = t.find(target);
    dec.consume(t.cum[s], t.freq[s]);
    symbols.push_back(s);
  }
  if (overread) *overread = dec.overread();
  return symbols;
}

// A random table of n symbols with the given total, every frequency >= 1.
Table random_table(std::mt19937_64& rng, size_t n, uint64_t total) {
  std::vector<uint64_t> f(n, 1);
  uint64_t left = total - n;
  // Skewed: a few symbols take most of the mass, like a language model's output.
  for (int round = 0; round < 8 && left > 0; ++round) {
    const size_t s = rng() % n;
    const uint64_t take = round == 7 ? left : left / 2 + (left > 1 ? rng() % (left / 2) : 0);
    f[s] += take;
    left -= take;
  }
  return Table(std::move(f));
}

// Symbols drawn roughly from the table's own distribution (so streams stay short)
// mixed with uniform picks (so rare, frequency-1 symbols get coded too).
std::vector<size_t> random_symbols(std::mt19937_64& rng, const std::vector<const Table*>& tables, size_t count) {
  std::vector<size_t> s(count);
  for (size_t i = 0; i < count; ++i) {
    const Table& t = *tables[i % tables.size()];
    if (rng() % 4 == 0) s[i] = rng() % t.freq.size();
    else s[i] = t.find(rng() % t.total);
  }
  return s;
}

void round_trip(const std::vector<const Table*>& tables, const std::vector<size_t>& symbols) {
  const auto bytes = encode(tables, symbols);
  size_t overread = 0;
  const auto back = decode(tables, bytes.data(), bytes.size(), symbols.size(), &overread);
  CHECK(back == symbols);
  CHECK(overread <= 7);
  // The encoder drops trailing zero bytes: a stream never ends in 0.
  CHECK(bytes.empty() || bytes.back() != 0);
}

}  // namespace

TEST(empty_stream) {
  std::vector<uint8_t> out;
  RangeEncoder enc(out);
  enc.finish();
  CHECK(out.empty());
  RangeDecoder dec(nullptr, 0);
  CHECK(dec.overread() == 7);
}

TEST(single_symbol_table) {
  Table t({1});
  std::vector<size_t> syms(1000, 0);
  const auto bytes = encode({&t}, syms);
  CHECK(bytes.size() <= 2);  // a certain symbol costs nothing
  CHECK(decode({&t}, bytes.data(), bytes.size(), syms.size()) == syms);
}

TEST(random_tables_small_totals) {
  std::mt19937_64 rng(1);
  for (int iter = 0; iter < 300; ++iter) {
    const size_t n = 1 + rng() % 300;
    Table t = random_table(rng, n, n + rng() % 100000);
    Table u = random_table(rng, 1 + rng() % 5, 5 + rng() % 50);
    std::vector<const Table*> tables{&t, &u};
    round_trip(tables, random_symbols(rng, tables, rng() % 2000));
  }
}

TEST(totals_near_limits) {
  // logits_to_freqs keeps totals below 2^31 + n_vocab; the coder accepts up to 2^32 - 1.
  std::mt19937_64 rng(2);
  const uint64_t limits[] = {kFreqTotalLimit - 1, kFreqTotalLimit, kFreqTotalLimit + 512, kFreqTotalLimit + 151936,
                             (uint64_t(1) << 32) - 1};
  for (uint64_t total : limits) {
    for (int iter = 0; iter < 20; ++iter) {
      const size_t n = 2 + rng() % 5000;
      Table t = random_table(rng, n, total);
      CHECK(t.total == total);
      std::vector<const Table*> tables{&t};
      round_trip(tables, random_symbols(rng, tables, 500 + rng() % 500));
    }
    // Worst case: every symbol is a frequency-1 symbol of a huge table (~32 bits each).
    std::vector<uint64_t> f(100, 1);
    f[0] = total - 99;
    Table t(std::move(f));
    std::vector<size_t> syms;
    for (int i = 0; i < 3000; ++i) syms.push_back(1 + size_t(rng() % 99));
    round_trip({&t}, syms);
    // And the best case: the dominant symbol every time.
    round_trip({&t}, std::vector<size_t>(3000, 0));
  }
}

TEST(long_stream) {
  std::mt19937_64 rng(3);
  Table a = random_table(rng, 512, kFreqTotalLimit + 512);
  Table b = random_table(rng, 32000, kFreqTotalLimit / 3);
  Table c({1, 1});
  std::vector<const Table*> tables{&a, &b, &c};
  round_trip(tables, random_symbols(rng, tables, 300000));
}

TEST(carry_propagation) {
  // Symbols at the top of the range push low toward the window edge: long runs of
  // 0xFF in the output and carries through them.
  std::vector<uint64_t> f{1, (uint64_t(1) << 31) - 2, 1};
  Table t(std::move(f));
  for (size_t pattern = 0; pattern < 4; ++pattern) {
    std::vector<size_t> syms;
    for (int i = 0; i < 5000; ++i) syms.push_back(pattern == 0 ? 2 : pattern == 1 ? (i % 7 ? 2 : 0) : pattern == 2 ? 1 : (i % 3 ? 2 : 1));
    round_trip({&t}, syms);
  }
}

TEST(damaged_streams_stay_in_range) {
  // Any bytes decode to in-range symbols without crashing; flipping a bit of a valid
  // stream changes the output (almost always) but never breaks the decoder.
  std::mt19937_64 rng(4);
  Table t = random_table(rng, 1000, kFreqTotalLimit + 1000);
  Table u({1, 1, 1});
  std::vector<const Table*> tables{&t, &u};
  for (int iter = 0; iter < 200; ++iter) {
    std::vector<uint8_t> junk(rng() % 64);
    for (auto& b : junk) b = uint8_t(rng());
    decode(tables, junk.data(), junk.size(), 500);
    auto syms = random_symbols(rng, tables, 200);
    auto bytes = encode(tables, syms);
    if (bytes.empty()) continue;
    bytes[rng() % bytes.size()] ^= uint8_t(1u << (rng() % 8));
    decode(tables, bytes.data(), bytes.size(), 200);
    bytes.resize(rng() % bytes.size());
    decode(tables, bytes.data(), bytes.size(), 200);
  }
  std::vector<uint8_t> ff(32, 0xFF);
  decode(tables, ff.data(), ff.size(), 1000);
}

TEST(freqs_table_round_trip) {
  // The real pipeline: logits -> logits_to_freqs -> coder.
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  for (int iter = 0; iter < 30; ++iter) {
    const int n = 1 + int(rng() % 40000);
    std::vector<float> logits(static_cast<size_t>(n));
    for (auto& l : logits) l = normal(rng) * (iter % 3 == 0 ? 0.01f : 1.0f);
    std::vector<uint32_t> q(static_cast<size_t>(n));
    const uint64_t total = logits_to_freqs(logits.data(), n, q.data());
    Table t(std::vector<uint64_t>(q.begin(), q.end()));
    CHECK(t.total == total);
    std::vector<const Table*> tables{&t};
    round_trip(tables, random_symbols(rng, tables, 300));
  }
}

TEST_MAIN()
