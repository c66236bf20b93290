// Errors that cross into JavaScript carry a stable code (see src/errors.ts).
#pragma once
#include <stdexcept>
#include <string>

namespace lmzip {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// The first error llama.cpp logged on this thread since the last call, to explain a failure.
std::string take_last_llama_error();
void install_llama_logger();

}  // namespace lmzip
