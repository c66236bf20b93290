#!/usr/bin/env bash
# The native tests under sanitizers.
#
#   scripts/sanitize.sh [asan|tsan|all]      default: all
#
#   asan  build-asan/: every native test (unit tests + fuzz-corpus and crasher replays)
#         with AddressSanitizer + UndefinedBehaviorSanitizer (CMake: LMZIP_SANITIZE=ON),
#         llama.cpp included. Compiler: $CC/$CXX, default the system gcc.
#   tsan  build-tsan/: test_concurrency (several Sessions on one Model in threads, and
#         plan_tokens from threads) with ThreadSanitizer, llama.cpp included; clang.
#
# Each build of llama.cpp takes 3-4 minutes on 2 cores the first time; the tests then
# take about a minute. Exit status 0 when every test passed with no sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHAT=${1:-all}
export LMZIP_REPO_ROOT=$ROOT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cmake || ! need ninja || { [ "$WHAT" != asan ] && ! need clang++; }; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang cmake ninja-build >/dev/null
fi

if [ "$WHAT" = asan ] || [ "$WHAT" = all ]; then
  if [ ! -f build-asan/build.ninja ]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DLMZIP_BUILD_NATIVE_TESTS=ON -DLMZIP_SANITIZE=ON >/dev/null
  fi
  cmake --build build-asan --target lmzip_native_tests -j"$(nproc)" >build-asan/build.log 2>&1 ||
    { tail -40 build-asan/build.log; exit 1; }
  # halt_on_error turns every UBSan report into a failure; leaks are reported too.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/test/native/ubsan.supp \
    ctest --test-dir build-asan --output-on-failure -j2
fi

if [ "$WHAT" = tsan ] || [ "$WHAT" = all ]; then
  if [ ! -f build-tsan/build.ninja ]; then
    CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DLMZIP_BUILD_NATIVE_TESTS=ON -DCMAKE_C_FLAGS=-fsanitize=thread -DCMAKE_CXX_FLAGS=-fsanitize=thread \
      -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread >/dev/null
  fi
  cmake --build build-tsan --target test_concurrency -j"$(nproc)" >build-tsan/build.log 2>&1 ||
    { tail -40 build-tsan/build.log; exit 1; }
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/test/native/tsan.supp" \
    ctest --test-dir build-tsan -L concurrency --output-on-failure
fi
