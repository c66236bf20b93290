// A tiny test harness for the native unit tests: CHECK records a failure and goes on,
// REQUIRE stops the test. Each test binary returns non-zero if anything failed.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace lmzip_test {

struct Case {
  const char* name;
  std::function<void()> fn;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> c;
  return c;
}
inline int& failures() {
  static int f = 0;
  return f;
}
struct Register {
  Register(const char* name, std::function<void()> fn) { cases().push_back({name, std::move(fn)}); }
};
struct Abort {};

// Paths are relative to the repository root: $LMZIP_REPO_ROOT, else the source tree the
// tests were built from, else the working directory.
inline std::string repo_path(const std::string& rel) {
  const char* root = std::getenv("LMZIP_REPO_ROOT");
#ifdef LMZIP_REPO_ROOT_DEFAULT
  if (!root) root = LMZIP_REPO_ROOT_DEFAULT;
#endif
  return (root ? std::string(root) + "/" : std::string()) + rel;
}

// Paths into the shared test models and corpus: $LMZIP_SHARED_DIR, else ../shared
// beside the repository (as the TypeScript tests find them, test/shared.ts).
inline std::string shared_path(const std::string& rel) {
  const char* shared = std::getenv("LMZIP_SHARED_DIR");
  return shared && *shared ? std::string(shared) + "/" + rel : repo_path("../shared/" + rel);
}

inline int run_all(int argc, char** argv) {
  int ran = 0;
  for (const auto& c : cases()) {
    if (argc > 1 && std::string(argv[1]) != c.name) continue;
    const int before = failures();
    std::printf("[ RUN  ] %s\n", c.name);
    std::fflush(stdout);
    try {
      c.fn();
    } catch (const Abort&) {
    } catch (const std::exception& e) {
      std::printf("  unexpected exception: %s\n", e.what());
      ++failures();
    }
    std::printf("[ %s ] %s\n", failures() == before ? " OK " : "FAIL", c.name);
    ++ran;
  }
  std::printf("%d test(s), %d failure(s)\n", ran, failures());
  return failures() == 0 && ran > 0 ? 0 : 1;
}

}  // namespace lmzip_test

#define LMZ_CAT2(a, b) a##b
#define LMZ_CAT(a, b) LMZ_CAT2(a, b)
#define TEST(name)                                                                        \
  static void name();                                                                     \
  static ::lmzip_test::Register LMZ_CAT(reg_, name)(#name, name);                         \
  static void name()
#define CHECK(cond)                                                                       \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::printf("  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
      ++::lmzip_test::failures();                                                         \
    }                                                                                     \
  } while (0)
#define REQUIRE(cond)                                                                     \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::printf("  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);           \
      ++::lmzip_test::failures();                                                         \
      throw ::lmzip_test::Abort{};                                                        \
    }                                                                                     \
  } while (0)
#define TEST_MAIN() \
  int main(int argc, char** argv) { return ::lmzip_test::run_all(argc, argv); }
