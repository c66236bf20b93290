// What protects the process from a hostile model file, before and while llama.cpp reads it.
//
// llama.cpp trusts a GGUF's metadata: some values make it call abort() (GGML_ASSERT),
// which would end the whole Node process. So, before llama.cpp sees a file:
//  * ModelFile opens it without blocking (a FIFO or device never hangs the load), refuses
//    anything but a regular file, and names that very file to llama.cpp afterwards;
//  * check_gguf_metadata reads the metadata with ggml's own GGUF reader (no tensor data)
//    and refuses, with MODEL_LOAD_FAILED and the key's name, every value known to abort.
// As a last line, AssertionsThrow turns llama.cpp's assertions on the current thread into
// a C++ exception while a model loads or a context is created (both on our worker thread,
// where nothing else holds llama.cpp state); assertions elsewhere still abort.
// The rules are listed in docs/RELIABILITY.md ("Hostile model files").
#pragma once
#include <cstdint>
#include <string>

namespace lmzip {

class ModelFile {
 public:
  // Throws Error(MODEL_LOAD_FAILED) for a missing file, a directory, FIFO, device or
  // socket. (src/model.ts checks the path first and gives the finer codes
  // MODEL_NOT_FOUND and MODEL_INVALID; this is the guard for the file actually loaded.)
  explicit ModelFile(const std::string& path);
  ~ModelFile();
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;

  const std::string& path() const { return path_; }
  // A name for the very file opened here (/proc/self/fd/N where it exists), so that a
  // path swapped for a FIFO or another file after the checks is never read.
  std::string stable_path() const;
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

struct GgufSummary {
  // More than one file (split.count > 1): llama.cpp finds the others by the first one's name.
  bool split = false;
};

// Reads the file's GGUF metadata and refuses values that would make llama.cpp abort.
// Throws Error(MODEL_LOAD_FAILED, "...<key>...") (also for a file that is not a GGUF).
GgufSummary check_gguf_metadata(const ModelFile& file);

// While alive, a GGML_ASSERT/GGML_ABORT on this thread throws Error(code, message) instead
// of aborting the process. Use only around calls that run entirely on this thread.
class AssertionsThrow {
 public:
  explicit AssertionsThrow(const char* code);
  ~AssertionsThrow();
  AssertionsThrow(const AssertionsThrow&) = delete;
  AssertionsThrow& operator=(const AssertionsThrow&) = delete;

 private:
  const char* previous_;
};

// Installs the process-wide ggml abort callback behind AssertionsThrow (idempotent).
void install_assertion_handler();

}  // namespace lmzip
