#include "range_coder.h"

namespace lmzip {
namespace {
constexpr uint64_t kTop = uint64_t(1) << 48;     // renormalise below this range
constexpr uint64_t kWindow = uint64_t(1) << 56;  // low's width
constexpr uint64_t kWindowMask = kWindow - 1;
}  // namespace

void RangeEncoder::encode(uint64_t cum_freq, uint64_t freq, uint64_t total) {
  const uint64_t r = range_ / total;
  low_ += r * cum_freq;
  range_ = r * freq;
  while (range_ < kTop) {
    range_ <<= 8;
    shift_low();
  }
}

void RangeEncoder::shift_low() {
  if ((low_ & kWindowMask) < (uint64_t(0xFF) << 48) || low_ >= kWindow) {
    const uint8_t carry = uint8_t(low_ >> 56);
    uint8_t pending = cache_;
    do {
      if (first_byte_) first_byte_ = false;  // always 0: never written
      else out_.push_back(uint8_t(pending + carry));
      pending = 0xFF;
    } while (--cache_size_ != 0);
    cache_ = uint8_t(low_ >> 48);
  }
  ++cache_size_;
  low_ = (low_ << 8) & kWindowMask;
}

void RangeEncoder::finish() {
  // Any value in [low, low + range) identifies the stream. Pick the one with the
  // most trailing zero bytes: the smallest multiple of 2^48 at or above low
  // (range >= 2^48 guarantees it is inside). The decoder reads the zeros for free.
  low_ = (low_ + (kTop - 1)) & ~(kTop - 1);
  shift_low();  // emits the cached byte and any pending 0xFF run, with the carry
  shift_low();  // emits the byte of bits 48..55
  if (trim_)
    while (!out_.empty() && out_.back() == 0) out_.pop_back();
}

RangeDecoder::RangeDecoder(const uint8_t* data, size_t size) : data_(data), size_(size) {
  for (int i = 0; i < 7; ++i) code_ = (code_ << 8) | next_byte();
}

uint8_t RangeDecoder::next_byte() {
  if (pos_ < size_) return data_[pos_++];
  ++overread_;
  return 0;
}

uint64_t RangeDecoder::target(uint64_t total) {
  r_ = range_ / total;
  const uint64_t value = code_ / r_;
  return value < total ? value : total - 1;
}

void RangeDecoder::consume(uint64_t cum_freq, uint64_t freq) {
  code_ -= r_ * cum_freq;
  range_ = r_ * freq;
  if (code_ >= range_) code_ = range_ - 1;  // only on damaged input; keeps the state sane
  while (range_ < kTop) {
    code_ = ((code_ << 8) | next_byte()) & kWindowMask;
    range_ <<= 8;
  }
}

}  // namespace lmzip
