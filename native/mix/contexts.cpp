#include "contexts.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "hash.h"

namespace lmzip::mix {
namespace {
constexpr uint32_t kMaxColumn = 1023;
// Salts keep the kinds' hashes apart ("COLUMN", "ABOVE", "WORD").
constexpr uint64_t kSaltColumn = 0x434F4C554D4Eull, kSaltAbove = 0x41424F5645ull, kSaltWord = 0x574F5244ull;
constexpr uint64_t kWordSeed = 0x13198A2E03707344ull;
}  // namespace

std::string ContextSpec::name() const {
  switch (kind) {
    case ContextKind::kOrder: return "o" + std::to_string(order);
    case ContextKind::kColumn: return "column";
    case ContextKind::kAbove: return "above";
    case ContextKind::kWord: return "word";
  }
  return "?";
}

std::vector<ContextSpec> parse_contexts(const std::string& list) {
  std::vector<ContextSpec> specs;
  std::stringstream ss(list);
  std::string item;
  int last_order = 0;
  while (std::getline(ss, item, ',')) {
    ContextSpec s;
    if (item == "column") s.kind = ContextKind::kColumn;
    else if (item == "above") s.kind = ContextKind::kAbove;
    else if (item == "word") s.kind = ContextKind::kWord;
    else if (item.size() >= 2 && item[0] == 'o') {
      s.order = std::stoi(item.substr(1));
      if (s.order < 1 || s.order > 16) throw std::invalid_argument("context order out of range: " + item);
      if (s.order <= last_order) throw std::invalid_argument("context orders must ascend: " + item);
      last_order = s.order;
    } else throw std::invalid_argument("unknown context: " + item);
    specs.push_back(s);
  }
  return specs;
}

int32_t Sequence::above(const int32_t* tokens) const {
  if (prev_line_start == UINT32_MAX) return -1;
  const uint32_t target = prev_line_start + column();
  if (target >= line_start) return -1;  // the previous line is shorter
  // The first token ending after the target byte covers it.
  const auto it = std::upper_bound(token_end.begin(), token_end.end(), target);
  return it == token_end.end() ? -1 : tokens[it - token_end.begin()];
}

void Sequence::advance(const int32_t* tokens, uint32_t index, const VocabInfo& vocab) {
  const int32_t t = tokens[index];
  const TokenBytes b = vocab[t];
  bytes += b.length;
  token_end.push_back(bytes);
  if (b.after_newline >= 0) {
    prev_line_start = line_start;
    line_start = bytes - uint32_t(b.after_newline);
  }
  if (b.starts_word) {
    prev_word = word;
    word = hash_step(kWordSeed, hash_token(t));
  } else {
    word = hash_step(word, hash_token(t));
  }
}

void context_hashes(const std::vector<ContextSpec>& specs, const History& history, uint32_t chunk, uint32_t index,
                    const Sequence& seq, uint64_t* out) {
  const int32_t* tokens = history.chunk_tokens(chunk);
  auto back = [&](uint32_t j) { return j < index ? hash_token(tokens[index - 1 - j]) : 0; };
  // Orders share one running state: s_j covers the j most recent tokens.
  uint64_t s = kHashSeed;
  uint32_t depth = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const ContextSpec& c = specs[i];
    switch (c.kind) {
      case ContextKind::kOrder:  // listed in ascending order
        for (; depth < uint32_t(c.order); ++depth) s = hash_step(s, back(depth));
        out[i] = hash_finish(s, uint64_t(c.order));
        break;
      case ContextKind::kColumn:
        out[i] = hash_finish(hash_step(hash_step(kHashSeed, std::min(seq.column(), kMaxColumn) + 1), back(0)), kSaltColumn);
        break;
      case ContextKind::kAbove:
        out[i] = hash_finish(hash_step(hash_step(kHashSeed, hash_token(seq.above(tokens))), back(0)), kSaltAbove);
        break;
      case ContextKind::kWord:
        out[i] = hash_finish(hash_step(hash_step(kHashSeed, seq.word), seq.prev_word), kSaltWord);
        break;
    }
  }
}

}  // namespace lmzip::mix
