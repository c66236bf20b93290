// The hashes behind the context tables (docs/MIXING.md, "Hashes").
//
// A context of order k is the k tokens before the current position, most recent
// first; positions before the chunk's start count as "absent". Its hash is
//   s_0 = kSeed;  s_j = step(s_{j-1}, x_j)  with x_j = token_j + 1 (0 when absent)
//   h_k = finish(s_k, salt)                 with salt identifying the model
// so all orders of one position share their running state.
#pragma once
#include <cstdint>

namespace lmzip::mix {

constexpr uint64_t kHashSeed = 0x243F6A8885A308D3ull;  // pi's fraction
constexpr uint64_t kHashMul1 = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio
constexpr uint64_t kHashMul2 = 0xBF58476D1CE4E5B9ull;  // splitmix64's multiplier

constexpr uint64_t hash_step(uint64_t s, uint64_t x) {
  s = (s ^ x) * kHashMul1;
  return s ^ (s >> 29);
}

constexpr uint64_t hash_finish(uint64_t s, uint64_t salt) {
  s = (s ^ (salt * kHashMul2)) * kHashMul2;
  return s ^ (s >> 32);
}

// x_j for a token, or for an absent position (token < 0).
constexpr uint64_t hash_token(int32_t token) { return token < 0 ? 0 : uint64_t(uint32_t(token)) + 1; }

}  // namespace lmzip::mix
