// Several Sessions on one shared Model, in threads at once: every result must be
// byte-identical to the serial run. Built under ThreadSanitizer by scripts/sanitize.sh.
#include <atomic>
#include <memory>
#include <thread>

#include "check.h"
#include "engine.h"
#include "errors.h"
#include "model.h"

using namespace lmzip;
using lmzip_test::repo_path;
using lmzip_test::shared_path;

namespace {
std::vector<std::string> inputs() {
  const std::string base =
      "Once upon a time, there was a little dog named Max. Max liked to run and jump in the park. "
      "One day he found a stick. ";
  std::vector<std::string> v;
  for (int i = 0; i < 8; ++i) {
    std::string s = base.substr(size_t(i) * 7) + "The number was " + std::to_string(i * 7919) + ".";
    if (i % 3 == 0) s += " It was a happy day.";
    v.push_back(s);
  }
  return v;
}

struct Result {
  std::vector<uint8_t> block_stream;  // format v2: the chunks in one stream
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<uint32_t> token_counts;
  std::vector<bool> strip;
  std::vector<std::string> decoded;
};

Result run_job(const std::shared_ptr<const Model>& model, const std::vector<std::string>& chunks, int lanes) {
  SessionParams p;
  p.lanes = lanes;
  p.window = 32;
  p.overlap = 8;
  Session s(model, p);
  std::vector<std::pair<const uint8_t*, size_t>> in;
  for (const auto& c : chunks) in.emplace_back(reinterpret_cast<const uint8_t*>(c.data()), c.size());
  auto enc = s.encode(in, {}, false, nullptr, {});
  Result r;
  std::vector<DecodeChunk> d;
  for (size_t i = 0; i < enc.size(); ++i) {
    r.payloads.push_back(enc[i].payload);
    r.token_counts.push_back(enc[i].token_count);
    r.strip.push_back(enc[i].strip_leading_space);
  }
  for (size_t i = 0; i < enc.size(); ++i) {
    DecodeChunk c;
    c.payload = r.payloads[i].data();
    c.payload_size = r.payloads[i].size();
    c.token_count = enc[i].token_count;
    c.original_size = uint32_t(chunks[i].size());
    c.strip_leading_space = enc[i].strip_leading_space;
    d.push_back(c);
  }
  r.decoded = s.decode(d, nullptr, {});
  r.block_stream = s.encode_block(in, {}, false, nullptr, {}).stream;
  return r;
}
}  // namespace

TEST(sessions_in_threads_match_serial) {
  auto model = std::make_shared<const Model>(shared_path("models/stories260K.gguf"), ModelParams{});
  const auto in = inputs();
  const int n_threads = 4;
  // Each thread's job: a rotation of the inputs, on 1 or 2 lanes.
  auto job_chunks = [&](int t) {
    std::vector<std::string> c;
    for (size_t i = 0; i < 3; ++i) c.push_back(in[(size_t(t) + i) % in.size()]);
    return c;
  };
  std::vector<Result> serial;
  for (int t = 0; t < n_threads; ++t) serial.push_back(run_job(model, job_chunks(t), 1 + t % 2));

  std::vector<Result> parallel(static_cast<size_t>(n_threads));
  std::vector<std::string> errors(static_cast<size_t>(n_threads));
  std::vector<std::thread> threads;
  for (int round = 0; round < 2; ++round) {
    threads.clear();
    for (int t = 0; t < n_threads; ++t)
      threads.emplace_back([&, t] {
        try {
          parallel[size_t(t)] = run_job(model, job_chunks(t), 1 + t % 2);
        } catch (const std::exception& e) {
          errors[size_t(t)] = e.what();
        }
      });
    for (auto& th : threads) th.join();
    for (int t = 0; t < n_threads; ++t) {
      if (!errors[size_t(t)].empty()) std::printf("  thread %d: %s\n", t, errors[size_t(t)].c_str());
      CHECK(errors[size_t(t)].empty());
      CHECK(parallel[size_t(t)].payloads == serial[size_t(t)].payloads);
      CHECK(parallel[size_t(t)].block_stream == serial[size_t(t)].block_stream);
      CHECK(parallel[size_t(t)].token_counts == serial[size_t(t)].token_counts);
      CHECK(parallel[size_t(t)].decoded == job_chunks(t));
    }
  }
}

TEST(plan_tokens_in_threads) {
  // Tokenizing is read-only on the shared vocabulary: plans from threads match serial ones.
  ModelParams p;
  p.vocab_only = true;
  auto m = std::make_shared<const Model>(repo_path("vendor/llama.cpp/models/ggml-vocab-gpt-2.gguf"), p);
  const auto in = inputs();
  std::vector<std::vector<llama_token>> serial;
  for (const auto& s : in) serial.push_back(m->plan_tokens(reinterpret_cast<const uint8_t*>(s.data()), s.size()).tokens);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int rep = 0; rep < 5; ++rep)
        for (size_t i = 0; i < in.size(); ++i)
          if (m->plan_tokens(reinterpret_cast<const uint8_t*>(in[i].data()), in[i].size()).tokens != serial[i])
            ++mismatches;
    });
  for (auto& th : threads) th.join();
  CHECK(mismatches == 0);
}

TEST_MAIN()
