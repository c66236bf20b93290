// A loaded GGUF model: llama.cpp's model plus what the compressor precomputes about
// its vocabulary (each token's exact bytes, a token for each byte value).
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "llama.h"

namespace lmzip {

struct ModelParams {
  int gpu_layers = 0;
  bool vocab_only = false;
  // Set to non-zero to stop a load early (it then throws Error(CANCELLED)); may be null.
  const std::atomic<int32_t>* cancel = nullptr;
};

struct ModelFacts {
  std::string architecture, name, description;
  uint64_t parameter_count = 0, tensor_bytes = 0;
  int32_t vocab_size = 0, context_length = 0, layer_count = 0, embedding_length = 0;
  std::string vocab_type;
  bool vocab_only = false;
  bool uses_gpu = false;
  // The KV cache can move a sequence's positions (llama.cpp's K-shift): a plain
  // transformer with one RoPE over 1-D positions (docs/FORMAT.md, SHIFT_CONTEXT).
  bool can_shift_context = false;
  std::vector<std::pair<std::string, std::string>> metadata;
};

// Tokens for one chunk whose pieces concatenate to the chunk's bytes exactly
// (after dropping one leading space when strip_leading_space is set).
struct TokenPlan {
  bool ok = false;  // false: no exact token sequence could be made
  bool strip_leading_space = false;
  uint32_t byte_coded = 0;  // bytes represented by single-byte fallback tokens
  std::vector<llama_token> tokens;
};

class Model {
 public:
  // Checks the file first (native/model_guard.h): a hostile GGUF throws, never aborts.
  Model(const std::string& path, const ModelParams& params);  // throws lmzip::Error
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  llama_model* llama() const { return model_; }
  const llama_vocab* vocab() const { return vocab_; }
  const ModelFacts& facts() const { return facts_; }
  int n_vocab() const { return facts_.vocab_size; }
  llama_token start_token() const { return start_token_; }
  const std::string& piece(llama_token t) const { return pieces_[size_t(t)]; }
  uint64_t tokenizer_fingerprint() const { return tokenizer_fingerprint_; }

  // llama_tokenize without special tokens; throws lmzip::Error(TOKENIZER_FAILED).
  std::vector<llama_token> tokenize(const uint8_t* data, size_t size) const;
  // Concatenated pieces: the exact bytes a token sequence stands for.
  std::string detokenize(const llama_token* tokens, size_t n) const;
  // The compressor's tokenization: exact by construction, with fallbacks (see model.cpp).
  TokenPlan plan_tokens(const uint8_t* data, size_t size) const;

 private:
  void read_vocabulary(bool vocab_only);  // facts, pieces, byte tokens, fingerprint
  bool concat_equals(const std::vector<llama_token>& tokens, const uint8_t* data, size_t size,
                     bool strip_leading_space) const;
  bool pieces_match(const std::vector<llama_token>& tokens, const uint8_t* data, size_t size,
                    bool allow_leading_space, bool* stripped) const;
  llama_model* model_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
  ModelFacts facts_;
  std::vector<std::string> pieces_;
  std::array<llama_token, 256> byte_token_{};
  llama_token start_token_ = 0;
  uint64_t tokenizer_fingerprint_ = 0;
};

}  // namespace lmzip
