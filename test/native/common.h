// Helpers shared by the native tests and fuzz targets.
#pragma once
#include <string>
#include <vector>

#include "check.h"
#include "model.h"

namespace lmzip_test {

// The exact bytes a plan stands for, or "<invalid>" when a token is out of range or empty.
inline bool plan_is_exact(const lmzip::Model& m, const lmzip::TokenPlan& plan, const uint8_t* data, size_t size,
                          std::string* why = nullptr) {
  if (!plan.ok) return true;  // "no plan" is always an acceptable answer
  std::string bytes;
  for (llama_token t : plan.tokens) {
    if (t < 0 || t >= m.n_vocab()) {
      if (why) *why = "token out of range";
      return false;
    }
    if (m.piece(t).empty()) {
      if (why) *why = "token with an empty piece";
      return false;
    }
    bytes += m.piece(t);
  }
  if (plan.strip_leading_space) {
    if (bytes.empty() || bytes[0] != ' ') {
      if (why) *why = "strip_leading_space without a leading space";
      return false;
    }
    bytes.erase(0, 1);
  }
  if (bytes.size() != size || (size && bytes.compare(0, size, reinterpret_cast<const char*>(data), size) != 0)) {
    if (why) *why = "pieces do not concatenate to the input";
    return false;
  }
  return true;
}

}  // namespace lmzip_test
