#!/usr/bin/env node
// `npm run prebuild`: builds the addon and places it where the loader looks for prebuilt
// binaries.
//  * CPU (default): prebuilds/<platform>-<arch>/lmzip.napi[.glibc].node, inside the lmzip
//    package, with node-gyp-build's (prebuildify's) file naming. prebuildify drives node-gyp
//    only, so lmzip copies its cmake-js output itself.
//  * LMZIP_CUDA=1: packages/lmzip-linux-x64-cuda/lmzip.node, the separate CUDA package
//    (docs/GPU.md); publish it with `npm publish packages/lmzip-linux-x64-cuda`.
// Binaries are stripped (symbols only; the CUDA kernels are kept).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cuda = process.env.LMZIP_CUDA === '1';
const version = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;

let target;
if (cuda) {
  const pkg = join(root, 'packages/lmzip-linux-x64-cuda');
  if (version(pkg) !== version(root)) {
    console.error(`lmzip: ${pkg}/package.json has version ${version(pkg)}, lmzip ${version(root)}: make them equal first`);
    process.exit(1);
  }
  target = join(pkg, 'lmzip.node');
} else {
  const libc = process.platform === 'linux' ? (process.report?.getReport()?.header?.glibcVersionRuntime ? '.glibc' : '.musl') : '';
  target = join(root, 'prebuilds', `${process.platform}-${process.arch}`, `lmzip.napi${libc}.node`);
}
const r = spawnSync(process.execPath, [join(root, 'scripts/build-native.mjs')], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
mkdirSync(dirname(target), { recursive: true });
copyFileSync(join(root, cuda ? 'build-cuda' : 'build', 'Release/lmzip.node'), target);
spawnSync('strip', ['--strip-unneeded', target], { stdio: 'ignore' });
console.error(`lmzip: prebuilt binary ${target.slice(root.length + 1)} (${(statSync(target).size / 1048576).toFixed(1)} MiB)`);
