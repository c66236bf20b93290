#!/usr/bin/env bash
# Prepares what scripts/gpu-check.sh needs on a GPU machine, in .gpu-carry/ (ignored by git,
# ≤ 64 MiB: the device tool's `carry` limit). Run here, on the build machine, from the
# repository root, after the builds below; then, in a session with a GPU:
#
#   run(command="bash scripts/gpu-check.sh", carry=[".gpu-carry"], timeout_s=600)
#
# It needs (and builds the missing ones, which takes long on 2 cores — build them first):
#   build-cuda/Release/lmzip.node   LMZIP_CUDA=1 LMZIP_CUDA_ARCHITECTURES=90-real npm run build:native
#                                   (one architecture, the lent GPU's: sm_90 for an H100/H200)
#   build/Release/lmzip.node        npm run build:native (the CPU build: the CPU-refusal check)
#   dist/                           npm run build:ts
#   build-bench-cuda/…/llama-batched-bench   the reference, same settings (ccache makes it quick
#                                   after the addon: the nvcc commands are identical)
# and packs them with dist/, node-gyp-build, the test-model script and vocabularies, the
# corpus (first 1 MiB of each file), stories260K and, for a machine without Node ≥ 20, this
# machine's node binary.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${LMZIP_SHARED_DIR:-../shared}
carry=.gpu-carry
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

need() { [ -e "$1" ] || { echo "gpu-pack: $1 is missing: $2" >&2; exit 1; }; }
need build-cuda/Release/lmzip.node 'LMZIP_CUDA=1 LMZIP_CUDA_ARCHITECTURES=90-real npm run build:native'
need build/Release/lmzip.node 'npm run build:native'
need dist/bench/lmzip-worker.js 'npm run build:ts'
need "$shared/corpus" 'set LMZIP_SHARED_DIR'
find_ref() { for f in build-bench-cuda/bin/llama-batched-bench build-bench-cuda/llama-batched-bench/llama-batched-bench; do [ -x "$f" ] && { echo "$f"; return; }; done; }
ref=$(find_ref)
if [ -z "$ref" ]; then
  echo "gpu-pack: building the CUDA llama-batched-bench (build-bench-cuda/)" >&2
  LMZIP_CUDA_ARCHITECTURES=${LMZIP_CUDA_ARCHITECTURES:-90-real} node -e \
    "import('./dist/bench/reference.js').then((m) => { const r = m.findOrBuildReference({ cuda: true, log: console.error }); if (!r.path) { console.error(r.why); process.exit(1); } })"
  ref=$(find_ref)
fi

mkdir -p "$stage"/{build-cuda/Release,build/Release,bench-bin,node_modules,scripts,vendor/llama.cpp/models,shared/corpus,shared/models}
cp package.json "$stage/"
cp -r dist "$stage/"
cp -rL node_modules/node-gyp-build "$stage/node_modules/"
cp scripts/make-test-model.mjs scripts/gguf.mjs scripts/gpu-check.mjs "$stage/scripts/"
cp vendor/llama.cpp/models/ggml-vocab-starcoder.gguf vendor/llama.cpp/models/ggml-vocab-qwen2.gguf "$stage/vendor/llama.cpp/models/"
cp build-cuda/Release/lmzip.node "$stage/build-cuda/Release/"
cp build/Release/lmzip.node "$stage/build/Release/"
cp "$ref" "$stage/bench-bin/llama-batched-bench"
strip --strip-unneeded "$stage/build-cuda/Release/lmzip.node" "$stage/build/Release/lmzip.node" "$stage/bench-bin/llama-batched-bench"
for f in "$shared"/corpus/*; do
  [ "$(basename "$f")" = MANIFEST.md ] && continue
  head -c 1048576 "$f" > "$stage/shared/corpus/$(basename "$f")"
done
cp "$shared/models/stories260K.gguf" "$stage/shared/models/"

rm -rf "$carry"
mkdir -p "$carry"
tar -C "$stage" -cf - . | xz -6 -T0 > "$carry/lmzip-gpu.tar.xz"
if [ "${GPU_PACK_NODE:-1}" = 1 ]; then xz -6 -T0 -c "$(command -v node)" > "$carry/node.xz"; fi
exclude=$(git rev-parse --git-path info/exclude)
grep -qx '/.gpu-carry/' "$exclude" 2>/dev/null || echo '/.gpu-carry/' >> "$exclude"

echo "gpu-pack: sizes (stripped):"
ls -l "$stage/build-cuda/Release/lmzip.node" "$stage/bench-bin/llama-batched-bench" "$stage/build/Release/lmzip.node" | awk '{printf "  %6.1f MiB  %s\n", $5/1048576, $9}'
du -b "$carry"/* | awk '{printf "  %6.1f MiB  %s\n", $1/1048576, $2}'
total=$(du -cb "$carry" | tail -1 | cut -f1)
tree=$(git ls-tree -r -l HEAD | awk '$2 == "blob" { s += $4 } END { print s }')  # submodules travel empty
printf 'gpu-pack: .gpu-carry %.1f MiB + the tracked tree %.1f MiB (limit 64 MiB together)\n' "$(echo "$total/1048576" | bc -l)" "$(echo "$tree/1048576" | bc -l)"
[ $((total + tree)) -le $((64 * 1048576)) ] || { echo 'gpu-pack: too big for the device tool: try GPU_PACK_NODE=0 if the GPU machine has Node >= 20' >&2; exit 1; }
