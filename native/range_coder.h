// A fixed-point range coder (the LZMA scheme widened to a 56-bit window).
//
// State: low (56 bits + one carry bit), range in [2^48, 2^56). Each symbol narrows
// the range by r = range / total with total < 2^32, so at least 2^16 units of
// resolution remain per frequency unit and the loss to rounding is below 2^-16 of
// a bit per symbol. Carries propagate through a cached byte and a run of 0xFF
// bytes, as in LZMA.
//
// Stream layout: the always-zero first byte of the LZMA scheme is not written, and
// the encoder ends on a value whose low 48 bits are zero, so those six bytes are not
// written either: the decoder reads bytes past the end as zero. A stream of S
// renormalisations is therefore exactly S + 1 bytes, and its decoder reads exactly
// kTailBytes past the end (format v2 checks both). Format v1 streams also drop any
// trailing zero bytes, so their decoders may read further.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip {

// Zero bytes a decoder reads past the end of an untrimmed stream.
constexpr size_t kTailBytes = 6;

class RangeEncoder {
 public:
  // trim_trailing_zeros: format v1's tail (shorter by a byte now and then, but the
  // decoder can no longer tell where the stream must end).
  explicit RangeEncoder(std::vector<uint8_t>& out, bool trim_trailing_zeros = true)
      : out_(out), trim_(trim_trailing_zeros) {}
  void encode(uint64_t cum_freq, uint64_t freq, uint64_t total);
  void finish();

 private:
  void shift_low();
  std::vector<uint8_t>& out_;
  uint64_t low_ = 0;
  uint64_t range_ = (uint64_t(1) << 56) - 1;
  uint8_t cache_ = 0;
  uint64_t cache_size_ = 1;
  bool first_byte_ = true;
  bool trim_;
};

class RangeDecoder {
 public:
  RangeDecoder(const uint8_t* data, size_t size);
  // The value in [0, total) that identifies the next symbol (clamped on damaged input).
  uint64_t target(uint64_t total);
  // Consumes the symbol whose cumulative interval [cum_freq, cum_freq + freq) held target().
  void consume(uint64_t cum_freq, uint64_t freq);
  // Bytes read past the end of the stream (as zeros). For an untrimmed stream this is
  // at most kTailBytes, and exactly that once its last symbol is decoded; a v1 stream
  // (trailing zeros dropped) may need any number.
  size_t overread() const { return overread_; }

 private:
  uint8_t next_byte();
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t overread_ = 0;
  uint64_t code_ = 0;
  uint64_t range_ = (uint64_t(1) << 56) - 1;
  uint64_t r_ = 1;
};

}  // namespace lmzip
