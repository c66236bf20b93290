// The range coder (native/range_coder.h) as a coder of binary decisions:
// with p16 = P(bit = 1), bit 1 takes [0, p16) and bit 0 [p16, 65536) of 65536.
#pragma once
#include <cmath>
#include <cstdint>

#include "range_coder.h"

namespace lmzip::mix {

class BitEncoder {
 public:
  explicit BitEncoder(RangeEncoder& enc) : enc_(enc) {}
  int code(uint32_t p16, int bit) {
    if (bit) enc_.encode(0, p16, 65536);
    else enc_.encode(p16, 65536 - p16, 65536);
    return bit;
  }

 private:
  RangeEncoder& enc_;
};

class BitDecoder {
 public:
  explicit BitDecoder(RangeDecoder& dec) : dec_(dec) {}
  int code(uint32_t p16, int /*unknown*/) {
    const int bit = dec_.target(65536) < p16;
    if (bit) dec_.consume(0, p16);
    else dec_.consume(p16, 65536 - p16);
    return bit;
  }

 private:
  RangeDecoder& dec_;
};

// Adds up the ideal code length -log2 P(bit) of the decisions (measurement only:
// never used to decide coded bytes).
template <class Inner>
class MeasuringCoder {
 public:
  explicit MeasuringCoder(Inner& inner) : inner_(inner) {}
  int code(uint32_t p16, int bit) {
    bit = inner_.code(p16, bit);
    bits += -std::log2(double(bit ? p16 : 65536 - p16) / 65536.0);
    ++decisions;
    return bit;
  }
  double bits = 0;
  uint64_t decisions = 0;

 private:
  Inner& inner_;
};

}  // namespace lmzip::mix
