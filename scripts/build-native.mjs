#!/usr/bin/env node
// Builds the addon with cmake-js: llama.cpp's static libraries plus native/.
// Populates vendor/llama.cpp first if it is empty.
//
//   (default)        build/Release/lmzip.node, portable x86-64 baseline
//   LMZIP_NATIVE=1   build for this CPU (-march=native); files it writes decode only
//                    on builds with the same profile (docs/DETERMINISM.md)
//   LMZIP_CUDA=1     build-cuda/Release/lmzip.node with llama.cpp's CUDA backend (needs the
//                    CUDA toolkit; docs/GPU.md). A separate folder, so that the CPU build
//                    stays as it is and switching between them rebuilds nothing.
//     LMZIP_CUDA_ARCHITECTURES=90-real   only these GPU architectures (a check build takes a
//                    quarter of the time); default: CMakeLists.txt's release list
//     LMZIP_CUBLAS_DIR=DIR   cuBLAS's headers when the toolkit has none: DIR/include/cublas_v2.h
//                    (e.g. the nvidia/cu13 folder of the nvidia-cublas wheel; found by itself
//                    in python3's pip packages). The binary links no cuBLAS: it opens
//                    libcublas.so.13 when first used (native/cublas_shim.cpp)
//   LMZIP_DEBUG=1    debug build
//   LMZIP_CCACHE=0   do not use ccache even when it is installed
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const env = process.env;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`lmzip: ${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(r.status || 1);
  }
}

/** cuBLAS from `pip install nvidia-cublas` (python3's site-packages), when the toolkit has none. */
function pipCublasDir() {
  const r = spawnSync('python3', ['-c', 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))'], { encoding: 'utf8' });
  const dir = r.status === 0 ? r.stdout.trim() : '';
  return dir && existsSync(join(dir, 'include/cublas_v2.h')) ? dir : '';
}

run(process.execPath, [join(root, 'scripts/vendor-llama.mjs')]);
const cuda = env.LMZIP_CUDA === '1';
const out = join(root, cuda ? 'build-cuda' : 'build');
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin/cmake-js');
const args = ['compile', '--directory', root, '--out', out, '--parallel', String(availableParallelism())];
// ccache, when installed, makes rebuilds (and builds in other checkouts) take seconds.
if (env.LMZIP_CCACHE !== '0' && spawnSync('ccache', ['--version'], { stdio: 'ignore' }).status === 0)
  for (const lang of ['C', 'CXX', 'CUDA']) args.push(`--CDCMAKE_${lang}_COMPILER_LAUNCHER=ccache`);
if (env.LMZIP_NATIVE === '1') args.push('--CDLMZIP_NATIVE=ON');
if (cuda) {
  args.push('--CDLMZIP_CUDA=ON');
  args.push(`--CDLMZIP_CUDA_ARCHITECTURES=${env.LMZIP_CUDA_ARCHITECTURES ?? ''}`);
  const toolkitHasCublas = ['/usr/local/cuda/include/cublas_v2.h', join(env.CUDA_PATH ?? '/nonexistent', 'include/cublas_v2.h')].some(existsSync);
  const cublas = env.LMZIP_CUBLAS_DIR ?? (toolkitHasCublas ? '' : pipCublasDir());
  if (cublas) args.push(`--CDLMZIP_CUBLAS_DIR=${resolve(cublas)}`);
}
if (env.LMZIP_DEBUG === '1') args.push('--debug');
const started = Date.now();
run(process.execPath, [cmakeJs, ...args]);
console.error(`lmzip: native addon built in ${((Date.now() - started) / 1000).toFixed(0)} s: ${join(out, 'Release/lmzip.node').slice(root.length + 1)}`);
