// Fuzz target (b): Model::plan_tokens on arbitrary bytes with the vocab-only
// tokenizers (llama-spm, gpt-2, qwen2, llama-bpe; the first input byte picks one).
// The plan must be exact (pieces concatenate to the input) or ok=false; any other
// exception than lmzip::Error escaping is a crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common.h"
#include "errors.h"
#include "model.h"

namespace {
const char* kVocabs[] = {"llama-spm", "gpt-2", "qwen2", "llama-bpe"};
std::unique_ptr<lmzip::Model> g_models[4];

lmzip::Model& model(size_t i) {
  if (!g_models[i]) {
    lmzip::ModelParams p;
    p.vocab_only = true;
    g_models[i] = std::make_unique<lmzip::Model>(
        lmzip_test::repo_path(std::string("vendor/llama.cpp/models/ggml-vocab-") + kVocabs[i] + ".gguf"), p);
  }
  return *g_models[i];
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 4096) return 0;
  const char* only = std::getenv("LMZIP_FUZZ_VOCAB");  // pin one vocabulary: 0..3
  const size_t which = only ? size_t(std::atoi(only)) % 4 : data[0] % 4;
  lmzip::Model& m = model(which);
  const lmzip::TokenPlan plan = m.plan_tokens(data + 1, size - 1);
  std::string why;
  if (!lmzip_test::plan_is_exact(m, plan, data + 1, size - 1, &why)) {
    std::fprintf(stderr, "inexact plan from %s: %s\n", kVocabs[which], why.c_str());
    abort();
  }
  // All four vocabularies have every byte value as a token: a plan must always exist.
  if (!plan.ok) {
    std::fprintf(stderr, "no plan from %s\n", kVocabs[which]);
    abort();
  }
  return 0;
}
