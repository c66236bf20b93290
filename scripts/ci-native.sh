#!/usr/bin/env bash
# What CI runs for the native code: the native unit tests and the replays of the
# fuzz corpora and kept crashers under ASan + UBSan (clang), then a short libFuzzer
# pass per target. One build (build-fuzz/, ~4 min on 2 cores), ~3 min of tests.
#
#   scripts/ci-native.sh [FUZZ_SECONDS]      default: 30 s per target
#
# The tests load stories260K from $LMZIP_SHARED_DIR/models, else ../shared/models.
#
# The ThreadSanitizer build is separate (scripts/sanitize.sh tsan) because it needs a
# second llama.cpp build; CI may add it where time allows.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${1:-30}
export LMZIP_REPO_ROOT=$PWD
shared=${LMZIP_SHARED_DIR:-$PWD/../shared}
if [ ! -f "$shared/models/stories260K.gguf" ]; then
  echo "ci-native: no test models at $shared/models (set LMZIP_SHARED_DIR to the folder with models/)" >&2
  exit 1
fi

need() { command -v "$1" >/dev/null 2>&1; }
if ! need clang++ || ! need ninja || ! need cmake; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang cmake ninja-build >/dev/null
fi
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLMZIP_BUILD_NATIVE_TESTS=ON -DLMZIP_SANITIZE=ON -DLMZIP_FUZZ=ON >/dev/null
fi
echo "ci-native: building native tests and fuzz targets (build-fuzz/)"
cmake --build build-fuzz --target lmzip_native_tests -j"$(nproc)" >build-fuzz/ci-build.log 2>&1 ||
  { tail -40 build-fuzz/ci-build.log; exit 1; }

echo "ci-native: unit tests and regression replays under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/test/native/ubsan.supp \
  ctest --test-dir build-fuzz/test/native --output-on-failure -j2


echo "ci-native: fuzzing ${FUZZ_SECONDS}s per target"
# The container parser fuzzer runs for 15 s inside npm test (test/reliability/container-fuzz.test.ts).
FUZZ_NO_BUILD=1 FUZZ_JOBS=2 scripts/fuzz.sh "$FUZZ_SECONDS" range_decoder plan_tokens session_decode mix_decoder
