#include "fixed_point.h"

#include <array>
#include <bit>

namespace lmzip::mix {
namespace {

#include "tables.inc"

// squash for s = -4095 ... 4095, built at compile time from kExp2Table with integers:
// for s >= 0, e = kExp2Table[s & 255] >> (s >> 8) is 2^32 * 2^(-s/256), and
// p = round(2^48 / (2^32 + e)); negative s mirror it (p(-s) = 65536 - p(s)).
constexpr std::array<uint16_t, 2 * kStretchMax + 1> make_squash_table() {
  std::array<uint16_t, 2 * kStretchMax + 1> t{};
  for (int32_t s = 0; s <= kStretchMax; ++s) {
    const uint64_t e = kExp2Table[s & 255] >> (s >> 8);
    const uint64_t d = (uint64_t(1) << 32) + e;
    uint64_t p = ((uint64_t(1) << 48) + (d >> 1)) / d;
    if (p > 65535) p = 65535;
    t[size_t(kStretchMax + s)] = uint16_t(p);
    t[size_t(kStretchMax - s)] = uint16_t(65536 - p);
  }
  return t;
}
constexpr auto kSquashTable = make_squash_table();

}  // namespace

int32_t log2_q16(uint64_t x) {
  if (x == 0) x = 1;
  const int n = 63 - std::countl_zero(x);
  // Mantissa scaled to [2^32, 2^33): 32 bits of fraction below the leading one.
  const uint64_t y = n >= 32 ? x >> (n - 32) : x << (32 - n);
  const uint32_t frac = uint32_t(y);  // y - 2^32
  const uint32_t i = frac >> 22;            // table index, 10 bits
  const uint32_t f = (frac >> 6) & 0xFFFF;  // interpolation weight, 16 bits
  const uint32_t lo = kLog2Table[i], hi = kLog2Table[i + 1];
  return (n << 16) + int32_t(lo + ((uint64_t(hi - lo) * f) >> 16));
}

int32_t stretch_ratio(uint64_t a, uint64_t b) {
  const int64_t d = int64_t(log2_q16(a)) - int64_t(log2_q16(b));
  return clamp_stretch(round_shift(d, 8));
}

namespace {
// stretch of every p16, computed once with stretch_ratio (the same values, faster).
struct StretchTable {
  int16_t t[65536];
  StretchTable() {
    for (uint32_t p = 0; p < 65536; ++p) {
      const uint32_t q = clamp_p16(p);
      t[p] = int16_t(stretch_ratio(q, kProbOne - q));
    }
  }
};
const StretchTable kStretchTable;
}  // namespace

int32_t stretch(uint32_t p16) { return kStretchTable.t[p16 > 65535 ? 65535 : p16]; }

uint32_t squash(int32_t s) { return kSquashTable[size_t(clamp_stretch(s) + kStretchMax)]; }

}  // namespace lmzip::mix
