// A fixed-point range coder (the LZMA scheme widened to a 56-bit window).
//
// State: low (56 bits + one carry bit), range in [2^48, 2^56). Each symbol narrows
// the range by r = range / total with total < 2^32, so at least 2^16 units of
// resolution remain per frequency unit and the loss to rounding is below 2^-16 of
// a bit per symbol. Carries propagate through a cached byte and a run of 0xFF
// bytes, as in LZMA.
//
// Stream layout: the always-zero first byte of the LZMA scheme is not written, and
// the encoder ends on the shortest tail that identifies the final interval; the
// decoder reads missing bytes past the end as zero. A flush therefore costs
// 1-2 bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmzip {

class RangeEncoder {
 public:
  explicit RangeEncoder(std::vector<uint8_t>& out) : out_(out) {}
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
};

class RangeDecoder {
 public:
  RangeDecoder(const uint8_t* data, size_t size);
  // The value in [0, total) that identifies the next symbol (clamped on damaged input).
  uint64_t target(uint64_t total);
  // Consumes the symbol whose cumulative interval [cum_freq, cum_freq + freq) held target().
  void consume(uint64_t cum_freq, uint64_t freq);
  // Bytes read past the end of the stream (as zeros). Not a corruption signal: the
  // encoder drops trailing zero bytes, so a valid stream may need any number.
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
