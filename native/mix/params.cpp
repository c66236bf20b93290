#include "params.h"

#include <stdexcept>

namespace lmzip::mix {
namespace {

// Context spec byte: an order k is k (1-16); column 0x81, above 0x82, word 0x83.
uint8_t spec_byte(const ContextSpec& c) {
  switch (c.kind) {
    case ContextKind::kOrder: return uint8_t(c.order);
    case ContextKind::kColumn: return 0x81;
    case ContextKind::kAbove: return 0x82;
    case ContextKind::kWord: return 0x83;
  }
  return 0;
}

struct Reader {
  const uint8_t* d;
  size_t n, pos = 0;
  uint32_t u8() {
    if (pos >= n) throw std::invalid_argument("mixing parameters are truncated");
    return d[pos++];
  }
  uint32_t u16() {
    const uint32_t lo = u8();
    return lo | (u8() << 8);
  }
};

uint32_t in_range(uint32_t v, uint32_t lo, uint32_t hi, const char* field) {
  if (v < lo || v > hi)
    throw std::invalid_argument(std::string("mixing parameter ") + field + " = " + std::to_string(v) + " is outside " +
                                std::to_string(lo) + "..." + std::to_string(hi));
  return v;
}

int ceil_log2(uint64_t n) {
  int b = 0;
  while ((uint64_t(1) << b) < n) ++b;
  return b;
}

}  // namespace

MixParams MixParams::for_block(uint64_t tokens) {
  MixParams p;
  const int b = ceil_log2(tokens < 1 ? 1 : tokens);
  auto clamp = [](int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; };
  p.table_bits = clamp(b + 1, 12, 20);
  p.match_bits = clamp(b + 1, 12, 22);
  p.direct_bits = clamp(b + 5, 16, 24);
  return p;
}

size_t MixParams::memory_bytes() const {
  return contexts.size() * (size_t(32) << table_bits) + (size_t(4) << match_bits) + (size_t(4) << direct_bits);
}

std::vector<uint8_t> serialize_params(const MixParams& p) {
  std::vector<uint8_t> out;
  auto u8 = [&](uint32_t v) { out.push_back(uint8_t(v)); };
  auto u16 = [&](uint32_t v) {
    u8(v & 0xFF);
    u8(v >> 8);
  };
  u8(kParamsVersion);
  u8(uint32_t(p.contexts.size()));
  for (const ContextSpec& c : p.contexts) u8(spec_byte(c));
  u8(uint32_t(p.table_bits));
  u8(p.count_limit);
  u8(uint32_t(p.match_min_len));
  u8(uint32_t(p.match_bits));
  u8(uint32_t(p.direct_orders));
  u8(uint32_t(p.direct_bits));
  u16(uint32_t(p.direct_limit));
  u16(uint32_t(p.lr_candidate));
  u16(uint32_t(p.lr_tree));
  u16(uint32_t(p.lr_boost));
  u16(p.lr_half);
  u16(uint32_t(p.lr_final));
  u16(p.init_lm_weight);
  u16(p.init_context_weight);
  u8(uint32_t(p.apm_rate));
  u8(uint32_t(p.update_mode));
  return out;
}

std::vector<uint8_t> serialize_preset(uint64_t tokens) {
  return {kPresetVersion, uint8_t(ceil_log2(tokens < 1 ? 1 : tokens))};
}

MixParams parse_params(const uint8_t* data, size_t size) {
  Reader r{data, size};
  MixParams p;
  const uint32_t version = r.u8();
  if (version == kPresetVersion) {
    const uint32_t b = in_range(r.u8(), 0, kMaxPresetBits, "preset size");
    if (r.pos != size) throw std::invalid_argument("mixing parameters have trailing bytes");
    return MixParams::for_block(uint64_t(1) << b);
  }
  if (version != kParamsVersion) throw std::invalid_argument("unknown mixing parameter version");
  const uint32_t n = in_range(r.u8(), 0, 12, "context count");
  p.contexts.clear();
  int last_order = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t b = r.u8();
    ContextSpec c;
    if (b >= 1 && b <= 16) {
      if (int(b) <= last_order) throw std::invalid_argument("mixing parameters: context orders must ascend");
      c.kind = ContextKind::kOrder;
      c.order = last_order = int(b);
    } else if (b == 0x81) c.kind = ContextKind::kColumn;
    else if (b == 0x82) c.kind = ContextKind::kAbove;
    else if (b == 0x83) c.kind = ContextKind::kWord;
    else throw std::invalid_argument("mixing parameters: unknown context kind " + std::to_string(b));
    p.contexts.push_back(c);
  }
  p.table_bits = int(in_range(r.u8(), 10, 22, "table_bits"));
  p.count_limit = in_range(r.u8(), 2, 255, "count_limit");
  p.match_min_len = int(in_range(r.u8(), 1, 32, "match_min_len"));
  p.match_bits = int(in_range(r.u8(), 10, 24, "match_bits"));
  p.direct_orders = int(in_range(r.u8(), 0, 3, "direct_orders"));
  p.direct_bits = int(in_range(r.u8(), 10, 24, "direct_bits"));
  p.direct_limit = int(in_range(r.u16(), 1, 1023, "direct_limit"));
  p.lr_candidate = int32_t(in_range(r.u16(), 0, 16383, "lr_candidate"));
  p.lr_tree = int32_t(in_range(r.u16(), 0, 16383, "lr_tree"));
  p.lr_boost = int32_t(in_range(r.u16(), 0, 16383, "lr_boost"));
  p.lr_half = in_range(r.u16(), 1, 65535, "lr_half");
  p.lr_final = int32_t(in_range(r.u16(), 0, 16383, "lr_final"));
  p.init_lm_weight = in_range(r.u16(), 0, 16384, "init_lm_weight");
  p.init_context_weight = in_range(r.u16(), 0, 16384, "init_context_weight");
  p.apm_rate = int(in_range(r.u8(), 1, 15, "apm_rate"));
  p.update_mode = UpdateMode(in_range(r.u8(), 0, 2, "update_mode"));
  if (r.pos != size) throw std::invalid_argument("mixing parameters have trailing bytes");
  if (p.memory_bytes() > kMaxMemory) throw std::invalid_argument("mixing parameters ask for more than 512 MiB of tables");
  return p;
}

}  // namespace lmzip::mix
