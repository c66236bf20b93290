#!/usr/bin/env node
// Builds the addon (build/Release/lmzip.node) with cmake-js: llama.cpp's static
// libraries plus native/. Populates vendor/llama.cpp first if it is empty.
//
//   LMZIP_NATIVE=1   build for this CPU (-march=native); files it writes decode only
//                    on builds with the same profile (docs/DETERMINISM.md)
//   LMZIP_CUDA=1     add the CUDA backend (needs the CUDA toolkit)
//   LMZIP_DEBUG=1    debug build
//   LMZIP_CCACHE=0   do not use ccache even when it is installed
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`lmzip: ${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(r.status || 1);
  }
}

run(process.execPath, [join(root, 'scripts/vendor-llama.mjs')]);
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin/cmake-js');
const args = ['compile', '--directory', root, '--out', join(root, 'build'), '--parallel', String(availableParallelism())];
// ccache, when installed, makes rebuilds (and builds in other checkouts) take seconds.
if (process.env.LMZIP_CCACHE !== '0' && spawnSync('ccache', ['--version'], { stdio: 'ignore' }).status === 0)
  for (const lang of ['C', 'CXX', 'CUDA']) args.push(`--CDCMAKE_${lang}_COMPILER_LAUNCHER=ccache`);
if (process.env.LMZIP_NATIVE === '1') args.push('--CDLMZIP_NATIVE=ON');
if (process.env.LMZIP_CUDA === '1') args.push('--CDLMZIP_CUDA=ON');
if (process.env.LMZIP_DEBUG === '1') args.push('--debug');
const started = Date.now();
run(process.execPath, [cmakeJs, ...args]);
console.error(`lmzip: native addon built in ${((Date.now() - started) / 1000).toFixed(0)} s: build/Release/lmzip.node`);
