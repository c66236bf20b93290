#include "model_guard.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#ifndef _WIN32
#include <unistd.h>
#else
#include <io.h>
#endif

#include "errors.h"
#include "ggml.h"
#include "gguf.h"

namespace lmzip {

// ---- Opening the file --------------------------------------------------------------------------
namespace {
#ifdef _WIN32
constexpr int kOpenFlags = O_RDONLY | O_BINARY;
#else
constexpr int kOpenFlags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
#endif

bool have_proc_fd() {
#ifdef __linux__
  static const bool yes = [] {
    struct stat st;
    return ::stat("/proc/self/fd", &st) == 0 && S_ISDIR(st.st_mode);
  }();
  return yes;
#else
  return false;
#endif
}
}  // namespace

ModelFile::ModelFile(const std::string& path) : path_(path) {
  // Non-blocking: opening a FIFO for reading would otherwise wait for a writer forever.
  fd_ = ::open(path.c_str(), kOpenFlags);
  if (fd_ < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) throw Error("MODEL_LOAD_FAILED", "model file not found: " + path);
    throw Error("MODEL_LOAD_FAILED", "cannot open model file " + path + ": " + std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    throw Error("MODEL_LOAD_FAILED", "cannot read model file " + path + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    if (S_ISDIR(st.st_mode)) throw Error("MODEL_LOAD_FAILED", "model path is a directory, not a GGUF file: " + path);
    throw Error("MODEL_LOAD_FAILED", "model path is not a regular file (a FIFO, device or socket): " + path);
  }
  size_ = uint64_t(st.st_size);
}

ModelFile::~ModelFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string ModelFile::stable_path() const {
  return have_proc_fd() ? "/proc/self/fd/" + std::to_string(fd_) : path_;
}

// ---- Reading metadata values of any width ------------------------------------------------------
namespace {

class Metadata {
 public:
  explicit Metadata(const gguf_context* g) : g_(g) {}

  std::optional<int64_t> id(const std::string& key) const {
    const int64_t i = gguf_find_key(g_, key.c_str());
    return i < 0 ? std::nullopt : std::optional<int64_t>(i);
  }

  // Every integer of a scalar or an array value (bools count as 0/1); nullopt for other types.
  std::optional<std::vector<int64_t>> integers(const std::string& key) const {
    const auto i = id(key);
    if (!i) return std::nullopt;
    const gguf_type type = gguf_get_kv_type(g_, *i);
    if (type != GGUF_TYPE_ARRAY) {
      if (!is_integer(type)) return std::nullopt;
      const auto v = scalar_int(type, gguf_get_val_data(g_, *i));
      if (!v) return std::nullopt;
      return std::vector<int64_t>{*v};
    }
    const gguf_type item = gguf_get_arr_type(g_, *i);
    if (!is_integer(item)) return std::nullopt;
    const size_t n = gguf_get_arr_n(g_, *i);
    const auto* data = static_cast<const uint8_t*>(gguf_get_arr_data(g_, *i));
    std::vector<int64_t> out;
    out.reserve(n);
    for (size_t k = 0; k < n; ++k) {
      const auto v = scalar_int(item, data + k * scalar_size(item));
      if (!v) return std::nullopt;
      out.push_back(*v);
    }
    return out;
  }

  std::optional<int64_t> integer(const std::string& key) const {
    const auto i = id(key);
    if (!i || !is_integer(gguf_get_kv_type(g_, *i))) return std::nullopt;
    return scalar_int(gguf_get_kv_type(g_, *i), gguf_get_val_data(g_, *i));
  }

  std::optional<std::string> string(const std::string& key) const {
    const auto i = id(key);
    if (!i || gguf_get_kv_type(g_, *i) != GGUF_TYPE_STRING) return std::nullopt;
    return std::string(gguf_get_val_str(g_, *i));
  }

  // The floats of a scalar or array value of type f32/f64; empty for other types.
  std::vector<double> floats(int64_t i) const {
    const gguf_type type = gguf_get_kv_type(g_, i);
    if (type == GGUF_TYPE_FLOAT32) return {double(gguf_get_val_f32(g_, i))};
    if (type == GGUF_TYPE_FLOAT64) return {gguf_get_val_f64(g_, i)};
    if (type != GGUF_TYPE_ARRAY) return {};
    const gguf_type item = gguf_get_arr_type(g_, i);
    if (item != GGUF_TYPE_FLOAT32 && item != GGUF_TYPE_FLOAT64) return {};
    const size_t n = gguf_get_arr_n(g_, i);
    const void* data = gguf_get_arr_data(g_, i);
    std::vector<double> out(n);
    for (size_t k = 0; k < n; ++k) {
      out[k] = item == GGUF_TYPE_FLOAT32 ? double(static_cast<const float*>(data)[k]) : static_cast<const double*>(data)[k];
    }
    return out;
  }

  const gguf_context* raw() const { return g_; }

 private:
  // gguf_get_val_data asserts on strings: only integer types are read as integers.
  static bool is_integer(gguf_type type) {
    return type != GGUF_TYPE_STRING && type != GGUF_TYPE_ARRAY && type != GGUF_TYPE_FLOAT32 && type != GGUF_TYPE_FLOAT64;
  }

  static size_t scalar_size(gguf_type type) {
    switch (type) {
      case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
      case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
      case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
      default: return 8;
    }
  }

  static std::optional<int64_t> scalar_int(gguf_type type, const void* p) {
    switch (type) {
      case GGUF_TYPE_UINT8: return *static_cast<const uint8_t*>(p);
      case GGUF_TYPE_INT8: return *static_cast<const int8_t*>(p);
      case GGUF_TYPE_UINT16: return *static_cast<const uint16_t*>(p);
      case GGUF_TYPE_INT16: return *static_cast<const int16_t*>(p);
      case GGUF_TYPE_UINT32: return *static_cast<const uint32_t*>(p);
      case GGUF_TYPE_INT32: return *static_cast<const int32_t*>(p);
      case GGUF_TYPE_BOOL: return *static_cast<const int8_t*>(p) != 0;
      case GGUF_TYPE_UINT64: {
        const uint64_t v = *static_cast<const uint64_t*>(p);
        return v > uint64_t(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max() : int64_t(v);
      }
      case GGUF_TYPE_INT64: return *static_cast<const int64_t*>(p);
      default: return std::nullopt;
    }
  }

  const gguf_context* g_;
};

[[noreturn]] void refuse(const std::string& key, const std::string& why) {
  throw Error("MODEL_LOAD_FAILED", "unsafe model metadata: " + key + " " + why +
                                       "; llama.cpp would abort the process on it, so the file is refused");
}

std::string show(const std::vector<int64_t>& values) {
  if (values.size() == 1) return std::to_string(values[0]);
  std::string s = "[";
  for (size_t i = 0; i < values.size() && i < 8; ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return s + (values.size() > 8 ? ", …]" : "]");
}

int64_t max_of(const std::vector<int64_t>& v) {
  int64_t m = std::numeric_limits<int64_t>::min();
  for (int64_t x : v) m = std::max(m, x);
  return v.empty() ? 0 : m;
}

// The limits llama.cpp asserts (src/llama-hparams.h, ggml-backend).
constexpr int64_t kMaxLayers = 512;     // LLAMA_MAX_LAYERS
constexpr int64_t kMaxExperts = 1024;   // LLAMA_MAX_EXPERTS
constexpr uint64_t kTensorAlignment = 32;  // TENSOR_ALIGNMENT

void check_layers_and_experts(const Metadata& m, const std::string& arch) {
  const std::string layers_key = arch + ".block_count";
  const auto layers = m.integer(layers_key);
  if (layers && (*layers < 1 || *layers > kMaxLayers))
    refuse(layers_key, "= " + std::to_string(*layers) + " (llama.cpp supports 1 to " + std::to_string(kMaxLayers) + " layers)");
  const int64_t n_layer = layers.value_or(kMaxLayers);

  const std::string nextn_key = arch + ".nextn_predict_layers";
  if (const auto nextn = m.integer(nextn_key); nextn && (*nextn < 0 || *nextn > n_layer))
    refuse(nextn_key, "= " + std::to_string(*nextn) + " (more than the " + std::to_string(n_layer) + " layers)");

  const std::string count_key = arch + ".expert_count", used_key = arch + ".expert_used_count";
  const std::string groups_key = arch + ".expert_group_count", group_used_key = arch + ".expert_group_used_count";
  const int64_t experts = m.integer(count_key).value_or(0);
  const auto used = m.integers(used_key);
  const int64_t used_max = used ? max_of(*used) : 0;
  const int64_t groups = m.integer(groups_key).value_or(0);
  const int64_t group_used = m.integer(group_used_key).value_or(0);
  if (experts < 0 || experts > kMaxExperts)
    refuse(count_key, "= " + std::to_string(experts) + " (llama.cpp supports at most " + std::to_string(kMaxExperts) + " experts)");
  if (used && !used->empty() && (used_max > experts || *std::min_element(used->begin(), used->end()) < 0))
    refuse(used_key, "= " + show(*used) + " with " + std::to_string(experts) + " experts (" + count_key + ")");
  if (experts > 0) {
    if (used_max <= 0) refuse(used_key, "is missing or 0 for a model with " + std::to_string(experts) + " experts");
    if (groups < 0 || groups >= experts)
      refuse(groups_key, "= " + std::to_string(groups) + " is not below the " + std::to_string(experts) + " experts");
    if (groups > 1 && experts % groups != 0)
      refuse(groups_key, "= " + std::to_string(groups) + " does not divide the " + std::to_string(experts) + " experts");
    if (groups > 1 && (group_used <= 0 || group_used >= groups))
      refuse(group_used_key, "= " + std::to_string(group_used) + " must be from 1 to " + std::to_string(groups - 1));
  } else if (groups != 0) {
    refuse(groups_key, "= " + std::to_string(groups) + " for a model without experts");
  }
}

// Every float hyperparameter must be finite; epsilons also not negative (ggml asserts eps >= 0).
void check_floats(const Metadata& m, const std::string& arch) {
  const gguf_context* g = m.raw();
  const std::string prefix = arch + ".";
  for (int64_t i = 0; i < gguf_get_n_kv(g); ++i) {
    const std::string key = gguf_get_key(g, i);
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const bool epsilon = key.find("epsilon") != std::string::npos || key.size() >= 4 && key.compare(key.size() - 4, 4, "_eps") == 0;
    for (double v : m.floats(i)) {
      if (!std::isfinite(v)) refuse(key, "= " + std::to_string(v) + " is not a finite number");
      if (epsilon && v < 0) refuse(key, "= " + std::to_string(v) + " is negative");
    }
  }
  const std::string scaling_key = arch + ".rope.scaling.type";
  if (const auto scaling = m.string(scaling_key)) {
    static const std::set<std::string> known = {"none", "linear", "yarn", "longrope"};
    if (!known.count(*scaling)) refuse(scaling_key, "= \"" + *scaling + "\" is not a RoPE scaling type llama.cpp knows");
  }
}

// Token texts must be unique (llama.cpp asserts it), and byte tokens need a tokenizer
// that can spell them.
void check_vocabulary(const Metadata& m) {
  const gguf_context* g = m.raw();
  const auto tokens_id = m.id("tokenizer.ggml.tokens");
  if (!tokens_id || gguf_get_kv_type(g, *tokens_id) != GGUF_TYPE_ARRAY ||
      gguf_get_arr_type(g, *tokens_id) != GGUF_TYPE_STRING)
    return;  // llama.cpp reports a missing or mistyped vocabulary itself
  const size_t n = gguf_get_arr_n(g, *tokens_id);
  std::unordered_map<std::string_view, size_t> seen;
  seen.reserve(n);
  for (size_t t = 0; t < n; ++t) {
    const std::string_view text = gguf_get_arr_str(g, *tokens_id, t);
    const auto [it, inserted] = seen.emplace(text, t);
    if (!inserted)
      refuse("tokenizer.ggml.tokens", "has the same text for tokens " + std::to_string(it->second) + " and " + std::to_string(t));
  }
  // A WordPiece ("bert") vocabulary has no way to spell a byte token: llama.cpp aborts
  // when asked for its piece.
  if (m.string("tokenizer.ggml.model").value_or("") != "bert") return;
  if (const auto types = m.integers("tokenizer.ggml.token_type")) {
    constexpr int64_t kByteToken = 6;  // LLAMA_TOKEN_TYPE_BYTE
    for (size_t t = 0; t < types->size(); ++t) {
      if ((*types)[t] == kByteToken)
        refuse("tokenizer.ggml.token_type", "marks token " + std::to_string(t) +
                                               " as a byte token, which a \"bert\" (WordPiece) tokenizer cannot have");
    }
  }
}

}  // namespace

GgufSummary check_gguf_metadata(const ModelFile& file) {
  char magic[4] = {};
#ifndef _WIN32
  const ssize_t got = ::pread(file.fd(), magic, sizeof magic, 0);
#else
  const int got = (_lseek(file.fd(), 0, SEEK_SET), _read(file.fd(), magic, sizeof magic));
#endif
  if (got == 0) throw Error("MODEL_LOAD_FAILED", "model file is empty: " + file.path());
  if (got != 4 || std::memcmp(magic, "GGUF", 4) != 0)
    throw Error("MODEL_LOAD_FAILED", "not a GGUF model file (no GGUF magic): " + file.path());

  // ggml's reader, on a duplicate of our descriptor: the metadata and tensor list, no data.
  const int dup_fd = ::dup(file.fd());
  FILE* f = dup_fd < 0 ? nullptr : ::fdopen(dup_fd, "rb");
  if (!f) {
    if (dup_fd >= 0) ::close(dup_fd);
    throw Error("MODEL_LOAD_FAILED", "cannot read model file " + file.path() + ": " + std::strerror(errno));
  }
  take_last_llama_error();
  gguf_context* g = nullptr;
  {
    AssertionsThrow guard("MODEL_LOAD_FAILED");
    std::fseek(f, 0, SEEK_SET);
    g = gguf_init_from_file_ptr(f, gguf_init_params{/*no_alloc =*/true, /*ctx =*/nullptr});
  }
  std::fclose(f);
  if (!g) {
    const std::string why = take_last_llama_error();
    throw Error("MODEL_LOAD_FAILED", "not a readable GGUF file" + (why.empty() ? std::string() : ": " + why));
  }
  struct Free {
    gguf_context* g;
    ~Free() { gguf_free(g); }
  } free_g{g};

  AssertionsThrow guard("MODEL_LOAD_FAILED");  // a mistake here must not abort either
  const Metadata m(g);
  if (m.id("general.alignment") && gguf_get_alignment(g) % kTensorAlignment != 0)
    refuse("general.alignment", "= " + std::to_string(gguf_get_alignment(g)) + " (tensor data must be aligned to a multiple of " +
                                    std::to_string(kTensorAlignment) + " bytes)");
  if (const auto arch = m.string("general.architecture")) {
    check_layers_and_experts(m, *arch);
    check_floats(m, *arch);
  }
  check_vocabulary(m);
  GgufSummary summary;
  summary.split = m.integer("split.count").value_or(1) > 1;
  return summary;
}

// ---- Assertions as exceptions ------------------------------------------------------------------
namespace {
thread_local const char* t_assertion_code = nullptr;

void on_ggml_abort(const char* message) {
  if (t_assertion_code) {
    const char* code = t_assertion_code;
    t_assertion_code = nullptr;  // an assertion while unwinding must abort, not throw again
    throw Error(code, std::string("llama.cpp refused this model (") + message + ")");
  }
  std::fprintf(stderr, "%s\n", message);  // ggml's own handler prints this, then aborts
}
}  // namespace

AssertionsThrow::AssertionsThrow(const char* code) : previous_(t_assertion_code) {
  install_assertion_handler();
  t_assertion_code = code;
}

AssertionsThrow::~AssertionsThrow() { t_assertion_code = previous_; }

void install_assertion_handler() {
  static const bool installed = (ggml_set_abort_callback(on_ggml_abort), true);
  (void)installed;
}

}  // namespace lmzip
