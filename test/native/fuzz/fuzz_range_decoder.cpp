// Fuzz target (a): the range decoder on arbitrary bytes with an arbitrary frequency
// table taken from the input, then a round-trip check: the decoded symbols, encoded
// again and decoded again, must come back unchanged.
//
// Input: [n_symbols-1 : 1 byte][table: n x 3 bytes][total boost: 4 bytes][stream...]
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "range_coder.h"

namespace {
struct Reader {
  const uint8_t* d;
  size_t n;
  size_t pos = 0;
  uint32_t u8() { return pos < n ? d[pos++] : 0; }
  uint32_t u24() { return u8() | (u8() << 8) | (u8() << 16); }
  uint32_t u32() { return u24() | (u8() << 24); }
};

size_t find(const std::vector<uint64_t>& cum, uint64_t target) {
  size_t lo = 0, hi = cum.size() - 1;
  while (hi - lo > 1) {
    const size_t mid = (lo + hi) / 2;
    if (cum[mid] <= target) lo = mid;
    else hi = mid;
  }
  return lo;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader r{data, size};
  const size_t n = 1 + r.u8();
  std::vector<uint64_t> freq(n);
  for (auto& f : freq) f = 1 + r.u24();
  // Optionally push one symbol's frequency so the total reaches the coder's limit (< 2^32).
  const uint32_t boost = r.u32();
  uint64_t total = 0;
  for (auto f : freq) total += f;
  if (boost & 1) {
    const uint64_t room = (uint64_t(1) << 32) - 1 - total;
    freq[boost % n] += room >> ((boost >> 8) % 33);
  }
  std::vector<uint64_t> cum(n + 1, 0);
  for (size_t i = 0; i < n; ++i) cum[i + 1] = cum[i] + freq[i];
  total = cum[n];
  if (total >= (uint64_t(1) << 32)) abort();  // the harness itself must respect the coder's contract

  const uint8_t* stream = data + r.pos;
  const size_t stream_size = size - std::min(size, r.pos);
  const size_t count = 1 + stream_size * 3;  // more symbols than the stream holds: exercises over-reading

  std::vector<size_t> symbols;
  lmzip::RangeDecoder dec(stream, stream_size);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t t = dec.target(total);
    if (t >= total) abort();
    const size_t s = find(cum, t);
    if (s >= n || !(cum[s] <= t && t < cum[s + 1])) abort();
    dec.consume(cum[s], freq[s]);
    symbols.push_back(s);
  }

  std::vector<uint8_t> again;
  lmzip::RangeEncoder enc(again);
  for (size_t s : symbols) enc.encode(cum[s], freq[s], total);
  enc.finish();
  lmzip::RangeDecoder dec2(again.data(), again.size());
  for (size_t i = 0; i < count; ++i) {
    const uint64_t t = dec2.target(total);
    const size_t s = find(cum, t);
    if (s != symbols[i]) abort();  // round trip broken
    dec2.consume(cum[s], freq[s]);
  }
  // The encoder trims trailing zero bytes, so the decoder may read any number of zeros
  // past the end (crashers/range_decoder/overread-trimmed-zeros): only check the trim.
  if (!again.empty() && again.back() == 0) abort();
  return 0;
}
