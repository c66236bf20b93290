// The mixer's fixed-point primitives against the worked examples of docs/MIXING.md
// ("Fixed-point primitives"). The expected values were computed independently from
// the specification's formulas (60-digit decimal tables, Python integers).
#include <cmath>

#include "check.h"
#include "fixed_point.h"

using namespace lmzip::mix;

TEST(log2_q16_examples) {
  CHECK(log2_q16(0) == 0);  // treated as 1
  CHECK(log2_q16(1) == 0);
  CHECK(log2_q16(2) == 65536);
  CHECK(log2_q16(3) == 103872);
  CHECK(log2_q16(10) == 217706);
  CHECK(log2_q16(1000) == 653118);
  CHECK(log2_q16(65535) == 1048574);
  CHECK(log2_q16(uint64_t(1) << 40) == 2621440);
  CHECK(log2_q16(123456789012345ull) == 3067805);
}

TEST(log2_q16_accuracy_and_monotonicity) {
  // Within 2^-15 of the true value everywhere, and never decreasing.
  int32_t last = 0;
  bool monotone = true, accurate = true;
  for (uint64_t x = 1; x < 200000; x += 1 + x / 97) {
    const int32_t l = log2_q16(x);
    if (l < last) monotone = false;
    last = l;
    if (std::fabs(l / 65536.0 - std::log2(double(x))) > 1.0 / 32768) accurate = false;
  }
  CHECK(monotone);
  CHECK(accurate);
  CHECK(log2_q16(UINT64_MAX) <= 64 * 65536);
}

TEST(stretch_ratio_examples) {
  CHECK(stretch_ratio(1, 1) == 0);
  CHECK(stretch_ratio(3, 1) == 406);  // log2(3) = 1.585 bits of log-odds
  CHECK(stretch_ratio(1, 3) == -406);
  CHECK(stretch_ratio(9, 1) == 812);
  CHECK(stretch_ratio(7, 5) == 124);
  CHECK(stretch_ratio(1000000, 1) == kStretchMax);  // clamped
  CHECK(stretch_ratio(1, 65535) == -kStretchMax);
}

TEST(squash_examples) {
  CHECK(squash(0) == 32768);
  CHECK(squash(1) == 32812);
  CHECK(squash(-1) == 32724);
  CHECK(squash(256) == 43691);  // 2/3
  CHECK(squash(-256) == 21845);
  CHECK(squash(300) == 45390);
  CHECK(squash(1000) == 61438);
  CHECK(squash(2048) == 65281);
  CHECK(squash(4095) == 65535);
  CHECK(squash(-4095) == 1);
  CHECK(squash(5000) == 65535);  // clamped first
  CHECK(squash(-99999) == 1);
}

TEST(squash_is_symmetric_and_monotone) {
  bool ok = true;
  for (int32_t s = -kStretchMax; s <= kStretchMax; ++s) {
    if (squash(s) + squash(-s) != 65536) ok = false;
    if (s > -kStretchMax && squash(s) < squash(s - 1)) ok = false;
  }
  CHECK(ok);
}

TEST(stretch_inverts_squash) {
  // stretch(squash(s)) comes back within the resolution of a 16-bit probability:
  // within 2 units while p16 has at least 256 values on the smaller side.
  int worst = 0;
  for (int32_t s = -2048; s <= 2048; ++s) worst = std::max(worst, std::abs(stretch(squash(s)) - s));
  std::printf("  worst |stretch(squash(s)) - s| for |s| <= 2048: %d\n", worst);
  CHECK(worst <= 2);
  CHECK(stretch(32768) == 0);
  CHECK(stretch(0) == stretch(1));  // clamped to 1 ... 65535
  CHECK(stretch(70000) == stretch(65535));
  CHECK(stretch(65535) == kStretchMax);
}

TEST(round_shift_rounds_half_up) {
  CHECK(round_shift(5, 1) == 3);
  CHECK(round_shift(-5, 1) == -2);
  CHECK(round_shift(-6, 2) == -1);
  CHECK(round_shift(1 << 15, 16) == 1);
  CHECK(round_shift((1 << 15) - 1, 16) == 0);
}

TEST_MAIN()
