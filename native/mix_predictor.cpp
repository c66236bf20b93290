#include "mix_predictor.h"

#include <stdexcept>

#include "errors.h"
#include "freqs.h"
#include "mix/bit_coder.h"

namespace lmzip {

namespace {
std::vector<std::string> pieces_of(const Model& model) {
  std::vector<std::string> pieces(size_t(model.n_vocab()));
  for (int t = 0; t < model.n_vocab(); ++t) pieces[size_t(t)] = model.piece(t);
  return pieces;
}
}  // namespace

std::vector<uint8_t> mix_params_for_block(uint64_t block_bytes) {
  return mix::serialize_preset((block_bytes + 1) / 2);
}

std::unique_ptr<Predictor> make_mix_predictor(const std::vector<uint8_t>& params, const Model& model) {
  mix::MixParams parsed;
  try {
    parsed = mix::parse_params(params.data(), params.size());
  } catch (const std::invalid_argument& e) {
    throw Error("CORRUPT_HEADER", std::string("coding method 2: ") + e.what());
  }
  return std::make_unique<MixPredictor>(parsed, model);
}

MixPredictor::MixPredictor(const mix::MixParams& params, const Model& model)
    : Predictor(model.n_vocab()), params_(params), vocab_(pieces_of(model)) {}

uint64_t MixPredictor::frequencies(const LaneView& lane, uint32_t* freqs) {
  return logits_to_freqs(lane.logits, n_vocab(), freqs);  // the mixer's LM input: method 1's table
}

// The history lays out each model-coded chunk's tokens at a base position. Encoder
// and decoder must agree on it before the decoder knows any token count, so every
// chunk is given room for as many tokens as it has piece bytes (every token stands
// for at least one byte): base(c) = the piece bytes of the model-coded chunks before c.
mix::MixedPredictor& MixPredictor::mixer_for(const LaneView& lane) {
  if (mixer_) return *mixer_;
  const std::vector<ScheduledChunk>& chunks = *lane.chunks;
  std::vector<uint32_t> room;
  ordinal_.assign(chunks.size(), UINT32_MAX);
  for (size_t c = 0; c < chunks.size(); ++c) {
    if (!chunks[c].scheduled) continue;
    if (chunks[c].piece_bytes > UINT32_MAX) throw Error("CORRUPT_DATA", "compressed data is damaged: a chunk is too large");
    ordinal_[c] = uint32_t(room.size());
    room.push_back(uint32_t(chunks[c].piece_bytes));
  }
  try {
    mixer_ = std::make_unique<mix::MixedPredictor>(params_, n_vocab(), vocab_, room);
  } catch (const std::invalid_argument& e) {
    throw Error("CORRUPT_HEADER", std::string("coding method 2: ") + e.what());
  }
  return *mixer_;
}

double MixPredictor::encode(const LaneView& lane, const uint32_t* freqs, uint64_t total, llama_token token,
                            RangeEncoder& out) {
  (void)total;
  mix::MixedPredictor& mixer = mixer_for(lane);
  if (lane.index >= (*lane.chunks)[lane.chunk].piece_bytes)
    throw Error("NATIVE_ERROR", "a chunk plans more tokens than it has bytes");
  lm_.build(freqs, n_vocab());
  mix::BitEncoder bits(out);
  mix::MeasuringCoder<mix::BitEncoder> measured(bits);
  mixer.code(ordinal_[lane.chunk], lane.index, lm_, measured, token);
  return measured.bits;
}

llama_token MixPredictor::decode(const LaneView& lane, const uint32_t* freqs, uint64_t total, RangeDecoder& in) {
  (void)total;
  mix::MixedPredictor& mixer = mixer_for(lane);
  // The decode hook ends a chunk once its bytes are complete and fails on more, and
  // every token has at least one byte: index stays below the chunk's room.
  lm_.build(freqs, n_vocab());
  mix::BitDecoder bits(in);
  return mixer.code(ordinal_[lane.chunk], lane.index, lm_, bits, -1);
}

void MixPredictor::end_step() {
  if (mixer_) mixer_->end_step();
}

}  // namespace lmzip
