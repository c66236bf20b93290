#include "coding.h"

#include <cmath>

#include "errors.h"
#include "freqs.h"

namespace lmzip {

namespace {
[[noreturn]] void damaged(const std::string& what) { throw Error("CORRUPT_DATA", "compressed data is damaged: " + what); }
}  // namespace

namespace coding_detail {
namespace {
// Whole blocks of a table are summed first (a loop the compiler vectorises), so a
// search over a 152k vocabulary touches each entry once at vector speed; integer sums
// are exact, so the result is the one a plain scan gives.
constexpr int kBlock = 64;
uint64_t block_sum(const uint32_t* freqs) {
  uint64_t sum = 0;
  for (int k = 0; k < kBlock; ++k) sum += freqs[k];
  return sum;
}
}  // namespace

uint64_t cumulative(const uint32_t* freqs, llama_token token) {
  uint64_t cum = 0;
  llama_token t = 0;
  for (; t + kBlock <= token; t += kBlock) cum += block_sum(freqs + t);
  for (; t < token; ++t) cum += freqs[t];
  return cum;
}

llama_token find_token(const uint32_t* freqs, int n_vocab, uint64_t target, uint64_t* cum_out) {
  uint64_t cum = 0;
  llama_token token = 0;
  // Skip blocks that end at or before the target (never the last token: it is the answer
  // when no interval before it holds the target).
  while (token + kBlock < n_vocab) {
    const uint64_t sum = block_sum(freqs + token);
    if (cum + sum > target) break;
    cum += sum;
    token += kBlock;
  }
  while (token + 1 < n_vocab && cum + freqs[token] <= target) cum += freqs[token++];
  *cum_out = cum;
  return token;
}
}  // namespace coding_detail

uint64_t ModelPredictor::frequencies(const LaneView& lane, uint32_t* freqs) {
  return logits_to_freqs(lane.logits, n_vocab(), freqs);
}

double Predictor::encode(const LaneView& lane, const uint32_t* freqs, uint64_t total, llama_token token,
                         RangeEncoder& out) {
  (void)lane;
  out.encode(coding_detail::cumulative(freqs, token), freqs[token], total);
  return -std::log2(double(freqs[token]) / double(total));
}

llama_token Predictor::decode(const LaneView& /*lane*/, const uint32_t* freqs, uint64_t total, RangeDecoder& in) {
  uint64_t cum = 0;
  const llama_token token = coding_detail::find_token(freqs, n_vocab(), in.target(total), &cum);
  in.consume(cum, freqs[token]);
  return token;
}

std::unique_ptr<Predictor> make_predictor(const CodingMethod& method, const Model& model) {
  if (method.id == 1) {
    if (!method.params.empty()) throw Error("CORRUPT_HEADER", "coding method 1 takes no parameters");
    return std::make_unique<ModelPredictor>(model.n_vocab());
  }
  if (method.id == 2) return make_mix_predictor(method.params, model);
  throw Error("UNSUPPORTED_VERSION", "coding method " + std::to_string(method.id) + " is not known to this build");
}

void StepTables::compute(std::span<LaneStep> lanes, const std::vector<ScheduledChunk>& chunks) {
  if (tables_.size() < lanes.size() * n_vocab_) tables_.resize(lanes.size() * n_vocab_);
  totals_.resize(lanes.size());
  views_.resize(lanes.size());
  for (size_t i = 0; i < lanes.size(); ++i) {
    const LaneStep& s = lanes[i];
    views_[i] = LaneView{s.lane, s.chunk, s.index, s.logits, &chunks[s.chunk].tokens, &chunks};
  }
  auto table = [&](size_t i) { totals_[i] = predictor_.frequencies(views_[i], tables_.data() + i * n_vocab_); };
  if (workers_ && predictor_.lanes_independent()) {
    workers_->run(lanes.size(), table);
  } else {
    for (size_t i = 0; i < lanes.size(); ++i) table(i);
  }
}

// ---- encoding -------------------------------------------------------------------------

EncodeHook::EncodeHook(const Model& model, Predictor& predictor, StreamLayout layout, std::vector<EncodedChunk>& out,
                       bool measure_ideal, TokenListener* listener)
    : model_(model), tables_(predictor, model.n_vocab()), layout_(layout), out_(out), measure_ideal_(measure_ideal),
      listener_(listener) {
  if (layout_ == StreamLayout::PerChunk) chunk_encoders_.resize(out.size());
  else block_encoder_ = std::make_unique<RangeEncoder>(block_stream_, /*trim_trailing_zeros=*/false);
}

RangeEncoder& EncodeHook::encoder_for(size_t chunk) {
  if (layout_ == StreamLayout::PerBlock) return *block_encoder_;
  auto& e = chunk_encoders_[chunk];
  if (!e) e = std::make_unique<RangeEncoder>(out_[chunk].payload);
  return *e;
}

void EncodeHook::code_step(std::span<LaneStep> lanes, std::vector<ScheduledChunk>& chunks) {
  tables_.compute(lanes, chunks);
  const int n_vocab = model_.n_vocab();
  for (size_t i = 0; i < lanes.size(); ++i) {
    LaneStep& s = lanes[i];
    const std::vector<llama_token>& tokens = chunks[s.chunk].tokens;
    const llama_token token = tokens[s.index];
    const uint32_t* freqs = tables_.freqs(i);
    const uint64_t total = tables_.total(i);
    const LaneView view = tables_.view(i);
    const double bits = tables_.predictor().encode(view, freqs, total, token, encoder_for(s.chunk));
    coded_any_ = true;
    tables_.predictor().observe(view, token);
    if (listener_) listener_->on_token(TokenRecord{view, token, freqs, total});
    EncodedChunk& out = out_[s.chunk];
    out.table_bits += bits;
    out.model_bits -= std::log2(double(freqs[token]) / double(total));
    if (measure_ideal_) out.ideal_bits += ideal_bits(s.logits, n_vocab, token);
    s.chunk_done = s.index + 1 == tokens.size();
    if (s.chunk_done && layout_ == StreamLayout::PerChunk) {
      chunk_encoders_[s.chunk]->finish();
      chunk_encoders_[s.chunk].reset();
    }
  }
  tables_.predictor().end_step();
}

std::vector<uint8_t> EncodeHook::finish_block() {
  if (!block_encoder_) return {};
  if (coded_any_) block_encoder_->finish();
  block_encoder_.reset();
  return std::move(block_stream_);
}

// ---- decoding -------------------------------------------------------------------------

DecodeHook::DecodeHook(const Model& model, Predictor& predictor, const std::vector<DecodeChunk>& chunks,
                       std::vector<std::string>& out)
    : model_(model), tables_(predictor, model.n_vocab()), layout_(StreamLayout::PerChunk), out_(out) {
  chunk_decoders_.resize(chunks.size());
  for (const DecodeChunk& c : chunks) {
    token_counts_.push_back(c.token_count);
    piece_bytes_.push_back(uint64_t(c.original_size) + (c.strip_leading_space ? 1 : 0));
    payloads_.emplace_back(c.payload, c.payload_size);
  }
}

DecodeHook::DecodeHook(const Model& model, Predictor& predictor, const uint8_t* stream, size_t stream_size,
                       const std::vector<BlockChunk>& chunks, std::vector<std::string>& out)
    : model_(model), tables_(predictor, model.n_vocab()), layout_(StreamLayout::PerBlock), out_(out) {
  for (const BlockChunk& c : chunks) piece_bytes_.push_back(uint64_t(c.original_size) + (c.strip_leading_space ? 1 : 0));
  block_decoder_ = std::make_unique<RangeDecoder>(stream, stream_size);
}

RangeDecoder& DecodeHook::decoder_for(size_t chunk) {
  if (layout_ == StreamLayout::PerBlock) return *block_decoder_;
  auto& d = chunk_decoders_[chunk];
  if (!d) d = std::make_unique<RangeDecoder>(payloads_[chunk].first, payloads_[chunk].second);
  return *d;
}

void DecodeHook::code_step(std::span<LaneStep> lanes, std::vector<ScheduledChunk>& chunks) {
  tables_.compute(lanes, chunks);
  for (size_t i = 0; i < lanes.size(); ++i) {
    LaneStep& s = lanes[i];
    RangeDecoder& decoder = decoder_for(s.chunk);
    const llama_token token = tables_.predictor().decode(tables_.view(i), tables_.freqs(i), tables_.total(i), decoder);
    // Encoders never plan tokens that stand for no bytes; decoding one means damage
    // (and would otherwise let a damaged chunk run all its steps before failing).
    const std::string& piece = model_.piece(token);
    if (piece.empty()) damaged("it decodes to a token that stands for no bytes");
    chunks[s.chunk].tokens.push_back(token);
    tables_.predictor().observe(tables_.view(i), token);
    std::string& bytes = out_[s.chunk];
    bytes += piece;
    if (layout_ == StreamLayout::PerChunk) {
      // A damaged payload can decode to anything: stop it from growing past the chunk.
      if (bytes.size() > piece_bytes_[s.chunk]) damaged("a chunk decodes to more bytes than recorded");
      s.chunk_done = s.index + 1 == token_counts_[s.chunk];
      if (s.chunk_done) chunk_decoders_[s.chunk].reset();
    } else {
      if (bytes.size() > piece_bytes_[s.chunk]) damaged("a chunk decodes to more bytes than recorded");
      // A valid stream is never read more than kTailBytes past its end.
      if (decoder.overread() > kTailBytes) damaged("the model stream ends before its chunks do");
      s.chunk_done = bytes.size() == piece_bytes_[s.chunk];
    }
  }
  tables_.predictor().end_step();
}

void DecodeHook::finish_block() const {
  if (block_decoder_ && block_decoder_->overread() != kTailBytes)
    damaged("the model stream does not end where its last token does");
}

}  // namespace lmzip
