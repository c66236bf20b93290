#!/usr/bin/env bash
# The native tests under sanitizers.
#
#   scripts/sanitize.sh [asan|tsan|all]      default: all
#
#   asan  every native test (unit tests, replays of the fuzz corpora and crashers) with
#         AddressSanitizer + UndefinedBehaviorSanitizer, llama.cpp included (CMake:
#         LMZIP_SANITIZE=ON). Shares build-fuzz/ with scripts/fuzz.sh and ci-native.sh
#         (clang); ASAN_BUILD_DIR=build-asan CC=gcc CXX=g++ builds a gcc variant instead.
#   tsan  build-tsan/: test_concurrency (several Sessions on one Model in threads, and
#         plan_tokens from threads) with ThreadSanitizer, llama.cpp included (clang).
#
# Each llama.cpp build takes 4-15 minutes on 2 cores (sanitizers and debug info make it
# slow); the tests then take about a minute. Exit status 0 when every test passed with
# no sanitizer report (the fuzzers' regression tests included; docs/RELIABILITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHAT=${1:-all}
export LMZIP_REPO_ROOT=$ROOT
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/test/native/ubsan.supp

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cmake || ! need ninja || ! need clang++; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang cmake ninja-build >/dev/null
fi

if [ "$WHAT" = asan ] || [ "$WHAT" = all ]; then
  B=${ASAN_BUILD_DIR:-build-fuzz}
  if [ ! -f "$B/build.ninja" ]; then
    fuzz=ON
    [ "${CXX:-clang++}" = "clang++" ] || fuzz=OFF
    CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DLMZIP_BUILD_NATIVE_TESTS=ON -DLMZIP_SANITIZE=ON -DLMZIP_FUZZ=$fuzz >/dev/null
  fi
  echo "sanitize: building native tests in $B (ASan + UBSan)"
  cmake --build "$B" --target lmzip_native_tests -j"$(nproc)" >"$B/sanitize-build.log" 2>&1 ||
    { tail -40 "$B/sanitize-build.log"; exit 1; }
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 ctest --test-dir "$B/test/native" --output-on-failure -j2
fi

if [ "$WHAT" = tsan ] || [ "$WHAT" = all ]; then
  if [ ! -f build-tsan/build.ninja ]; then
    CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DLMZIP_BUILD_NATIVE_TESTS=ON -DCMAKE_C_FLAGS=-fsanitize=thread -DCMAKE_CXX_FLAGS=-fsanitize=thread \
      -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread >/dev/null
  fi
  echo "sanitize: building test_concurrency in build-tsan (ThreadSanitizer)"
  cmake --build build-tsan --target test_concurrency -j"$(nproc)" >build-tsan/build.log 2>&1 ||
    { tail -40 build-tsan/build.log; exit 1; }
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/test/native/tsan.supp" \
    ctest --test-dir build-tsan/test/native -L concurrency --output-on-failure
fi
