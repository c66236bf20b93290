// What the context models know about each token's bytes: its length, where a line
// break falls in it and whether it starts a word. Derived from the vocabulary's
// pieces (the exact bytes of each token), so both sides compute the same.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lmzip::mix {

struct TokenBytes {
  uint32_t length = 0;         // bytes in the piece
  int32_t after_newline = -1;  // bytes after the piece's last '\n'; -1: no '\n'
  bool starts_word = false;    // first byte is not a letter, digit or byte >= 0x80
};

class VocabInfo {
 public:
  VocabInfo() = default;
  explicit VocabInfo(const std::vector<std::string>& pieces) {
    info_.resize(pieces.size());
    for (size_t t = 0; t < pieces.size(); ++t) {
      const std::string& p = pieces[t];
      TokenBytes& b = info_[t];
      b.length = uint32_t(p.size());
      const size_t nl = p.rfind('\n');
      b.after_newline = nl == std::string::npos ? -1 : int32_t(p.size() - nl - 1);
      const unsigned char c = p.empty() ? 0 : static_cast<unsigned char>(p[0]);
      const bool letter = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0x80;
      b.starts_word = !letter;
    }
  }
  // Unknown tokens (or an empty table: coding without a vocabulary) are one byte, no newline.
  TokenBytes operator[](int32_t t) const {
    return t >= 0 && size_t(t) < info_.size() ? info_[size_t(t)] : TokenBytes{1, -1, false};
  }

 private:
  std::vector<TokenBytes> info_;
};

}  // namespace lmzip::mix
