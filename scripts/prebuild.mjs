#!/usr/bin/env node
// `npm run prebuild`: builds the addon and places it where node-gyp-build looks for
// prebuilt binaries: prebuilds/<platform>-<arch>/lmzip.napi[.glibc].node.
// prebuildify drives node-gyp only, so lmzip copies its cmake-js output itself,
// using the same file naming as prebuildify.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'build/Release/lmzip.node');
const r = spawnSync(process.execPath, [join(root, 'scripts/build-native.mjs')], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
const libc = process.platform === 'linux' ? (process.report?.getReport()?.header?.glibcVersionRuntime ? '.glibc' : '.musl') : '';
const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
const target = join(dir, `lmzip.napi${libc}.node`);
copyFileSync(built, target);
spawnSync('strip', ['--strip-unneeded', target], { stdio: 'ignore' });
console.error(`lmzip: prebuilt binary ${target.slice(root.length + 1)} (${(statSync(target).size / 1048576).toFixed(1)} MiB)`);
