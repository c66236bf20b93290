// Fuzz target: the mixed coder's decoder (native/mix/) on arbitrary streams, with
// arbitrary vocabulary sizes, lane counts, chunk sizes and (optionally) parameter
// bytes taken from the input; a synthetic LM (mix_synthetic.h) stands in for llama.cpp.
// Then a round trip: the decoded tokens, encoded again and decoded again, must come
// back unchanged.
//
// Input: [vocab-2: 2 bytes][lanes-1: 1][chunks-1: 1][tokens per chunk: 1 each]
//        [params length L: 1][params: L bytes, when L > 0][seed: 8][stream...]
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "bit_coder.h"
#include "mix_synthetic.h"
#include "params.h"
#include "predictor.h"
#include "schedule.h"

using namespace lmzip;
using namespace lmzip::mix;

namespace {
struct Reader {
  const uint8_t* d;
  size_t n, pos = 0;
  uint32_t u8() { return pos < n ? d[pos++] : 0; }
};

struct Setup {
  int n_vocab = 2, lanes = 1;
  uint64_t seed = 0;
  std::vector<uint32_t> counts;
  MixParams params;
};

// Codes the schedule; `code(chunk, index, lm, predictor)` returns the token.
template <class Code>
std::vector<std::vector<int32_t>> run(const Setup& s, Code&& code) {
  const VocabInfo vocab(lmzip_test::synthetic_pieces(s.n_vocab));
  MixedPredictor p(s.params, s.n_vocab, vocab, s.counts);
  std::vector<std::vector<int32_t>> out(s.counts.size());
  std::vector<uint32_t> f;
  LmTable lm;
  for (const auto& step : lane_schedule(s.counts, s.lanes)) {
    for (const Slot& sl : step) {
      lmzip_test::synthetic_freqs(s.seed, sl.index ? out[sl.chunk].back() : -1, s.n_vocab, f);
      lm.build(f.data(), s.n_vocab);
      const int32_t t = code(sl.chunk, sl.index, lm, p);
      if (t < 0 || t >= s.n_vocab) abort();  // a decoder must only produce vocabulary tokens
      out[sl.chunk].push_back(t);
    }
    p.end_step();
  }
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader r{data, size};
  Setup s;
  s.n_vocab = 2 + int(r.u8() | ((r.u8() & 3) << 8));
  s.lanes = 1 + int(r.u8() % 4);
  const uint32_t n_chunks = 1 + r.u8() % 4;
  uint64_t tokens = 0;
  for (uint32_t i = 0; i < n_chunks; ++i) tokens += s.counts.emplace_back(r.u8());
  const uint32_t params_len = r.u8() % 64;
  if (params_len) {
    std::vector<uint8_t> pb;
    for (uint32_t i = 0; i < params_len; ++i) pb.push_back(uint8_t(r.u8()));
    try {
      s.params = parse_params(pb.data(), pb.size());
    } catch (const std::invalid_argument&) {
      return 0;  // rejected cleanly: what a decoder must do
    }
    if (s.params.memory_bytes() > (size_t(64) << 20)) return 0;  // keep fuzzing fast
  } else {
    s.params = MixParams::for_block(tokens);
  }
  for (int i = 0; i < 8; ++i) s.seed = s.seed << 8 | r.u8();
  const uint8_t* stream = data + r.pos;
  const size_t stream_size = size - std::min(size, r.pos);

  RangeDecoder dec(stream, stream_size);
  BitDecoder bits(dec);
  const auto decoded = run(s, [&](uint32_t c, uint32_t i, const LmTable& lm, MixedPredictor& p) {
    return p.code(c, i, lm, bits, -1);
  });

  std::vector<uint8_t> again;
  {
    RangeEncoder enc(again);
    BitEncoder ebits(enc);
    run(s, [&](uint32_t c, uint32_t i, const LmTable& lm, MixedPredictor& p) {
      return p.code(c, i, lm, ebits, decoded[c][i]);
    });
    enc.finish();
  }
  RangeDecoder dec2(again.data(), again.size());
  BitDecoder bits2(dec2);
  const auto back = run(s, [&](uint32_t c, uint32_t i, const LmTable& lm, MixedPredictor& p) {
    return p.code(c, i, lm, bits2, -1);
  });
  if (back != decoded) abort();  // round trip broken
  return 0;
}
