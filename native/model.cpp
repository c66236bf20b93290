#include "model.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "errors.h"
#include "model_guard.h"

namespace lmzip {

// ---- llama.cpp's log: its first error is kept per thread so a failed call can say why ---------------------
namespace {
thread_local std::string t_last_error;

void log_callback(ggml_log_level level, const char* text, void*) {
  static const bool verbose = std::getenv("LMZIP_LLAMA_LOG") != nullptr;
  if (verbose) std::fputs(text, stderr);
  if (level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) {
    std::string line(text);
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    // Keep the first error since the last take: later lines are usually consequences.
    if (!line.empty() && level == GGML_LOG_LEVEL_ERROR && t_last_error.empty()) t_last_error = line;
  }
}
}  // namespace

std::string take_last_llama_error() {
  std::string e = std::move(t_last_error);
  t_last_error.clear();
  return e;
}

void install_llama_logger() {
  static std::once_flag once;
  std::call_once(once, [] {
    llama_log_set(log_callback, nullptr);
    install_assertion_handler();
    llama_backend_init();
  });
}

namespace {
const char* vocab_type_name(enum llama_vocab_type t) {
  switch (t) {
    case LLAMA_VOCAB_TYPE_NONE: return "none";
    case LLAMA_VOCAB_TYPE_SPM: return "spm";
    case LLAMA_VOCAB_TYPE_BPE: return "bpe";
    case LLAMA_VOCAB_TYPE_WPM: return "wpm";
    case LLAMA_VOCAB_TYPE_UGM: return "ugm";
    case LLAMA_VOCAB_TYPE_RWKV: return "rwkv";
    default: return "other";
  }
}

std::string meta(const llama_model* m, const char* key) {
  char buf[512];
  const int n = llama_model_meta_val_str(m, key, buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, size_t(std::min<int>(n, sizeof buf - 1)));
}

// FNV-1a, 64-bit: identifies a vocabulary in error messages; not a security hash.
struct Fnv64 {
  uint64_t h = 1469598103934665603ull;
  void add(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
};

// Length of the valid UTF-8 sequence at data[i] (shortest form, no surrogates,
// at most U+10FFFF), or 0 if the byte there does not start one.
size_t utf8_sequence_length(const uint8_t* d, size_t n, size_t i) {
  const uint8_t c = d[i];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
  else return 0;
  if (i + len > n) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((d[i + k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d[i + k] & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  if (cp == 0x2581) return 0;  // SentencePiece's "▁" would come back as a space
  return len;
}
}  // namespace

Model::Model(const std::string& path, const ModelParams& params) {
  install_llama_logger();
  const ModelFile file(path);
  const GgufSummary gguf = check_gguf_metadata(file);
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = params.gpu_layers;
  // No offloaded layers means no GPU at all: without this, a CUDA build would still move
  // large-batch matrix products to the GPU (llama.cpp's op offload), and its CPU results
  // would differ from the CPU build's (docs/GPU.md).
  static ggml_backend_dev_t no_devices[] = {nullptr};
  if (params.gpu_layers == 0) mp.devices = no_devices;
  // One GPU per model (the first visible one): splitting lmzip's small models over several
  // GPUs only adds copies, and the numeric profile names one device.
  mp.split_mode = LLAMA_SPLIT_MODE_NONE;
  mp.main_gpu = 0;
  mp.vocab_only = params.vocab_only;
  mp.use_extra_bufts = false;  // weight repacking is ISA-specific; keep the layout plain
  // Called per tensor while loading: returning false stops the load (a signal must not wait for it).
  mp.progress_callback = [](float, void* cancel) {
    const auto* flag = static_cast<const std::atomic<int32_t>*>(cancel);
    return !(flag && flag->load(std::memory_order_relaxed) != 0);
  };
  mp.progress_callback_user_data = const_cast<std::atomic<int32_t>*>(params.cancel);
  take_last_llama_error();
  try {
    AssertionsThrow guard("MODEL_LOAD_FAILED");
    // The file checked above, not whatever the path names now (split models are found by name).
    model_ = llama_model_load_from_file((gguf.split ? file.path() : file.stable_path()).c_str(), mp);
  } catch (const std::exception& e) {
    throw Error("MODEL_LOAD_FAILED", std::string("llama.cpp could not load the model: ") + e.what());
  }
  if (params.cancel && params.cancel->load() != 0) {
    if (model_) llama_model_free(model_);
    throw Error("CANCELLED", "the model load was cancelled");
  }
  if (!model_) {
    std::string why = take_last_llama_error();
    throw Error("MODEL_LOAD_FAILED", "llama.cpp could not load the model" + (why.empty() ? std::string() : ": " + why));
  }
  try {
    AssertionsThrow guard("MODEL_LOAD_FAILED");
    read_vocabulary(params.vocab_only);
    facts_.vocab_only = params.vocab_only;
    facts_.uses_gpu = params.gpu_layers != 0 && llama_supports_gpu_offload();
  } catch (...) {
    llama_model_free(model_);
    model_ = nullptr;
    throw;
  }
}

void Model::read_vocabulary(bool vocab_only) {
  vocab_ = llama_model_get_vocab(model_);

  facts_.architecture = meta(model_, "general.architecture");
  facts_.name = meta(model_, "general.name");
  char desc[256];
  llama_model_desc(model_, desc, sizeof desc);
  facts_.description = desc;
  if (!vocab_only) {
    facts_.parameter_count = llama_model_n_params(model_);
    facts_.tensor_bytes = llama_model_size(model_);
    facts_.context_length = llama_model_n_ctx_train(model_);
    facts_.layer_count = llama_model_n_layer(model_);
    facts_.embedding_length = llama_model_n_embd(model_);
    // What llama_memory_can_shift() would say of a context, known without one: no
    // recurrent state, positions of one dimension (M-RoPE asserts in seq_add), and
    // not Step35's per-layer rotation; rope-less models are left out too, since
    // moving a learned absolute position is not what they were trained on.
    const llama_rope_type rope = llama_model_rope_type(model_);
    facts_.can_shift_context = (rope == LLAMA_ROPE_TYPE_NORM || rope == LLAMA_ROPE_TYPE_NEOX) &&
                               !llama_model_is_recurrent(model_) && !llama_model_is_hybrid(model_) &&
                               facts_.architecture != "step35";
  }
  facts_.vocab_size = llama_vocab_n_tokens(vocab_);
  facts_.vocab_type = vocab_type_name(llama_vocab_type(vocab_));
  const int n_meta = llama_model_meta_count(model_);
  for (int i = 0; i < n_meta; ++i) {
    char key[256];
    std::vector<char> val(4096);
    if (llama_model_meta_key_by_index(model_, i, key, sizeof key) < 0) continue;
    int n = llama_model_meta_val_str_by_index(model_, i, val.data(), val.size());
    if (n >= int(val.size())) {
      val.resize(size_t(n) + 1);
      n = llama_model_meta_val_str_by_index(model_, i, val.data(), val.size());
    }
    facts_.metadata.emplace_back(key, n < 0 ? std::string() : std::string(val.data(), size_t(n)));
  }

  // Each token's exact bytes, a token for every byte value, and the vocabulary's identity.
  const int n_vocab = facts_.vocab_size;
  pieces_.resize(size_t(n_vocab));
  byte_token_.fill(-1);
  Fnv64 fp;
  const int32_t type = llama_vocab_type(vocab_);
  fp.add(&type, sizeof type);
  fp.add(&n_vocab, sizeof n_vocab);
  for (llama_token t = 0; t < n_vocab; ++t) {
    char buf[256];
    int n = llama_token_to_piece(vocab_, t, buf, sizeof buf, 0, false);
    std::string piece;
    if (n < 0) {
      piece.resize(size_t(-n));
      n = llama_token_to_piece(vocab_, t, piece.data(), int32_t(piece.size()), 0, false);
      piece.resize(size_t(std::max(n, 0)));
    } else {
      piece.assign(buf, size_t(n));
    }
    const auto attr = llama_vocab_get_attr(vocab_, t);
    if (piece.size() == 1) {
      const uint8_t b = uint8_t(piece[0]);
      if (byte_token_[b] < 0 || (attr & LLAMA_TOKEN_ATTR_BYTE)) byte_token_[b] = t;
    }
    const char* text = llama_vocab_get_text(vocab_, t);
    fp.add(text, std::strlen(text) + 1);
    fp.add(&attr, sizeof attr);
    fp.add(piece.data(), piece.size());
    pieces_[size_t(t)] = std::move(piece);
  }
  tokenizer_fingerprint_ = fp.h;

  // The token each lane starts from: BOS, else EOS, else token 0.
  start_token_ = llama_vocab_bos(vocab_);
  if (start_token_ == LLAMA_TOKEN_NULL) start_token_ = llama_vocab_eos(vocab_);
  if (start_token_ == LLAMA_TOKEN_NULL || start_token_ < 0 || start_token_ >= n_vocab) start_token_ = 0;
}

Model::~Model() {
  if (model_) llama_model_free(model_);
}

std::vector<llama_token> Model::tokenize(const uint8_t* data, size_t size) const {
  if (size > size_t(INT32_MAX) / 2) throw Error("INPUT_TOO_LARGE", "text is too long to tokenize in one piece");
  std::vector<llama_token> tokens(size + 16);
  const char* text = reinterpret_cast<const char*>(data);
  try {
    int32_t n = llama_tokenize(vocab_, text, int32_t(size), tokens.data(), int32_t(tokens.size()), false, false);
    if (n < 0) {
      tokens.resize(size_t(-n));
      n = llama_tokenize(vocab_, text, int32_t(size), tokens.data(), int32_t(tokens.size()), false, false);
    }
    if (n < 0) throw Error("TOKENIZER_FAILED", "the tokenizer failed on this input");
    tokens.resize(size_t(n));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("TOKENIZER_FAILED", std::string("the tokenizer rejected this input: ") + e.what());
  }
  return tokens;
}

std::string Model::detokenize(const llama_token* tokens, size_t n) const {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= n_vocab())
      throw Error("INVALID_ARGUMENT", "token id " + std::to_string(tokens[i]) + " is outside the vocabulary");
    out += pieces_[size_t(tokens[i])];
  }
  return out;
}

bool Model::concat_equals(const std::vector<llama_token>& tokens, const uint8_t* data, size_t size,
                          bool strip_leading_space) const {
  size_t pos = 0;
  bool first = true;
  for (llama_token t : tokens) {
    const std::string& p = pieces_[size_t(t)];
    if (p.empty()) return false;  // a token that stands for no bytes cannot be decoded back
    size_t offset = 0;
    if (first && strip_leading_space) {
      if (p[0] != ' ') return false;
      offset = 1;
    }
    first = false;
    const size_t len = p.size() - offset;
    if (pos + len > size || std::memcmp(p.data() + offset, data + pos, len) != 0) return false;
    pos += len;
  }
  return pos == size && !(strip_leading_space && tokens.empty());
}

bool Model::pieces_match(const std::vector<llama_token>& tokens, const uint8_t* data, size_t size,
                         bool allow_leading_space, bool* stripped) const {
  // SentencePiece vocabularies prefix the text with a space: allow dropping it.
  if (concat_equals(tokens, data, size, false)) return *stripped = false, true;
  if (allow_leading_space && concat_equals(tokens, data, size, true)) return *stripped = true, true;
  return false;
}

// The compressor's tokenization of one chunk, exact by construction:
//  1. llama_tokenize the whole chunk; keep it if the pieces give the bytes back.
//  2. Otherwise split the chunk into runs of valid UTF-8 and other bytes; tokenize
//     each text run on its own and keep it if it comes back exactly; every other
//     byte becomes the vocabulary's single-byte token.
//  3. If some byte has no single-byte token, there is no plan (ok = false).
TokenPlan Model::plan_tokens(const uint8_t* data, size_t size) const {
  TokenPlan plan;
  if (size == 0) {
    plan.ok = true;
    return plan;
  }
  try {
    plan.tokens = tokenize(data, size);
    if (pieces_match(plan.tokens, data, size, true, &plan.strip_leading_space)) {
      plan.ok = true;
      return plan;
    }
  } catch (const Error&) {
    // fall through to the segmented plan
  }
  plan.tokens.clear();
  plan.strip_leading_space = false;
  size_t i = 0;
  while (i < size) {
    size_t j = i;
    while (j < size) {
      const size_t len = utf8_sequence_length(data, size, j);
      if (len == 0) break;
      j += len;
    }
    if (j > i) {  // a text run [i, j)
      bool stripped = false;
      bool used = false;
      try {
        std::vector<llama_token> run = tokenize(data + i, j - i);
        if (pieces_match(run, data + i, j - i, i == 0, &stripped)) {
          plan.tokens.insert(plan.tokens.end(), run.begin(), run.end());
          plan.strip_leading_space = plan.strip_leading_space || stripped;
          used = true;
        }
      } catch (const Error&) {
      }
      if (!used) {
        for (size_t k = i; k < j; ++k) {
          if (byte_token_[data[k]] < 0) return TokenPlan{};
          plan.tokens.push_back(byte_token_[data[k]]);
        }
        plan.byte_coded += uint32_t(j - i);
      }
      i = j;
    } else {  // one byte that starts no valid sequence
      if (byte_token_[data[i]] < 0) return TokenPlan{};
      plan.tokens.push_back(byte_token_[data[i]]);
      plan.byte_coded += 1;
      ++i;
    }
  }
  plan.ok = concat_equals(plan.tokens, data, size, plan.strip_leading_space);
  if (!plan.ok) return TokenPlan{};
  return plan;
}

}  // namespace lmzip
