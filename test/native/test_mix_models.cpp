// The mixed coder's adaptive parts, one by one, against the rules and worked examples
// of docs/MIXING.md: state maps, APMs, mixers, context tables, the match model, the
// contexts, the LM table view and the parameter bytes.
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>

#include "adaptive.h"
#include "check.h"
#include "context_table.h"
#include "contexts.h"
#include "history.h"
#include "lm_table.h"
#include "match_model.h"
#include "params.h"
#include "vocab_info.h"

using namespace lmzip::mix;

// ---- StateMap ---------------------------------------------------------------------
TEST(state_map_worked_example) {
  StateMap m(2, 1023);
  CHECK(m.p16(0) == 32768);
  m.update(0, 1);  // p = 2^21 + ((2^22 - 1 - 2^21) * 43690 >> 16) = 3495231 (Q22)
  CHECK(m.p16(0) == 54612);
  m.update(0, 0);  // step 131072 / 5 = 26214
  CHECK(m.p16(0) == 32768);
  m.update(0, 1);  // step 131072 / 7 = 18724
  CHECK(m.p16(0) == 42130);
  CHECK(m.p16(1) == 32768);  // other contexts untouched
}

TEST(state_map_limit_keeps_adapting) {
  StateMap m(1, 2);
  for (int i = 0; i < 50; ++i) m.update(0, 1);
  CHECK(m.p16(0) > 65000);
  for (int i = 0; i < 6; ++i) m.update(0, 0);  // limit 2: steps of 2/7 keep it moving
  CHECK(m.p16(0) < 10000);
}

// ---- Apm --------------------------------------------------------------------------
TEST(apm_worked_example) {
  Apm a(2, 6);
  CHECK(a.predict(0, 0) == 32768);  // starts as the identity
  CHECK(a.last_index() == 16);
  a.update(1);  // point 16: 32768 + ((65535 - 32768) >> 6) = 33279
  CHECK(a.predict(128, 0) == 38485);  // halfway between 33279 and squash(256) = 43691
  CHECK(a.last_index() == 17);        // the nearer point is 17 (weight 128 rounds up)
  CHECK(a.predict(0, 1) == 32768);    // context 1 untouched
  CHECK(a.last_index() == 33 + 16);
  CHECK(a.predict(-5000, 0) == 1);      // clamped to -4095: (1 * 255 + 2 * 1) >> 8
  CHECK(a.predict(5000, 0) == 65534);   // clamped to 4095: (65534 * 1 + 65535 * 255) >> 8
}

// ---- Mixer ------------------------------------------------------------------------
TEST(mixer_worked_example) {
  // Weights (1, 0, 0), inputs (512, -256, 256): the output is the first input.
  Mixer m({65536, 0, 0}, 2, 300, 1000, 512);
  const int32_t st[3] = {512, -256, 256};
  CHECK(m.dot(st, 0) == 512);
  const uint32_t p = squash(512);
  CHECK(p == 52429);
  // The bit was 0: err = -52429; rate = 300 + 1000 * 512 / (512 + 0) = 1300;
  // e = round(err * rate / 2^10) = -66560; w_i += (st_i * e + 2^13) >> 14.
  m.update(st, 0, p, 0);
  CHECK(m.dot(st, 0) == 488);  // weights (63456, 1040, -1040)
  const int32_t unit[3] = {0, 1 << 10, 0};
  CHECK(m.dot(unit, 0) == 16);  // 1040 * 1024 / 65536 = 16.25
  CHECK(m.dot(st, 1) == 512);   // set 1 untouched
}

TEST(mixer_learns_to_trust_the_right_input) {
  // Input 0 is noise, input 1 tells the truth 85% of the time: after training, the
  // mixer codes fresh samples cheaper and weighs input 1 above input 0.
  Mixer m({65536, 0}, 1, 600, 0, 1);
  std::mt19937 rng(1);
  auto sample = [&](int32_t* st) {
    const uint32_t r = rng();
    const int bit = r & 1;
    const bool truthful = (r >> 1) % 100 < 85;
    st[0] = int32_t((r >> 8) & 511) - 256;
    st[1] = (bit == truthful) ? 600 : -600;
    return bit;
  };
  auto cost = [&](int n) {
    double bits = 0;
    int32_t st[2];
    for (int i = 0; i < n; ++i) {
      const int bit = sample(st);
      const uint32_t p = squash(m.dot(st, 0));
      bits -= std::log2((bit ? p : 65536 - p) / 65536.0);
    }
    return bits / n;
  };
  const double before = cost(4000);
  for (int i = 0; i < 20000; ++i) {
    int32_t st[2];
    const int bit = sample(st);
    m.update(st, 0, squash(m.dot(st, 0)), bit);
  }
  const double after = cost(4000);
  const int32_t truth[2] = {0, 600}, noise[2] = {600, 0};
  std::printf("  %.3f -> %.3f bits per decision; truth %d, noise %d\n", before, after, m.dot(truth, 0), m.dot(noise, 0));
  CHECK(after < 0.7 && after < before - 0.3);  // binary entropy of 0.85 is 0.61
  CHECK(m.dot(truth, 0) > 3 * std::abs(m.dot(noise, 0)));
}

TEST(two_layer_mixer_combines_and_learns) {
  TwoLayerMixer m({65536, 0}, {2, 3, 4}, 2, 300, 0, 1, 150);
  const int sets[3] = {1, 2, 3};
  const int32_t st[2] = {400, 100};
  int32_t s1[3];
  // Each first-layer mixer outputs 400; the final mixer averages them (weights 1/3).
  CHECK(m.mix(st, sets, 0, s1) == 400);
  CHECK(s1[0] == 400 && s1[1] == 400 && s1[2] == 400);
  for (int i = 0; i < 200; ++i) {
    const int32_t s = m.mix(st, sets, 0, s1);
    m.update(st, sets, 0, s1, s, 0);
  }
  CHECK(m.mix(st, sets, 0, s1) < 0);      // learnt that these inputs mean 0
  CHECK(m.mix(st, sets, 1, s1) < 400);    // the first layer learnt too
}

// ---- ContextTable -----------------------------------------------------------------
namespace {
// Two hashes of the same bucket pair (top bits) with different checks (low bits).
constexpr uint64_t kH1 = (uint64_t(5) << 55) | 0x1234, kH2 = (uint64_t(5) << 55) | 0x5678,
                   kH3 = (uint64_t(5) << 55) | 0x9abc;
std::vector<std::pair<int32_t, uint32_t>> slots(const ContextTable& t, uint64_t h) {
  ContextPrediction p;
  t.predict(h, p);
  std::vector<std::pair<int32_t, uint32_t>> v;
  for (int i = 0; i < p.n; ++i) v.push_back({p.c[i].token, p.c[i].count});
  return v;
}
using Slots = std::vector<std::pair<int32_t, uint32_t>>;
}  // namespace

TEST(context_table_counts_and_orders) {
  ContextTable t(10, 255);
  ContextPrediction p;
  t.predict(kH1, p);
  CHECK(!p.found);
  t.update(kH1, 5);
  CHECK(slots(t, kH1) == (Slots{{5, 1}}));
  t.update(kH1, 7);
  CHECK(slots(t, kH1) == (Slots{{7, 1}, {5, 1}}));  // most recent first among equals
  t.update(kH1, 5);
  CHECK(slots(t, kH1) == (Slots{{5, 2}, {7, 1}}));
  t.predict(kH1, p);
  CHECK(p.found && p.visits == 3 && p.total == 3 && p.count_of(7) == 1 && p.count_of(9) == 0);
  // Large token ids keep their 24 bits.
  t.update(kH1, 151935);
  CHECK(slots(t, kH1) == (Slots{{5, 2}, {151935, 1}, {7, 1}}));
}

TEST(context_table_evicts_the_least_counted) {
  ContextTable t(10, 255);
  for (int32_t tok = 1; tok <= 6; ++tok) t.update(kH1, tok);
  t.update(kH1, 1);  // 1 has 2
  CHECK(slots(t, kH1).size() == 6);
  t.update(kH1, 99);  // full: the last slot (2, the oldest of the count-1 tokens) leaves
  const Slots s = slots(t, kH1);
  CHECK(s.front() == (std::pair<int32_t, uint32_t>{1, 2}));
  CHECK(s[1] == (std::pair<int32_t, uint32_t>{99, 1}));
  bool has2 = false;
  for (auto& e : s) has2 |= e.first == 2;
  CHECK(!has2);
}

TEST(context_table_halves_at_the_limit) {
  ContextTable t(10, 3);
  t.update(kH1, 8);
  for (int i = 0; i < 3; ++i) t.update(kH1, 5);  // 5: 3, 8: 1
  t.update(kH1, 5);                              // 4 > 3: halve (3 -> 2, 1 -> 1), then 3
  CHECK(slots(t, kH1) == (Slots{{5, 3}, {8, 1}}));
  ContextPrediction p;
  t.predict(kH1, p);
  CHECK(p.visits == 3);  // 4 visits halved to 2, then this one
}

TEST(context_table_two_way_buckets) {
  ContextTable t(10, 255);
  t.update(kH1, 1);
  t.update(kH1, 1);
  t.update(kH2, 2);  // the pair's other bucket
  CHECK(slots(t, kH1) == (Slots{{1, 2}}));
  CHECK(slots(t, kH2) == (Slots{{2, 1}}));
  t.update(kH3, 3);  // neither matches: the less visited (kH2's) is replaced
  CHECK(slots(t, kH1) == (Slots{{1, 2}}));
  CHECK(slots(t, kH2).empty());
  CHECK(slots(t, kH3) == (Slots{{3, 1}}));
}

// ---- MatchModel -------------------------------------------------------------------
TEST(match_model_follows_a_repeat) {
  // 10 20 30 40 50 60 70 | 10 20 30 40 50 99 70 ...: after "10 20 30" comes again,
  // the model predicts 40, 50, then 60 (wrong: 99), and after the miss keeps its
  // alignment and predicts 70.
  const std::vector<int32_t> seq{10, 20, 30, 40, 50, 60, 70, 10, 20, 30, 40, 50, 99, 70, 80};
  History h({uint32_t(seq.size())});
  MatchModel m(10, 3);
  MatchState s;
  std::vector<int32_t> predicted;
  for (uint32_t i = 0; i < seq.size(); ++i) {
    predicted.push_back(MatchModel::predicted(s, h));
    h.set(0, i, seq[i]);
    m.update(s, h, 0, i);
  }
  const std::vector<int32_t> expect{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 40, 50, 60, 70, 10};
  CHECK(predicted == expect);
  CHECK(s.active && s.misses == 2);  // 60 and 10 were wrong
}

TEST(match_model_across_chunks_and_not_yet_coded) {
  // Chunk 1 repeats chunk 0; positions not coded yet predict nothing.
  History h({6, 6});
  MatchModel m(10, 2);
  MatchState s0, s1;
  const int32_t a[6] = {1, 2, 3, 4, 5, 6};
  for (uint32_t i = 0; i < 6; ++i) {
    h.set(0, i, a[i]);
    m.update(s0, h, 0, i);
  }
  std::vector<int32_t> predicted;
  for (uint32_t i = 0; i < 6; ++i) {
    predicted.push_back(MatchModel::predicted(s1, h));
    h.set(1, i, a[i]);
    m.update(s1, h, 1, i);
  }
  // After "1 2" the match points at chunk 0's "3"; at the end it points past chunk 0
  // into chunk 1 itself (position 6, its own first token).
  CHECK(predicted == (std::vector<int32_t>{-1, -1, 3, 4, 5, 6}));
  CHECK(s1.len == 6);
}

// ---- Contexts -----------------------------------------------------------------------
TEST(parse_contexts_and_names) {
  const auto specs = parse_contexts("o1,o2,o6,column,above,word");
  CHECK(specs.size() == 6);
  CHECK(specs[2].kind == ContextKind::kOrder && specs[2].order == 6);
  CHECK(specs[3].name() == "column" && specs[4].name() == "above" && specs[5].name() == "word");
  bool threw = false;
  try {
    parse_contexts("o3,o2");
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(sequence_tracks_lines_and_the_token_above) {
  // Pieces: 0 "ab", 1 "c", 2 "\n", 3 " x", 4 "yz\nq".
  const VocabInfo vocab({"ab", "c", "\n", " x", "yz\nq"});
  const int32_t tokens[] = {0, 1, 2, 3, 0, 4, 1};
  Sequence seq;
  std::vector<int32_t> columns, above;
  for (uint32_t i = 0; i < 7; ++i) {
    columns.push_back(int32_t(seq.column()));
    above.push_back(seq.above(tokens));
    seq.advance(tokens, i, vocab);
  }
  // Line 1 "abc\n"; line 2 " xab" + "yz\n"; line 3 "q" + "c".
  CHECK(columns == (std::vector<int32_t>{0, 2, 3, 0, 2, 4, 1}));
  // Line 2 col 0 is above "ab" (token 0), col 2 above "c" (1), col 4 beyond line 1;
  // line 3 col 1 above " x" (3).
  CHECK(above == (std::vector<int32_t>{-1, -1, -1, 0, 1, -1, 3}));
  CHECK(vocab[3].starts_word && !vocab[0].starts_word && vocab[4].after_newline == 1);
}

TEST(context_hashes_differ_by_kind_and_content) {
  const auto specs = parse_contexts("o1,o2,column,above,word");
  const VocabInfo vocab({"a", "b", "\n"});
  History h({4});
  Sequence seq;
  const int32_t toks[4] = {0, 1, 2, 0};
  uint64_t first[5], again[5];
  context_hashes(specs, h, 0, 0, seq, first);
  for (int i = 0; i < 5; ++i)
    for (int j = i + 1; j < 5; ++j) CHECK(first[i] != first[j]);
  for (uint32_t i = 0; i < 3; ++i) {
    h.set(0, i, toks[i]);
    seq.advance(h.chunk_tokens(0), i, vocab);
  }
  context_hashes(specs, h, 0, 3, seq, again);
  for (int i = 0; i < 5; ++i) CHECK(first[i] != again[i]);
  uint64_t same[5];
  context_hashes(specs, h, 0, 3, seq, same);
  CHECK(std::memcmp(same, again, sizeof same) == 0);
}

// ---- LmTable ------------------------------------------------------------------------
TEST(lm_table_total_top_and_mass) {
  std::vector<uint32_t> f(300, 1);
  f[7] = 50;
  f[200] = 50;  // tie: the lowest id is the top
  f[299] = 9;
  LmTable t;
  t.build(f.data(), int(f.size()));
  CHECK(t.total() == 300 - 3 + 109);
  CHECK(t.top() == 7);
  CHECK(t.mass(0, 300) == t.total());
  CHECK(t.mass(7, 8) == 50 && t.mass(199, 201) == 51 && t.mass(5, 5) == 0);
  t.build_uniform(10);
  CHECK(t.total() == 10 && t.top() == 0 && t.mass(3, 7) == 4);
}

// ---- Parameters -----------------------------------------------------------------------
TEST(params_round_trip_and_validation) {
  MixParams p = MixParams::for_block(40000);
  CHECK(p.table_bits == 17 && p.match_bits == 17 && p.direct_bits == 21);
  CHECK(MixParams::for_block(1).table_bits == 12 && MixParams::for_block(1u << 30).table_bits == 20);
  CHECK(MixParams::for_block(uint64_t(1) << 40).memory_bytes() <= kMaxMemory);  // what an encoder picks, a decoder accepts
  p.update_mode = UpdateMode::kPerStep;
  const std::vector<uint8_t> bytes = serialize_params(p);
  CHECK(bytes.size() == 26 + p.contexts.size());
  const MixParams q = parse_params(bytes.data(), bytes.size());
  CHECK(serialize_params(q) == bytes);
  CHECK(q.update_mode == UpdateMode::kPerStep && q.contexts.size() == 7 && q.contexts[6].kind == ContextKind::kAbove);
  auto rejects = [](std::vector<uint8_t> b) {
    try {
      parse_params(b.data(), b.size());
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  CHECK(rejects({}));
  std::vector<uint8_t> b = bytes;
  b[0] = 3;  // version
  CHECK(rejects(b));
  // The preset form: (2, b) is for_block(2^b).
  CHECK(serialize_preset(40000) == std::vector<uint8_t>({2, 16}));
  CHECK(serialize_preset(0) == std::vector<uint8_t>({2, 0}));
  const std::vector<uint8_t> preset = serialize_preset(40000);
  CHECK(serialize_params(parse_params(preset.data(), preset.size())) == serialize_params(MixParams::for_block(65536)));
  CHECK(rejects({2}) && rejects({2, 41}) && rejects({2, 16, 0}));
  CHECK(parse_params(std::vector<uint8_t>{2, 40}.data(), 2).table_bits == 20);
  b = bytes;
  b.push_back(0);  // trailing byte
  CHECK(rejects(b));
  b = bytes;
  b.pop_back();  // truncated
  CHECK(rejects(b));
  b = bytes;
  b[2 + p.contexts.size()] = 30;  // table_bits
  CHECK(rejects(b));
  b = bytes;
  b[3] = 1;  // orders 1, 1: not ascending
  CHECK(rejects(b));
  MixParams big = p;
  big.table_bits = 22;  // 7 x 128 MiB
  const auto big_bytes = serialize_params(big);
  CHECK(rejects(big_bytes));
}

TEST_MAIN()
