// MixedPredictor end to end with the real range coder and a synthetic language model
// (mix_synthetic.h): round trips over the lane schedule in every update mode, the
// same bytes every time, coder overhead, learning, model-free coding, damaged input,
// and a pinned output that changes only when the specified algorithm does.
#include <cmath>
#include <random>

#include "bit_coder.h"
#include "check.h"
#include "mix_synthetic.h"
#include "predictor.h"
#include "schedule.h"

using namespace lmzip;
using namespace lmzip::mix;
using lmzip_test::synthetic_freqs;

namespace {

struct Case {
  int n_vocab = 300;
  uint64_t seed = 1;
  int lanes = 2;
  bool uniform = false;  // no LM: a flat table
  MixParams params;
  std::vector<std::vector<int32_t>> chunks;
  std::vector<uint32_t> counts() const {
    std::vector<uint32_t> c;
    for (const auto& ch : chunks) c.push_back(uint32_t(ch.size()));
    return c;
  }
};

Case make_case(int n_chunks, size_t tokens, uint64_t seed, int lanes, UpdateMode mode = UpdateMode::kPerDecision) {
  Case c;
  c.seed = seed;
  c.lanes = lanes;
  for (int i = 0; i < n_chunks; ++i) c.chunks.push_back(lmzip_test::synthetic_text(seed * 100 + uint64_t(i), tokens + size_t(i) * 37, c.n_vocab));
  c.params = MixParams::for_block(tokens * size_t(n_chunks));
  c.params.update_mode = mode;
  return c;
}

// Runs the schedule; `code(chunk, index, lm, predictor)` codes one token.
template <class Code>
void run(const Case& c, Code&& code) {
  const VocabInfo vocab(lmzip_test::synthetic_pieces(c.n_vocab));
  MixedPredictor p(c.params, c.n_vocab, vocab, c.counts());
  std::vector<std::vector<int32_t>> seen(c.chunks.size());  // tokens as coded (decoder's view)
  std::vector<uint32_t> f;
  LmTable lm;
  for (const auto& step : lane_schedule(c.counts(), c.lanes)) {
    for (const Slot& s : step) {
      if (c.uniform) lm.build_uniform(c.n_vocab);
      else {
        synthetic_freqs(c.seed, s.index ? seen[s.chunk].back() : -1, c.n_vocab, f);
        lm.build(f.data(), c.n_vocab);
      }
      seen[s.chunk].push_back(code(s.chunk, s.index, lm, p));
    }
    p.end_step();
  }
}

std::vector<uint8_t> encode(const Case& c, double* ideal_bits = nullptr) {
  std::vector<uint8_t> out;
  RangeEncoder enc(out);
  BitEncoder bits(enc);
  MeasuringCoder<BitEncoder> measured(bits);
  run(c, [&](uint32_t chunk, uint32_t i, const LmTable& lm, MixedPredictor& p) {
    return p.code(chunk, i, lm, measured, c.chunks[chunk][i]);
  });
  enc.finish();
  if (ideal_bits) *ideal_bits = measured.bits;
  return out;
}

std::vector<std::vector<int32_t>> decode(const Case& c, const std::vector<uint8_t>& bytes) {
  RangeDecoder dec(bytes.data(), bytes.size());
  BitDecoder bits(dec);
  std::vector<std::vector<int32_t>> out(c.chunks.size());
  run(c, [&](uint32_t chunk, uint32_t i, const LmTable& lm, MixedPredictor& p) {
    const int32_t t = p.code(chunk, i, lm, bits, -1);
    out[chunk].push_back(t);
    return t;
  });
  return out;
}

// -log2 of the LM alone on the same tokens.
double lm_alone_bits(const Case& c) {
  std::vector<uint32_t> f;
  double bits = 0;
  for (const auto& ch : c.chunks)
    for (size_t i = 0; i < ch.size(); ++i) {
      synthetic_freqs(c.seed, i ? ch[i - 1] : -1, c.n_vocab, f);
      uint64_t total = 0;
      for (uint32_t x : f) total += x;
      bits -= std::log2(double(f[size_t(ch[i])]) / double(total));
    }
  return bits;
}

uint64_t fnv64(const std::vector<uint8_t>& b) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t x : b) h = (h ^ x) * 1099511628211ull;
  return h;
}

}  // namespace

TEST(round_trips_in_every_update_mode_and_lane_count) {
  for (UpdateMode mode : {UpdateMode::kPerDecision, UpdateMode::kPerToken, UpdateMode::kPerStep})
    for (int lanes : {1, 2, 5}) {
      const Case c = make_case(4, 300, 7, lanes, mode);
      const auto bytes = encode(c);
      CHECK(decode(c, bytes) == c.chunks);
    }
}

TEST(same_bytes_every_time) {
  const Case c = make_case(3, 400, 11, 2);
  CHECK(encode(c) == encode(c));
}

TEST(pinned_output) {
  // The bytes of one fixed case: this changes only when the algorithm of
  // docs/MIXING.md changes (then bump kParamsVersion and update this value).
  const Case c = make_case(3, 400, 2026, 2);
  const auto bytes = encode(c);
  std::printf("  %zu bytes, fnv64 %016llx\n", bytes.size(), static_cast<unsigned long long>(fnv64(bytes)));
  CHECK(fnv64(bytes) == 0xf492a407d09342b4ull);
}

TEST(coder_overhead_is_tiny_and_mixing_learns) {
  const Case c = make_case(4, 2000, 5, 3);
  double ideal = 0;
  const auto bytes = encode(c, &ideal);
  const double actual = 8.0 * double(bytes.size());
  std::printf("  mixed %.0f bits (ideal %.1f), LM alone %.1f bits\n", actual, ideal, lm_alone_bits(c));
  CHECK(actual <= ideal * 1.001 + 16);  // <= 0.1% plus the flush
  CHECK(ideal < 0.9 * lm_alone_bits(c));  // the repeats and the LM's favourite are learnt
}

TEST(model_free_round_trip) {
  Case c = make_case(3, 500, 9, 2);
  c.uniform = true;
  double ideal = 0;
  const auto bytes = encode(c, &ideal);
  CHECK(decode(c, bytes) == c.chunks);
  CHECK(ideal < 3 * 500 * std::log2(300.0) * 0.8);  // better than a flat code
}

TEST(parameters_change_the_coding_but_not_the_round_trip) {
  Case c = make_case(2, 500, 13, 2);
  c.params.contexts = parse_contexts("o1,o3,word");
  c.params.direct_orders = 0;
  c.params.match_min_len = 2;
  const auto bytes = encode(c);
  CHECK(decode(c, bytes) == c.chunks);
  CHECK(bytes != encode(make_case(2, 500, 13, 2)));
}

TEST(damaged_streams_decode_to_valid_tokens) {
  const Case c = make_case(2, 200, 3, 2);
  auto bytes = encode(c);
  std::mt19937_64 rng(4);
  for (int iter = 0; iter < 20; ++iter) {
    auto junk = bytes;
    if (iter % 2) junk[rng() % junk.size()] ^= uint8_t(1u << (rng() % 8));
    else junk.resize(rng() % junk.size());
    const auto out = decode(c, junk);
    bool in_range = true;
    for (const auto& ch : out)
      for (int32_t t : ch) in_range &= t >= 0 && t < c.n_vocab;
    CHECK(in_range);
  }
}

TEST_MAIN()
