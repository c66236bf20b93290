// N-API surface of lmzip (declared for TypeScript in src/native.ts).
//
// Every blocking call runs on a worker thread and returns a Promise. Errors carry a
// stable `code` (src/errors.ts). Inputs are validated in TypeScript; this file keeps
// only cheap guards. Per-token work never crosses into JavaScript: progress is sent
// at most ten times a second and cancellation is a flag in an Int32Array that the
// native loop polls.
#include <napi.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "analyze.h"
#include "coding.h"
#include "engine.h"
#include "errors.h"
#include "gpu_info.h"
#include "mix_predictor.h"
#include "model.h"

#ifndef LMZIP_ISA
#define LMZIP_ISA "unknown"
#endif
#ifndef LMZIP_LLAMA_COMMIT
#define LMZIP_LLAMA_COMMIT "unknown"
#endif

namespace {

using lmzip::Error;

Napi::Error coded_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Value().Set("code", code);
  return e;
}

struct Progress {
  uint64_t done = 0, total = 0;
};

// A worker whose result settles a Promise, with optional progress callbacks.
class PromiseWorker : public Napi::AsyncProgressWorker<Progress> {
 public:
  PromiseWorker(Napi::Env env, Napi::Value on_progress, Napi::Value cancel)
      : Napi::AsyncProgressWorker<Progress>(env), deferred_(Napi::Promise::Deferred::New(env)) {
    if (on_progress.IsFunction()) on_progress_ = Napi::Persistent(on_progress.As<Napi::Function>());
    if (cancel.IsTypedArray() && cancel.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
      auto flag = cancel.As<Napi::Int32Array>();
      if (flag.ElementLength() >= 1) {
        cancel_ref_ = Napi::Persistent(flag.As<Napi::Object>());
        cancel_ = reinterpret_cast<const std::atomic<int32_t>*>(flag.Data());
      }
    }
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  virtual void Run(const ExecutionProgress& progress) = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

  lmzip::ProgressFn progress_fn(const ExecutionProgress& progress) {
    if (on_progress_.IsEmpty()) return {};
    return [&progress](uint64_t done, uint64_t total) {
      Progress p{done, total};
      progress.Send(&p, 1);
    };
  }
  const std::atomic<int32_t>* cancel_ = nullptr;

 private:
  void Execute(const ExecutionProgress& progress) override {
    try {
      Run(progress);
    } catch (const Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = "OUT_OF_MEMORY";
      SetError("out of memory");
    } catch (const std::exception& e) {
      code_ = "NATIVE_ERROR";
      SetError(e.what());
    } catch (...) {
      code_ = "NATIVE_ERROR";
      SetError("unknown native error");
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    Napi::Object err = e.Value();
    err.Set("code", code_.empty() ? std::string("NATIVE_ERROR") : code_);
    deferred_.Reject(err);
  }
  void OnProgress(const Progress* data, size_t count) override {
    if (on_progress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      on_progress_.Call({Napi::Number::New(env, double(data[count - 1].done)),
                         Napi::Number::New(env, double(data[count - 1].total))});
    } catch (const Napi::Error&) {
      // a throwing progress callback must not break the job
    }
  }

  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_progress_;
  Napi::ObjectReference cancel_ref_;
  std::string code_;
};

// Starts a worker and hands its Promise to JavaScript.
template <typename Worker, typename... Args>
Napi::Value queue(Args&&... args) {
  auto* worker = new Worker(std::forward<Args>(args)...);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

std::vector<uint8_t> copy_bytes(const Napi::Value& v) {
  auto a = v.As<Napi::Uint8Array>();
  return std::vector<uint8_t>(a.Data(), a.Data() + a.ByteLength());
}

Napi::Uint8Array to_uint8(Napi::Env env, const void* data, size_t size) {
  auto buf = Napi::Uint8Array::New(env, size);
  if (size) std::memcpy(buf.Data(), data, size);
  return buf;
}

// Decoded chunks as an array of Uint8Arrays.
Napi::Array to_uint8_array(Napi::Env env, const std::vector<std::string>& chunks) {
  auto out = Napi::Array::New(env, chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) out.Set(uint32_t(i), to_uint8(env, chunks[i].data(), chunks[i].size()));
  return out;
}

// ---- Model --------------------------------------------------------------------------
class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::FunctionReference constructor;
  static Napi::Function Init(Napi::Env env) {
    Napi::Function f = DefineClass(env, "NativeModel",
                                   {InstanceMethod("facts", &NativeModel::Facts),
                                    InstanceMethod("tokenize", &NativeModel::Tokenize),
                                    InstanceMethod("detokenize", &NativeModel::Detokenize),
                                    InstanceMethod("planTokens", &NativeModel::PlanTokens),
                                    InstanceMethod("createSession", &NativeModel::CreateSession),
                                    InstanceMethod("estimateSessionMemory", &NativeModel::EstimateSessionMemory),
                                    InstanceMethod("dispose", &NativeModel::Dispose)});
    constructor = Napi::Persistent(f);
    return f;
  }
  explicit NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {}
  std::shared_ptr<lmzip::Model> model;

  std::shared_ptr<lmzip::Model> get(Napi::Env env) {
    if (!model) throw coded_error(env, "MODEL_DISPOSED", "this model has been disposed");
    return model;
  }

 private:
  Napi::Value Facts(const Napi::CallbackInfo& info);
  Napi::Value Tokenize(const Napi::CallbackInfo& info);
  Napi::Value Detokenize(const Napi::CallbackInfo& info);
  Napi::Value PlanTokens(const Napi::CallbackInfo& info);
  Napi::Value CreateSession(const Napi::CallbackInfo& info);
  Napi::Value EstimateSessionMemory(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model.reset();
    return info.Env().Undefined();
  }
};
Napi::FunctionReference NativeModel::constructor;

class LoadModelWorker : public PromiseWorker {
 public:
  LoadModelWorker(Napi::Env env, std::string path, lmzip::ModelParams params, Napi::Value cancel)
      : PromiseWorker(env, env.Undefined(), cancel), path_(std::move(path)), params_(params) {}

 protected:
  void Run(const ExecutionProgress&) override {
    params_.cancel = cancel_;
    model_ = std::make_shared<lmzip::Model>(path_, params_);
  }
  Napi::Value Result(Napi::Env) override {
    Napi::Object obj = NativeModel::constructor.New({});
    NativeModel::Unwrap(obj)->model = std::move(model_);
    return obj;
  }

 private:
  std::string path_;
  lmzip::ModelParams params_;
  std::shared_ptr<lmzip::Model> model_;
};

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  lmzip::ModelParams params;
  Napi::Object opts = info[1].As<Napi::Object>();
  params.gpu_layers = opts.Get("gpuLayers").As<Napi::Number>().Int32Value();
  params.vocab_only = opts.Get("vocabOnly").As<Napi::Boolean>().Value();
  return queue<LoadModelWorker>(env, info[0].As<Napi::String>().Utf8Value(), params, info[2]);
}

Napi::Value NativeModel::Facts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto m = get(env);
  const auto& f = m->facts();
  Napi::Object o = Napi::Object::New(env);
  o.Set("architecture", f.architecture);
  o.Set("name", f.name);
  o.Set("description", f.description);
  o.Set("parameterCount", double(f.parameter_count));
  o.Set("tensorBytes", double(f.tensor_bytes));
  o.Set("vocabSize", f.vocab_size);
  o.Set("vocabType", f.vocab_type);
  o.Set("contextLength", f.context_length);
  o.Set("layerCount", f.layer_count);
  o.Set("embeddingLength", f.embedding_length);
  o.Set("vocabOnly", f.vocab_only);
  o.Set("usesGpu", f.uses_gpu);
  o.Set("canShiftContext", f.can_shift_context);
  o.Set("startToken", m->start_token());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(m->tokenizer_fingerprint()));
  o.Set("tokenizerFingerprint", std::string(hex));
  Napi::Object meta = Napi::Object::New(env);
  for (const auto& [k, v] : f.metadata) meta.Set(k, v);
  o.Set("metadata", meta);
  return o;
}

class TokenizeWorker : public PromiseWorker {
 public:
  TokenizeWorker(Napi::Env env, std::shared_ptr<lmzip::Model> m, std::vector<uint8_t> bytes)
      : PromiseWorker(env, env.Undefined(), env.Undefined()), model_(std::move(m)), bytes_(std::move(bytes)) {}

 protected:
  void Run(const ExecutionProgress&) override { tokens_ = model_->tokenize(bytes_.data(), bytes_.size()); }
  Napi::Value Result(Napi::Env env) override {
    auto a = Napi::Int32Array::New(env, tokens_.size());
    std::copy(tokens_.begin(), tokens_.end(), a.Data());
    return a;
  }

 private:
  std::shared_ptr<lmzip::Model> model_;
  std::vector<uint8_t> bytes_;
  std::vector<llama_token> tokens_;
};

Napi::Value NativeModel::Tokenize(const Napi::CallbackInfo& info) {
  return queue<TokenizeWorker>(info.Env(), get(info.Env()), copy_bytes(info[0]));
}

class DetokenizeWorker : public PromiseWorker {
 public:
  DetokenizeWorker(Napi::Env env, std::shared_ptr<lmzip::Model> m, std::vector<llama_token> tokens)
      : PromiseWorker(env, env.Undefined(), env.Undefined()), model_(std::move(m)), tokens_(std::move(tokens)) {}

 protected:
  void Run(const ExecutionProgress&) override { bytes_ = model_->detokenize(tokens_.data(), tokens_.size()); }
  Napi::Value Result(Napi::Env env) override { return to_uint8(env, bytes_.data(), bytes_.size()); }

 private:
  std::shared_ptr<lmzip::Model> model_;
  std::vector<llama_token> tokens_;
  std::string bytes_;
};

Napi::Value NativeModel::Detokenize(const Napi::CallbackInfo& info) {
  auto a = info[0].As<Napi::Int32Array>();
  return queue<DetokenizeWorker>(info.Env(), get(info.Env()),
                                 std::vector<llama_token>(a.Data(), a.Data() + a.ElementLength()));
}

class PlanWorker : public PromiseWorker {
 public:
  PlanWorker(Napi::Env env, std::shared_ptr<lmzip::Model> m, std::vector<uint8_t> bytes)
      : PromiseWorker(env, env.Undefined(), env.Undefined()), model_(std::move(m)), bytes_(std::move(bytes)) {}

 protected:
  void Run(const ExecutionProgress&) override { plan_ = model_->plan_tokens(bytes_.data(), bytes_.size()); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("ok", plan_.ok);
    o.Set("stripLeadingSpace", plan_.strip_leading_space);
    o.Set("byteCoded", plan_.byte_coded);
    auto a = Napi::Int32Array::New(env, plan_.tokens.size());
    std::copy(plan_.tokens.begin(), plan_.tokens.end(), a.Data());
    o.Set("tokens", a);
    // Each token's byte length (its piece), for cutting a block into chunks of equal token counts.
    auto lengths = Napi::Uint32Array::New(env, plan_.tokens.size());
    for (size_t i = 0; i < plan_.tokens.size(); ++i) lengths[i] = uint32_t(model_->piece(plan_.tokens[i]).size());
    o.Set("pieceLengths", lengths);
    return o;
  }

 private:
  std::shared_ptr<lmzip::Model> model_;
  std::vector<uint8_t> bytes_;
  lmzip::TokenPlan plan_;
};

Napi::Value NativeModel::PlanTokens(const Napi::CallbackInfo& info) {
  return queue<PlanWorker>(info.Env(), get(info.Env()), copy_bytes(info[0]));
}

// ---- Session ------------------------------------------------------------------------
class NativeSession : public Napi::ObjectWrap<NativeSession> {
 public:
  static Napi::FunctionReference constructor;
  static Napi::Function Init(Napi::Env env) {
    Napi::Function f = DefineClass(env, "NativeSession",
                                   {InstanceMethod("encodeBlock", &NativeSession::EncodeBlock),
                                    InstanceMethod("analyzeBlock", &NativeSession::AnalyzeBlock),
                                    InstanceMethod("decodeBlock", &NativeSession::DecodeBlock),
                                    InstanceMethod("decode", &NativeSession::Decode),
                                    InstanceMethod("evaluate", &NativeSession::Evaluate),
                                    InstanceMethod("dispose", &NativeSession::Dispose)});
    constructor = Napi::Persistent(f);
    return f;
  }
  explicit NativeSession(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeSession>(info) {}
  std::shared_ptr<lmzip::Session> session;
  std::shared_ptr<std::atomic<bool>> busy = std::make_shared<std::atomic<bool>>(false);

  std::shared_ptr<lmzip::Session> acquire(Napi::Env env) {
    if (!session) throw coded_error(env, "SESSION_DISPOSED", "this session has been disposed");
    if (busy->exchange(true)) throw coded_error(env, "SESSION_BUSY", "this session is already running a job");
    return session;
  }

 private:
  Napi::Value EncodeBlock(const Napi::CallbackInfo& info);
  Napi::Value AnalyzeBlock(const Napi::CallbackInfo& info);
  Napi::Value DecodeBlock(const Napi::CallbackInfo& info);
  Napi::Value Decode(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (busy->load()) throw coded_error(info.Env(), "SESSION_BUSY", "cannot dispose a session while it runs a job");
    session.reset();
    return info.Env().Undefined();
  }
};
Napi::FunctionReference NativeSession::constructor;

// Releases a session's busy flag when a job ends, however it ends.
struct BusyRelease {
  std::shared_ptr<std::atomic<bool>> busy;
  ~BusyRelease() {
    if (busy) busy->store(false);
  }
};

class CreateSessionWorker : public PromiseWorker {
 public:
  CreateSessionWorker(Napi::Env env, std::shared_ptr<lmzip::Model> m, lmzip::SessionParams p)
      : PromiseWorker(env, env.Undefined(), env.Undefined()), model_(std::move(m)), params_(p) {}

 protected:
  void Run(const ExecutionProgress&) override { session_ = std::make_shared<lmzip::Session>(model_, params_); }
  Napi::Value Result(Napi::Env) override {
    Napi::Object obj = NativeSession::constructor.New({});
    NativeSession::Unwrap(obj)->session = std::move(session_);
    return obj;
  }

 private:
  std::shared_ptr<lmzip::Model> model_;
  lmzip::SessionParams params_;
  std::shared_ptr<lmzip::Session> session_;
};

lmzip::SessionParams session_params(const Napi::Object& o) {
  lmzip::SessionParams p;
  p.lanes = o.Get("lanes").As<Napi::Number>().Int32Value();
  p.window = o.Get("window").As<Napi::Number>().Int32Value();
  p.overlap = o.Get("overlap").As<Napi::Number>().Int32Value();
  if (o.Has("shiftContext")) p.shift_context = o.Get("shiftContext").As<Napi::Boolean>().Value();
  if (o.Has("compactShift")) p.compact_shift = o.Get("compactShift").As<Napi::Boolean>().Value();
  p.threads = o.Get("threads").As<Napi::Number>().Int32Value();
  p.flash_attention = o.Get("flashAttention").As<Napi::Boolean>().Value();
  p.ubatch = o.Get("ubatch").As<Napi::Number>().Uint32Value();
  if (o.Has("codingMethod")) p.method.id = o.Get("codingMethod").As<Napi::Number>().Uint32Value();
  if (o.Has("methodParams") && o.Get("methodParams").IsTypedArray()) p.method.params = copy_bytes(o.Get("methodParams"));
  return p;
}

Napi::Value NativeModel::CreateSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return queue<CreateSessionWorker>(env, get(env), session_params(info[0].As<Napi::Object>()));
}

Napi::Value NativeModel::EstimateSessionMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, double(lmzip::estimate_session_memory(*get(env), session_params(info[0].As<Napi::Object>()))));
}

// Format v2: the chunks of one block, their model-coded tokens in one stream.
class EncodeBlockWorker : public PromiseWorker {
 public:
  EncodeBlockWorker(const Napi::CallbackInfo& info, std::shared_ptr<lmzip::Session> s, std::shared_ptr<std::atomic<bool>> busy)
      : PromiseWorker(info.Env(), info[5], info[4]), session_(std::move(s)), release_{std::move(busy)} {
    data_ = copy_bytes(info[0]);
    auto lengths = info[1].As<Napi::Uint32Array>();
    lengths_.assign(lengths.Data(), lengths.Data() + lengths.ElementLength());
    if (info[2].IsTypedArray()) allow_model_ = copy_bytes(info[2]);
    if (!allow_model_.empty() && allow_model_.size() != lengths_.size())
      throw coded_error(info.Env(), "INVALID_ARGUMENT", "encodeBlock: allowModel and chunk lengths differ in length");
    measure_ideal_ = info[3].As<Napi::Boolean>().Value();
  }

 protected:
  void Run(const ExecutionProgress& progress) override {
    result_ = session_->encode_block(chunk_spans(), allow_model_, measure_ideal_, cancel_, progress_fn(progress));
  }
  std::vector<std::pair<const uint8_t*, size_t>> chunk_spans() const {
    std::vector<std::pair<const uint8_t*, size_t>> chunks;
    size_t offset = 0;
    for (uint32_t len : lengths_) {
      if (offset + len > data_.size()) throw Error("INVALID_ARGUMENT", "chunk lengths exceed the data");
      chunks.emplace_back(data_.data() + offset, len);
      offset += len;
    }
    return chunks;
  }
  Napi::Value Result(Napi::Env env) override {
    const auto& chunks = result_.chunks;
    const size_t n = chunks.size();
    auto model_coded = Napi::Uint8Array::New(env, n);
    auto strip = Napi::Uint8Array::New(env, n);
    auto token_counts = Napi::Uint32Array::New(env, n);
    auto byte_coded = Napi::Uint32Array::New(env, n);
    auto ideal = Napi::Float64Array::New(env, n);
    auto table = Napi::Float64Array::New(env, n);
    auto model_bits = Napi::Float64Array::New(env, n);
    for (size_t i = 0; i < n; ++i) {
      model_bits[i] = chunks[i].model_bits;
      model_coded[i] = chunks[i].model_coded;
      strip[i] = chunks[i].strip_leading_space;
      token_counts[i] = chunks[i].token_count;
      byte_coded[i] = chunks[i].byte_coded;
      ideal[i] = chunks[i].ideal_bits;
      table[i] = chunks[i].table_bits;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("modelCoded", model_coded);
    o.Set("stripLeadingSpace", strip);
    o.Set("tokenCounts", token_counts);
    o.Set("byteCoded", byte_coded);
    o.Set("idealBits", ideal);
    o.Set("tableBits", table);
    o.Set("modelBits", model_bits);
    o.Set("stream", to_uint8(env, result_.stream.data(), result_.stream.size()));
    return o;
  }

  std::shared_ptr<lmzip::Session> session_;
  BusyRelease release_;
  std::vector<uint8_t> data_;
  std::vector<uint32_t> lengths_;
  std::vector<uint8_t> allow_model_;
  bool measure_ideal_ = false;
  lmzip::EncodedBlock result_;
};

Napi::Value NativeSession::EncodeBlock(const Napi::CallbackInfo& info) {
  auto s = acquire(info.Env());
  return queue<EncodeBlockWorker>(info, s, busy);
}

// encodeBlock plus the per-token records of lmzip analyze (analyze.h): the same call
// with one more argument, the number of candidates to keep per token. The records
// come from the very tables the block's stream was coded with (a TokenListener).
class AnalyzeBlockWorker : public EncodeBlockWorker {
 public:
  AnalyzeBlockWorker(const Napi::CallbackInfo& info, std::shared_ptr<lmzip::Session> s, std::shared_ptr<std::atomic<bool>> busy)
      : EncodeBlockWorker(info, std::move(s), std::move(busy)), top_k_(info[6].As<Napi::Number>().Int32Value()) {}

 protected:
  void Run(const ExecutionProgress& progress) override {
    lmzip::TokenRecorder recorder(lengths_.size(), top_k_);
    struct Listener : lmzip::TokenListener {
      lmzip::TokenRecorder& recorder;
      int n_vocab;
      Listener(lmzip::TokenRecorder& r, int n) : recorder(r), n_vocab(n) {}
      void on_token(const lmzip::TokenRecord& t) override { recorder.record(t.lane.chunk, t.token, t.freqs, n_vocab, t.total); }
    } listener(recorder, session_->model().n_vocab());
    result_ = session_->encode_block(chunk_spans(), allow_model_, measure_ideal_, cancel_, progress_fn(progress), &listener);
    std::vector<uint8_t> strip;
    for (const auto& c : result_.chunks) strip.push_back(c.strip_leading_space);
    records_ = recorder.finish(session_->model(), strip);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = EncodeBlockWorker::Result(env).As<Napi::Object>();
    const lmzip::TokenRecords& r = records_;
    o.Set("topK", r.top_k);
    o.Set("tokens", typed<Napi::Int32Array>(env, r.tokens));
    o.Set("byteLengths", typed<Napi::Uint32Array>(env, r.byte_lengths));
    o.Set("bits", typed<Napi::Float64Array>(env, r.bits));
    o.Set("entropy", typed<Napi::Float32Array>(env, r.entropy));
    o.Set("rank", typed<Napi::Uint32Array>(env, r.rank));
    o.Set("topIds", typed<Napi::Int32Array>(env, r.top_ids));
    o.Set("topProbs", typed<Napi::Float32Array>(env, r.top_probs));
    o.Set("chunkBits", typed<Napi::Float64Array>(env, r.chunk_bits));
    o.Set("chunkTokens", typed<Napi::Uint32Array>(env, r.chunk_tokens));
    o.Set("pieceIds", typed<Napi::Int32Array>(env, r.piece_ids));
    o.Set("pieceLengths", typed<Napi::Uint32Array>(env, r.piece_lengths));
    o.Set("pieceBytes", to_uint8(env, r.piece_bytes.data(), r.piece_bytes.size()));
    return o;
  }

 private:
  template <typename Array, typename T>
  static Array typed(Napi::Env env, const std::vector<T>& v) {
    Array a = Array::New(env, v.size());
    if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
    return a;
  }
  int top_k_;
  lmzip::TokenRecords records_;
};

Napi::Value NativeSession::AnalyzeBlock(const Napi::CallbackInfo& info) {
  auto s = acquire(info.Env());
  return queue<AnalyzeBlockWorker>(info, s, busy);
}

// Format v2: the model-coded chunks of one block from its single stream.
class DecodeBlockWorker : public PromiseWorker {
 public:
  DecodeBlockWorker(const Napi::CallbackInfo& info, std::shared_ptr<lmzip::Session> s, std::shared_ptr<std::atomic<bool>> busy)
      : PromiseWorker(info.Env(), info[4], info[3]), session_(std::move(s)), release_{std::move(busy)} {
    stream_ = copy_bytes(info[0]);
    auto sizes = info[1].As<Napi::Uint32Array>();
    auto strip = info[2].As<Napi::Uint8Array>();
    if (strip.ElementLength() != sizes.ElementLength())
      throw coded_error(info.Env(), "INVALID_ARGUMENT", "decodeBlock: per-chunk arrays differ in length");
    for (size_t i = 0; i < sizes.ElementLength(); ++i) chunks_.push_back(lmzip::BlockChunk{sizes[i], strip[i] != 0});
  }

 protected:
  void Run(const ExecutionProgress& progress) override {
    result_ = session_->decode_block(stream_.data(), stream_.size(), chunks_, cancel_, progress_fn(progress));
  }
  Napi::Value Result(Napi::Env env) override { return to_uint8_array(env, result_); }

 private:
  std::shared_ptr<lmzip::Session> session_;
  BusyRelease release_;
  std::vector<uint8_t> stream_;
  std::vector<lmzip::BlockChunk> chunks_;
  std::vector<std::string> result_;
};

Napi::Value NativeSession::DecodeBlock(const Napi::CallbackInfo& info) {
  auto s = acquire(info.Env());
  return queue<DecodeBlockWorker>(info, s, busy);
}

// Format v1: one payload per chunk, token counts from the file.
class DecodeWorker : public PromiseWorker {
 public:
  DecodeWorker(const Napi::CallbackInfo& info, std::shared_ptr<lmzip::Session> s, std::shared_ptr<std::atomic<bool>> busy)
      : PromiseWorker(info.Env(), info[5], info[4]), session_(std::move(s)), release_{std::move(busy)} {
    auto payloads = info[0].As<Napi::Array>();
    auto token_counts = info[1].As<Napi::Uint32Array>();
    auto sizes = info[2].As<Napi::Uint32Array>();
    auto strip = info[3].As<Napi::Uint8Array>();
    const uint32_t n = payloads.Length();
    if (token_counts.ElementLength() != n || sizes.ElementLength() != n || strip.ElementLength() != n)
      throw coded_error(info.Env(), "INVALID_ARGUMENT", "decode: per-chunk arrays differ in length");
    payloads_.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      payloads_.push_back(copy_bytes(payloads.Get(i)));
      lmzip::DecodeChunk c;
      c.token_count = token_counts[i];
      c.original_size = sizes[i];
      c.strip_leading_space = strip[i] != 0;
      chunks_.push_back(c);
    }
    for (uint32_t i = 0; i < n; ++i) {
      chunks_[i].payload = payloads_[i].data();
      chunks_[i].payload_size = payloads_[i].size();
    }
  }

 protected:
  void Run(const ExecutionProgress& progress) override {
    result_ = session_->decode(chunks_, cancel_, progress_fn(progress));
  }
  Napi::Value Result(Napi::Env env) override { return to_uint8_array(env, result_); }

 private:
  std::shared_ptr<lmzip::Session> session_;
  BusyRelease release_;
  std::vector<std::vector<uint8_t>> payloads_;
  std::vector<lmzip::DecodeChunk> chunks_;
  std::vector<std::string> result_;
};

Napi::Value NativeSession::Decode(const Napi::CallbackInfo& info) {
  auto s = acquire(info.Env());
  return queue<DecodeWorker>(info, s, busy);
}

class EvaluateWorker : public PromiseWorker {
 public:
  EvaluateWorker(const Napi::CallbackInfo& info, std::shared_ptr<lmzip::Session> s, std::shared_ptr<std::atomic<bool>> busy)
      : PromiseWorker(info.Env(), info[2], info[1]), session_(std::move(s)), release_{std::move(busy)} {
    auto arr = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      auto t = arr.Get(i).As<Napi::Int32Array>();
      chunks_.emplace_back(t.Data(), t.Data() + t.ElementLength());
    }
  }

 protected:
  void Run(const ExecutionProgress& progress) override { session_->evaluate_only(chunks_, cancel_, progress_fn(progress)); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<lmzip::Session> session_;
  BusyRelease release_;
  std::vector<std::vector<llama_token>> chunks_;
};

Napi::Value NativeSession::Evaluate(const Napi::CallbackInfo& info) {
  auto s = acquire(info.Env());
  return queue<EvaluateWorker>(info, s, busy);
}

Napi::Value BackendInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  lmzip::install_llama_logger();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", LMZIP_ISA);
  o.Set("llamaCommit", LMZIP_LLAMA_COMMIT);
  o.Set("systemInfo", llama_print_system_info());
  o.Set("gpuOffload", llama_supports_gpu_offload());
  Napi::Array devices = Napi::Array::New(env);
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t d = ggml_backend_dev_get(i);
    devices.Set(uint32_t(i), std::string(ggml_backend_dev_name(d)) + ": " + ggml_backend_dev_description(d));
  }
  o.Set("devices", devices);
  return o;
}

// The CUDA runtime's view of the machine (null in a CPU-only build): see native/gpu_info.h.
Napi::Value GpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  lmzip::GpuRuntime g = lmzip::gpu_runtime();
  if (!g.built_with_cuda) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("architectures", g.architectures);
  o.Set("runtimeVersion", g.runtime_version);
  o.Set("driverVersion", g.driver_version);
  o.Set("cublasVersion", g.cublas_version);
  o.Set("error", g.error);
  Napi::Array devices = Napi::Array::New(env);
  for (size_t i = 0; i < g.devices.size(); ++i) {
    const lmzip::GpuDevice& d = g.devices[i];
    Napi::Object dev = Napi::Object::New(env);
    dev.Set("name", d.name);
    dev.Set("computeCapability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor));
    dev.Set("multiprocessors", d.multiprocessors);
    dev.Set("memoryBytes", double(d.memory_bytes));
    devices.Set(uint32_t(i), dev);
  }
  o.Set("devices", devices);
  return o;
}

// Coding method 2's parameter bytes for blocks of at most `blockBytes` bytes (docs/MIXING.md, "Parameters").
Napi::Value MixParams(const Napi::CallbackInfo& info) {
  const std::vector<uint8_t> params = lmzip::mix_params_for_block(uint64_t(info[0].As<Napi::Number>().Int64Value()));
  return to_uint8(info.Env(), params.data(), params.size());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeModel", NativeModel::Init(env));
  exports.Set("NativeSession", NativeSession::Init(env));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel));
  exports.Set("backendInfo", Napi::Function::New(env, BackendInfo));
  exports.Set("gpuInfo", Napi::Function::New(env, GpuInfo));
  exports.Set("mixParams", Napi::Function::New(env, MixParams));
  return exports;
}

}  // namespace

NODE_API_MODULE(lmzip, Init)
