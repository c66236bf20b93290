#!/usr/bin/env bash
# Coverage-guided fuzzing of lmzip's native decoding path with libFuzzer.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    default: 60 s each for all targets
#
# Targets (test/native/fuzz/):
#   range_decoder   the range decoder on arbitrary bytes and frequency tables, plus a round trip
#   plan_tokens     Model::plan_tokens on arbitrary bytes, 4 vocab-only tokenizers; plans must be exact
#   session_decode  Session::decode with stories260K on arbitrary payloads/counts/sizes, and
#                   encode->decode round trips of arbitrary bytes
#   container       the TypeScript container parser (test/reliability/fuzz-container.ts:
#                   V8 block coverage as feedback; needs npm install, not the clang build)
#
# Builds with clang into build-fuzz/ (ASan + UBSan + libFuzzer; llama.cpp itself with
# ASan + UBSan, about 4 minutes the first time on 2 cores), seeds each run from
# test/native/corpus/<target>/ and keeps the grown corpus in build-fuzz/corpus/<target>/.
# Crashes land in build-fuzz/artifacts/<target>/; copy a crasher to
# test/native/crashers/<target>/ to keep it as a regression input (ctest replays them).
#
# Environment: FUZZ_JOBS=N runs N targets at once (default 1); FUZZ_NO_BUILD=1 skips
# the build; FUZZ_MERGE=1 minimises the grown corpus back into test/native/corpus/.
# Exit status: 0 when no target crashed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(range_decoder plan_tokens session_decode container)
NATIVE_TARGETS=()
for t in "${TARGETS[@]}"; do [ "$t" = container ] || NATIVE_TARGETS+=("$t"); done
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need clang++ || ! need ninja || ! need cmake; then
  echo "fuzz.sh: installing clang, cmake and ninja with apt-get" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang cmake ninja-build >/dev/null
fi

if [ -z "${FUZZ_NO_BUILD:-}" ] && [ ${#NATIVE_TARGETS[@]} -gt 0 ]; then
  if [ ! -f "$BUILD/build.ninja" ]; then
    CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DLMZIP_BUILD_NATIVE_TESTS=ON -DLMZIP_SANITIZE=ON -DLMZIP_FUZZ=ON >/dev/null
  fi
  echo "fuzz.sh: building fuzz targets in $BUILD" >&2
  cmake --build "$BUILD" --target $(printf 'fuzz_%s ' "${NATIVE_TARGETS[@]}") -j"$(nproc)" >"$BUILD/fuzz-build.log" 2>&1 ||
    { tail -40 "$BUILD/fuzz-build.log"; exit 1; }
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/test/native/ubsan.supp}
export LMZIP_REPO_ROOT=$ROOT

max_len() {
  case $1 in
    range_decoder) echo 1024 ;; plan_tokens) echo 2048 ;; session_decode) echo 512 ;; *) echo 4096 ;;
  esac
}

run_container() {
  local log=$BUILD/fuzz-container.log rc=0
  mkdir -p "$BUILD"
  node --import tsx test/reliability/fuzz-container.ts "$SECONDS_PER_TARGET" --save >"$log" 2>&1 || rc=$?
  local line
  line=$(grep -E '^container' "$log" | tail -1 || true)
  printf '%-16s %s rc=%s\n' container "${line#container}" "$rc" >"$BUILD/fuzz-container.summary"
  [ "$rc" -eq 0 ] || { grep -E 'crash-' "$log" | head -10 >>"$BUILD/fuzz-container.summary" || true; return 1; }
}

run_one() {
  local t=$1
  [ "$t" = container ] && { run_container; return; }
  local corpus=$BUILD/corpus/$t artifacts=$BUILD/artifacts/$t log=$BUILD/fuzz-$t.log
  mkdir -p "$corpus" "$artifacts"
  cp -n test/native/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  local before
  before=$(find "$artifacts" -type f | wc -l)
  set +e
  "$BUILD/test/native/fuzz_$t" "$corpus" -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$t")" -timeout=20 \
    -rss_limit_mb=3072 -malloc_limit_mb=1024 -artifact_prefix="$artifacts/" -print_final_stats=1 \
    >"$log" 2>&1
  local rc=$?
  set -e
  local execs crashes
  execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -1 || true)
  [ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  crashes=$(( $(find "$artifacts" -type f | wc -l) - before ))
  local cov
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
  printf '%-16s %6ss  execs=%-9s cov=%-6s corpus=%-5s new_crashes=%s rc=%s\n' "$t" "$SECONDS_PER_TARGET" "${execs:-?}" \
    "${cov:-?}" "$(ls "$corpus" | wc -l)" "$crashes" "$rc" >"$BUILD/fuzz-$t.summary"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|runtime error|abort|Test unit written|==[0-9]+==' "$log" | head -20 >>"$BUILD/fuzz-$t.summary" || true
    return 1
  fi
}

JOBS=${FUZZ_JOBS:-1}
failed=0
pids=()
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$JOBS" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done

echo "== fuzz summary (logs: $BUILD/fuzz-<target>.log) =="
for t in "${TARGETS[@]}"; do cat "$BUILD/fuzz-$t.summary"; done

if [ -n "${FUZZ_MERGE:-}" ]; then
  for t in "${NATIVE_TARGETS[@]}"; do
    "$BUILD/test/native/fuzz_$t" -merge=1 -max_len="$(max_len "$t")" test/native/corpus/"$t" "$BUILD/corpus/$t" >/dev/null 2>&1 || true
  done
  echo "merged new coverage into test/native/corpus/"
fi
exit $failed
