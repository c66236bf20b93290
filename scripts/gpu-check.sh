#!/usr/bin/env bash
# lmzip's GPU check, for a session that is lent a GPU machine (docs/GPU.md). Prepared here
# by scripts/gpu-pack.sh, run there from the repository root by the device tool:
#
#   run(command="bash scripts/gpu-check.sh", carry=[".gpu-carry"], timeout_s=600)
#
# It prints what the machine has (GPU, driver, CUDA runtime, cuBLAS, Node), finds cuBLAS 13
# (the CUDA build opens it at run time; it is too big to carry), then runs
# scripts/gpu-check.mjs: determinism across processes, threads and concurrent jobs; compress
# and decompress tokens/s and MB/s at lanes 16…256 beside llama-batched-bench built with the
# same settings; peak GPU memory; round trips of every corpus file. Everything goes to $OUT
# (gpu-check.log, results.json) and to standard output. GPU_CHECK_BUDGET (seconds, default
# 420) bounds the measuring, so that the whole call stays well inside 10 minutes.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-check.log") 2>&1
repo=$(pwd)
carry=$repo/.gpu-carry
T=/tmp/lmzip-gpu
started=$(date +%s)
section() { echo; echo "== $* ($(($(date +%s) - started)) s)"; }

section "the machine"
nvidia-smi || echo "nvidia-smi: not available"
nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total,memory.used,clocks.sm --format=csv 2>/dev/null
head -1 /proc/driver/nvidia/version 2>/dev/null || echo "no /proc/driver/nvidia/version"
ldconfig -p | grep -E 'libcublas|libcudart|libcuda\.' || echo "ldconfig: no cuBLAS, cudart or libcuda in the cache"
ls -d /usr/local/cuda*/lib64 2>/dev/null && ls /usr/local/cuda*/lib64 2>/dev/null | grep -E 'cublas|cudart' | head
echo "cores: $(nproc); memory: $(free -g | awk '/Mem:/ {print $2}') GiB; uname: $(uname -r)"

section "unpack"
[ -f "$carry/lmzip-gpu.tar.xz" ] || { echo "gpu-check: $carry/lmzip-gpu.tar.xz is missing: run scripts/gpu-pack.sh and carry .gpu-carry"; exit 2; }
rm -rf "$T" && mkdir -p "$T"
tar -xJf "$carry/lmzip-gpu.tar.xz" -C "$T"
if command -v node >/dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "node $(node --version) from the machine"
elif [ -f "$carry/node.xz" ]; then
  xz -dc "$carry/node.xz" > "$T/node" && chmod +x "$T/node" && export PATH="$T:$PATH"
  echo "node $(node --version) carried"
else
  echo "gpu-check: no Node >= 20 here and none carried (GPU_PACK_NODE=0?)"; exit 2
fi

section "cuBLAS 13"
# The CUDA toolkit's, a pip wheel's (PyTorch's nvidia-cublas), or found by name.
cublas=""
ldp=${LD_LIBRARY_PATH:-}
pydirs=$(python3 -c 'import site, sys; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null || true)
for d in ${LMZIP_CUBLAS_DIR:-} ${LMZIP_CUBLAS_DIR:+$LMZIP_CUBLAS_DIR/lib} ${ldp//:/ } /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 /usr/lib/x86_64-linux-gnu \
         $(for p in $pydirs /opt/*/.venv/lib/python3*/site-packages; do echo "$p/nvidia/cu13/lib $p/nvidia/cublas/lib"; done); do
  if [ -e "$d/libcublas.so.13" ]; then cublas=$d; break; fi
done
[ -n "$cublas" ] || cublas=$(dirname "$(timeout 30 find / -xdev -name 'libcublas.so.13' -not -path '/proc/*' 2>/dev/null | head -1)" 2>/dev/null)
if [ -n "$cublas" ] && [ -e "$cublas/libcublas.so.13" ]; then
  echo "cuBLAS: $cublas"; ls -l "$cublas"/libcublas*.so* | head -4
  export LMZIP_CUBLAS_DIR=$cublas LD_LIBRARY_PATH="$cublas:${LD_LIBRARY_PATH:-}"
else
  echo "gpu-check: no libcublas.so.13 on this machine; the CUDA build runs without it only until a kernel needs cuBLAS"
fi
echo "ldd of the CUDA build (libcuda.so.1 and cuBLAS are opened at run time, never linked):"
ldd "$T/build-cuda/Release/lmzip.node"
node -e "console.log(JSON.stringify(require('$T/build-cuda/Release/lmzip.node').gpuInfo(), null, 1))"

section "checks"
cd "$T"
export LMZIP_CUDA_BINARY="$T/build-cuda/Release/lmzip.node" LMZIP_TEST_MODELS_DIR=/tmp/lmzip-test-models
node scripts/gpu-check.mjs --out "$OUT" --work /tmp/gpu-check-work --corpus "$T/shared/corpus" \
  --stories "$T/shared/models/stories260K.gguf" --reference "$T/bench-bin/llama-batched-bench" \
  --budget "${GPU_CHECK_BUDGET:-420}" ${GPU_CHECK_ARGS:-}
status=$?
section "done (status $status)"
nvidia-smi --query-gpu=memory.used,clocks.sm --format=csv 2>/dev/null
exit $status
