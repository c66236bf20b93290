#!/usr/bin/env node
// Populates vendor/llama.cpp with the pinned llama.cpp release when it is empty.
//
// GitHub is not reachable from our machines, so the source comes from the git
// bundle that the npm package node-llama-cpp ships (llama/gitRelease.bundle):
//   1. node_modules/node-llama-cpp/llama/ if node-llama-cpp happens to be installed;
//   2. otherwise `npm pack node-llama-cpp@<pinned>` (one 35 MB tarball from the npm
//      registry, no dependencies, no install scripts) into a cache folder.
// The release tag in llama.cpp.info.json and the commit of the bundle's HEAD are
// both checked against scripts/llama-cpp.json; nothing else is ever downloaded.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homedir } from 'node:os';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pin = JSON.parse(readFileSync(join(root, 'scripts/llama-cpp.json'), 'utf8'));
const target = join(root, 'vendor/llama.cpp');

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts }).trim();
}

function fail(message) {
  console.error(`lmzip: cannot populate vendor/llama.cpp: ${message}`);
  process.exit(1);
}

/** The vendored tree is ready when its sources exist; a git checkout must also be at the pin. */
function vendoredTreeIsReady() {
  if (!existsSync(join(target, 'CMakeLists.txt')) || !existsSync(join(target, 'src/llama.cpp'))) return false;
  if (!existsSync(join(target, '.git'))) return true; // shipped inside the npm tarball, no history
  const head = run('git', ['-C', target, 'rev-parse', 'HEAD']);
  if (head !== pin.commit) fail(`vendor/llama.cpp is at ${head} but scripts/llama-cpp.json pins ${pin.commit}; run \`git -C vendor/llama.cpp checkout ${pin.commit}\` or update the pin`);
  return true;
}

function findBundleDir() {
  const installed = join(root, 'node_modules/node-llama-cpp');
  if (existsSync(join(installed, pin.bundlePath))) return installed;
  const cache = join(process.env.LMZIP_VENDOR_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lmzip', 'vendor'));
  const unpacked = join(cache, pin.sourcePackage.replace(/[@/]/g, '_'), 'package');
  if (existsSync(join(unpacked, pin.bundlePath))) return unpacked;
  mkdirSync(dirname(unpacked), { recursive: true });
  console.error(`lmzip: fetching ${pin.sourcePackage} from the npm registry for its llama.cpp bundle…`);
  const tarball = run('npm', ['pack', pin.sourcePackage, '--silent', '--ignore-scripts', '--pack-destination', dirname(unpacked)]).split('\n').pop();
  run('tar', ['-xzf', join(dirname(unpacked), tarball), '-C', dirname(unpacked), `package/${pin.bundlePath}`, `package/${pin.infoPath}`]);
  return unpacked;
}

if (vendoredTreeIsReady()) process.exit(0);
if (existsSync(target) && readdirSync(target).length > 0) fail('the folder is not empty but holds no llama.cpp source; remove it and run again');

const bundleDir = findBundleDir();
const info = JSON.parse(readFileSync(join(bundleDir, pin.infoPath), 'utf8'));
if (info.tag !== pin.tag) fail(`${pin.sourcePackage} ships llama.cpp ${info.tag}, but scripts/llama-cpp.json pins ${pin.tag}`);
const bundle = join(bundleDir, pin.bundlePath);
const heads = run('git', ['bundle', 'list-heads', bundle]);
if (!heads.includes(pin.commit)) fail(`the bundle's HEAD is not the pinned commit ${pin.commit}:\n${heads}`);

mkdirSync(target, { recursive: true });
run('git', ['clone', '--quiet', '--no-checkout', bundle, target]);
run('git', ['-C', target, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', pin.commit]);
console.error(`lmzip: vendor/llama.cpp populated with llama.cpp ${pin.tag} (${pin.commit.slice(0, 12)})`);
