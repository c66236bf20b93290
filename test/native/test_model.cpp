// Model::plan_tokens must return an exact plan (pieces concatenate to the input) or
// ok=false, on every vocabulary and every input: invalid UTF-8, code points above
// U+10FFFF, NUL, SentencePiece's "▁", special-token text, random binary. Also the
// model-loading error paths: damaged, truncated, old-version and non-GGUF files.
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <unistd.h>

#include "check.h"
#include "common.h"
#include "errors.h"
#include "model.h"

using namespace lmzip;
using lmzip_test::repo_path;
using lmzip_test::shared_path;

namespace {
const char* kVocabs[] = {"llama-spm", "gpt-2", "qwen2", "llama-bpe"};

std::shared_ptr<Model> vocab(const std::string& name) {
  static std::vector<std::pair<std::string, std::shared_ptr<Model>>> cache;
  for (auto& [n, m] : cache)
    if (n == name) return m;
  ModelParams p;
  p.vocab_only = true;
  auto m = std::make_shared<Model>(repo_path("vendor/llama.cpp/models/ggml-vocab-" + name + ".gguf"), p);
  cache.emplace_back(name, m);
  return m;
}

std::vector<std::string> nasty_inputs() {
  std::vector<std::string> v = {
      "",
      " ",
      "  ",
      "a",
      " leading space",
      "Hello, world!\n",
      "\r\n\r\n\tTabs\tand CRLF\r\n",
      std::string("NUL\0in\0the\0middle", 18),
      std::string(1, '\0'),
      std::string(64, '\0'),
      "\xE2\x96\x81",                          // U+2581 "▁" alone
      "\xE2\x96\x81hello\xE2\x96\x81world",    // SentencePiece's space marker in text
      " \xE2\x96\x81 ",
      "\xF4\x90\x80\x80",                      // U+110000: above the Unicode range
      "abc\xF7\xBF\xBF\xBF" "def",             // U+1FFFFF, 4-byte form
      "\xF8\x88\x80\x80\x80",                  // 5-byte form
      "\xFC\x84\x80\x80\x80\x80",              // 6-byte form
      "\xC0\x80",                              // overlong NUL
      "\xE0\x80\xAF",                          // overlong '/'
      "\xED\xA0\x80",                          // a lone surrogate (U+D800)
      "\xED\xA0\x80\xED\xB0\x80",              // a surrogate pair in CESU-8
      "\x80\x81\x82",                          // continuation bytes alone
      "\xC3",                                  // truncated 2-byte sequence
      "abc\xE2\x82",                           // truncated 3-byte sequence at the end
      "\xEF\xBB\xBF" "BOM first",
      "\xFF\xFE\xFD",
      "<s>",
      "</s>",
      "<unk>",
      "<|endoftext|>",
      "<|im_start|>user\nhi<|im_end|>",
      "<|begin_of_text|><|eot_id|>",
      "[INST] hi [/INST]",
      "<0x41><0x00>",
      "\xE4\xB8\xAD\xE6\x96\x87 Chinese \xF0\x9F\x98\x80 emoji \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9",
      "e\xCC\x81 combining",
      "\xE2\x80\xAE right-to-left override",
      std::string(3000, ' '),
      std::string(3000, 'a'),
      "     multiple    spaces     ",
      "\n\n\n",
  };
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(char(b));
  v.push_back(all_bytes);
  v.push_back(" " + all_bytes);
  return v;
}

void check_plan(const Model& m, const std::string& name, const std::string& s) {
  const auto* d = reinterpret_cast<const uint8_t*>(s.data());
  const TokenPlan plan = m.plan_tokens(d, s.size());
  std::string why;
  const bool exact = lmzip_test::plan_is_exact(m, plan, d, s.size(), &why);
  if (!exact) {
    std::printf("  %s: inexact plan (%s) for input of %zu bytes:", name.c_str(), why.c_str(), s.size());
    for (size_t i = 0; i < s.size() && i < 32; ++i) std::printf(" %02x", uint8_t(s[i]));
    std::printf("\n");
  }
  CHECK(exact);
  // All four vocabularies have a token for each byte value, so a plan always exists.
  CHECK(plan.ok);
}
}  // namespace

TEST(plan_nasty_inputs) {
  for (const char* name : kVocabs) {
    auto m = vocab(name);
    for (const auto& s : nasty_inputs()) check_plan(*m, name, s);
  }
}

TEST(plan_random_binary) {
  std::mt19937_64 rng(21);
  for (const char* name : kVocabs) {
    auto m = vocab(name);
    for (int iter = 0; iter < 150; ++iter) {
      std::string s(rng() % 200, '\0');
      for (auto& c : s) c = char(rng());
      check_plan(*m, name, s);
    }
  }
}

TEST(plan_random_text_mixes) {
  // Text with a sprinkling of damaged bytes: the segmented path of plan_tokens.
  const std::vector<std::string> parts = {"the ", "cat", " sat", "\n", "\xE2\x96\x81", " ", "\xC3\xA9", "\xF0\x9F\x98\x80",
                                          "\xFF", "\x80", "\xF4\x90\x80\x80", std::string(1, '\0'), "<s>", "\t", "  "};
  std::mt19937_64 rng(22);
  for (const char* name : kVocabs) {
    auto m = vocab(name);
    for (int iter = 0; iter < 200; ++iter) {
      std::string s;
      const int k = int(rng() % 30);
      for (int i = 0; i < k; ++i) s += parts[rng() % parts.size()];
      check_plan(*m, name, s);
    }
  }
}

TEST(tokenize_above_unicode_is_an_error_not_an_abort) {
  // llama_tokenize throws a C++ exception on code points above U+10FFFF; Model::tokenize
  // must turn it into lmzip::Error (or succeed), never let it escape as anything else.
  for (const char* name : kVocabs) {
    auto m = vocab(name);
    const std::string s = "x\xF7\xBF\xBF\xBFy";
    try {
      m->tokenize(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    } catch (const Error& e) {
      CHECK(e.code() == "TOKENIZER_FAILED");
    }
  }
}

TEST(detokenize_rejects_bad_ids) {
  auto m = vocab("gpt-2");
  const llama_token bad[] = {0, -1};
  const llama_token big[] = {m->n_vocab()};
  bool threw = false;
  try {
    m->detokenize(bad, 2);
  } catch (const Error& e) {
    threw = e.code() == "INVALID_ARGUMENT";
  }
  CHECK(threw);
  threw = false;
  try {
    m->detokenize(big, 1);
  } catch (const Error& e) {
    threw = e.code() == "INVALID_ARGUMENT";
  }
  CHECK(threw);
}

namespace {
std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
std::string write_temp(const std::string& name, const std::string& bytes) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/lmzip-test-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  return path;
}
std::string load_error(const std::string& path, bool vocab_only = false) {
  try {
    ModelParams p;
    p.vocab_only = vocab_only;
    Model m(path, p);
    return "loaded";
  } catch (const Error& e) {
    std::printf("  %s -> %s: %s\n", path.c_str(), e.code().c_str(), e.what());
    return e.code();
  }
}
}  // namespace

TEST(bad_model_files) {
  const std::string good = read_file(shared_path("models/stories260K.gguf"));
  REQUIRE(good.size() > 1000);
  CHECK(load_error(shared_path("models/does-not-exist.gguf")) == "MODEL_LOAD_FAILED");
  CHECK(load_error(shared_path("models/stories260K-f32-ggufv1.gguf")) == "MODEL_LOAD_FAILED");
  std::vector<std::string> temps;
  auto bad = [&](const std::string& name, const std::string& bytes) {
    temps.push_back(write_temp(name, bytes));
    const std::string code = load_error(temps.back());
    CHECK(code == "MODEL_LOAD_FAILED");
  };
  bad("empty.gguf", "");
  bad("magic-only.gguf", "GGUF");
  bad("not-gguf.gguf", "this is not a model at all, just some text\n");
  bad("truncated-header.gguf", good.substr(0, 64));
  bad("truncated-half.gguf", good.substr(0, good.size() / 2));
  bad("truncated-1.gguf", good.substr(0, good.size() - 1));
  std::string version = good;
  version[4] = char(99);  // GGUF version 99
  bad("version99.gguf", version);
  std::string counts = good;
  for (int i = 8; i < 24; ++i) counts[size_t(i)] = char(0xFF);  // tensor and kv counts
  bad("huge-counts.gguf", counts);
  for (const auto& p : temps) std::remove(p.c_str());
}

TEST_MAIN()
