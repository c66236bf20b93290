#!/usr/bin/env node
// npm's install step for lmzip.
//  * In a git checkout (development): build the addon from source (incremental).
//  * Installed from the registry: use the prebuilt binary for this platform when one
//    loads; otherwise build from the llama.cpp sources shipped in the package.
// LMZIP_SKIP_BUILD=1 skips everything (e.g. when LMZIP_NATIVE_BINARY points elsewhere).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.LMZIP_SKIP_BUILD === '1') process.exit(0);

const developing = existsSync(join(root, '.git'));
if (!developing) {
  // Try the prebuilt binary in a child process: a binary that crashes on load must
  // not take the installer down with it.
  const probe = spawnSync(process.execPath, ['-e', `require('node-gyp-build')(${JSON.stringify(root)}).backendInfo()`], { cwd: root, stdio: 'ignore' });
  if (probe.status === 0) process.exit(0);
  console.error('lmzip: no prebuilt binary loads on this platform; building from source (needs cmake and a C++ compiler, a few minutes)');
}
const r = spawnSync(process.execPath, [join(root, 'scripts/build-native.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
