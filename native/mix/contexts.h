// The contexts the context models are keyed on (docs/MIXING.md, "Contexts"), and
// the per-sequence state they need. A sequence is one chunk: its tokens, coded in
// order, and what is known of their bytes (line and word structure).
//
//   order k   the k tokens before the position (k = 1 ... 16)
//   column    the byte column in the line and the previous token
//   above     the token of the previous line at the same byte column, and the
//             previous token (tables, logs, aligned source code)
//   word      the current word's tokens so far and the word before it
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "history.h"
#include "match_model.h"
#include "vocab_info.h"

namespace lmzip::mix {

enum class ContextKind : uint8_t { kOrder = 0, kColumn = 1, kAbove = 2, kWord = 3 };

struct ContextSpec {
  ContextKind kind = ContextKind::kOrder;
  int order = 1;  // kOrder only
  // "o3", "column", "above", "word".
  std::string name() const;
};

// Parses "o1,o2,o3,o4,o6,column,above,word"; throws std::invalid_argument.
std::vector<ContextSpec> parse_contexts(const std::string& list);

struct Sequence {
  MatchState match;
  uint32_t bytes = 0;                   // bytes of the tokens coded so far
  uint32_t line_start = 0;              // byte offset of the current line
  uint32_t prev_line_start = UINT32_MAX;  // of the previous line; none yet
  std::vector<uint32_t> token_end;      // byte offset after each coded token
  uint64_t word = 0, prev_word = 0;     // running hashes of the current and last word

  // The byte column of the next token.
  uint32_t column() const { return bytes - line_start; }
  // The token of the previous line at the next token's column, or -1.
  int32_t above(const int32_t* tokens) const;
  // After a token is coded (tokens[index] is it).
  void advance(const int32_t* tokens, uint32_t index, const VocabInfo& vocab);
};

// The hash of each context for chunk `chunk`'s next token (index = tokens coded).
void context_hashes(const std::vector<ContextSpec>& specs, const History& history, uint32_t chunk, uint32_t index,
                    const Sequence& seq, uint64_t* out);

}  // namespace lmzip::mix
