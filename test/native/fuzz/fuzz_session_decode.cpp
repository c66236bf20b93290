// Fuzz target (c): the session's decoders with stories260K on arbitrary payloads,
// token counts, sizes and flags: Session::decode (format v1, a stream per chunk) and,
// with bit 6 of the first byte set, Session::decode_block (format v2, one stream for
// all chunks, chunks end by size). Each must return chunks of exactly the recorded
// sizes or throw lmzip::Error; never crash, hang or allocate without bound. v1 token
// counts are bounded here (at most 48 per chunk) to keep executions fast; sizes are
// not (v2 needs no bound: a stream read past its end fails at once).
//
// With the top bit of the first byte set, the input is instead *compressed*
// (as up to three chunks, in both layouts) and must decompress to the same bytes.
// Bit 5 selects coding method 2 (the mixer, docs/MIXING.md; format v2 only).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "check.h"
#include "engine.h"
#include "errors.h"
#include "model.h"

namespace {
struct Reader {
  const uint8_t* d;
  size_t n;
  size_t pos = 0;
  uint32_t u8() { return pos < n ? d[pos++] : 0; }
  uint32_t u16() { return u8() | (u8() << 8); }
};

std::shared_ptr<const lmzip::Model> g_model;
std::unique_ptr<lmzip::Session> g_sessions[4];

// Sessions 0-2: coding method 1 with three lane settings; 3: coding method 2.
lmzip::Session& session(size_t i) {
  if (!g_model)
    g_model = std::make_shared<const lmzip::Model>(
        lmzip_test::shared_path("models/stories260K.gguf"), lmzip::ModelParams{});
  if (!g_sessions[i]) {
    lmzip::SessionParams p;
    const int lanes[] = {1, 2, 3, 2};
    const int windows[] = {256, 16, 8, 16};
    const int overlaps[] = {128, 4, 6, 4};
    p.lanes = lanes[i];
    p.window = windows[i];
    p.overlap = overlaps[i];
    if (i == 3) p.method = lmzip::CodingMethod{2, {2, 10}};  // the preset for 2^10 tokens
    g_sessions[i] = std::make_unique<lmzip::Session>(g_model, p);
  }
  return *g_sessions[i];
}

// Sizes from the "header": mostly small, sometimes up to the container's limit of
// 16 MiB per chunk (src/format/constants.ts MAX_CHUNK_SIZE, which the reader enforces
// before calling decode). LMZIP_FUZZ_RAW_SIZES=1 lifts the limit to 2^32-1: the
// engine's own guard (see test/native/test_known_bugs.cpp).
uint32_t hostile_size(Reader& r) {
  static const bool raw = std::getenv("LMZIP_FUZZ_RAW_SIZES") != nullptr;
  const uint32_t sel = r.u8();
  if (sel < 0xF0) return r.u16() % 600;
  if (sel < 0xFC) return r.u16();
  const uint32_t big = r.u16() | (r.u16() << 16);
  return raw ? big : big % ((1u << 24) + 1);
}

void round_trip(lmzip::Session& s, const uint8_t* data, size_t size, bool v1) {
  if (size > 300) size = 300;
  std::vector<std::pair<const uint8_t*, size_t>> chunks;
  const size_t a = size / 3, b = size / 2;
  chunks.emplace_back(data, a);
  chunks.emplace_back(data + a, b - a);
  chunks.emplace_back(data + b, size - b);
  const auto enc = s.encode(chunks, {}, false, nullptr, {});
  std::vector<lmzip::DecodeChunk> d;
  std::vector<size_t> index;
  for (size_t i = 0; i < enc.size(); ++i) {
    if (!enc[i].model_coded) continue;
    lmzip::DecodeChunk c;
    c.payload = enc[i].payload.data();
    c.payload_size = enc[i].payload.size();
    c.token_count = enc[i].token_count;
    c.original_size = uint32_t(chunks[i].second);
    c.strip_leading_space = enc[i].strip_leading_space;
    d.push_back(c);
    index.push_back(i);
  }
  auto check = [&](const std::vector<std::string>& out, const char* layout) {
    for (size_t k = 0; k < out.size(); ++k) {
      const auto& ch = chunks[index[k]];
      if (out[k].size() != ch.second || out[k].compare(0, ch.second, reinterpret_cast<const char*>(ch.first), ch.second) != 0) {
        std::fprintf(stderr, "%s round trip changed chunk %zu\n", layout, index[k]);
        abort();
      }
    }
  };
  if (v1) check(s.decode(d, nullptr, {}), "v1");
  const lmzip::EncodedBlock block = s.encode_block(chunks, {}, false, nullptr, {});
  std::vector<lmzip::BlockChunk> in_block;
  for (const lmzip::DecodeChunk& c : d) in_block.push_back(lmzip::BlockChunk{c.original_size, c.strip_leading_space});
  check(s.decode_block(block.stream.data(), block.stream.size(), in_block, nullptr, {}), "v2");
}

// Format v2: chunk sizes and flags, then the rest of the input is the block's stream.
void decode_block(lmzip::Session& s, Reader& r, size_t size) {
  const size_t n_chunks = 1 + r.u8() % 3;
  std::vector<lmzip::BlockChunk> chunks(n_chunks);
  for (auto& c : chunks) {
    c.strip_leading_space = (r.u8() & 0x80) != 0;
    c.original_size = hostile_size(r);
  }
  const size_t at = std::min(size, r.pos);
  try {
    const auto out = s.decode_block(r.d + at, size - at, chunks, nullptr, {});
    if (out.size() != n_chunks) abort();
    for (size_t i = 0; i < n_chunks; ++i)
      if (out[i].size() != chunks[i].original_size) abort();
  } catch (const lmzip::Error& e) {
    if (e.code() != "CORRUPT_DATA") {
      std::fprintf(stderr, "unexpected error code %s: %s\n", e.code().c_str(), e.what());
      abort();
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 2048) return 0;
  Reader r{data, size};
  const uint32_t mode = r.u8();
  const bool mixed = (mode & 0x20) != 0;
  lmzip::Session& s = session(mixed ? 3 : mode % 3);
  if (mode & 0x80) {
    round_trip(s, data + 1, size - 1, !mixed);
    return 0;
  }
  if (mode & 0x40 || mixed) {
    decode_block(s, r, size);
    return 0;
  }
  const size_t n_chunks = 1 + r.u8() % 3;
  std::vector<lmzip::DecodeChunk> chunks(n_chunks);
  std::vector<size_t> payload_len(n_chunks);
  for (size_t i = 0; i < n_chunks; ++i) {
    const uint32_t flags = r.u8();
    chunks[i].token_count = flags % 49;  // the container also ensures token_count <= size + 1
    chunks[i].strip_leading_space = (flags & 0x80) != 0;
    chunks[i].original_size = hostile_size(r);
    payload_len[i] = r.u8();
  }
  for (size_t i = 0; i < n_chunks; ++i) {
    const size_t avail = size - std::min(size, r.pos);
    const size_t len = i + 1 == n_chunks ? avail : std::min(avail, payload_len[i]);
    chunks[i].payload = data + r.pos;
    chunks[i].payload_size = len;
    r.pos += len;
  }
  try {
    const auto out = s.decode(chunks, nullptr, {});
    if (out.size() != n_chunks) abort();
    for (size_t i = 0; i < n_chunks; ++i)
      if (out[i].size() != chunks[i].original_size) abort();  // must have thrown CORRUPT_DATA
  } catch (const lmzip::Error& e) {
    if (e.code() != "CORRUPT_DATA") {
      std::fprintf(stderr, "unexpected error code %s: %s\n", e.code().c_str(), e.what());
      abort();
    }
  }
  return 0;
}
