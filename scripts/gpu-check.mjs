#!/usr/bin/env node
// The GPU checks of docs/GPU.md, run by scripts/gpu-check.sh on a machine with an NVIDIA
// GPU (from a tree unpacked by it: dist/, the CUDA and CPU addons, llama-batched-bench).
// Every lmzip call runs in its own process (src/bench/lmzip-worker.ts), so that "across
// processes" is literal and GNU time-free peak GPU memory comes from nvidia-smi.
//
//   node scripts/gpu-check.mjs --out DIR --corpus DIR --stories FILE [--budget SECONDS] [--work DIR]
//        [--reference PATH] [--lanes 16,32,64,128,256] [--round-trip-bytes N]
//
// Order: facts → determinism → speed sweep → round trips of every corpus file; each
// phase checks the time left, and results.json is rewritten after every measurement, so
// a run cut short still leaves what it measured. Nothing here is a pass/fail unit test:
// it prints and records numbers; `ok: false` marks what did not hold.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { runWorker } = await import(join(root, 'dist/bench/lmzip-runner.js'));
const { averageDepth, runReference } = await import(join(root, 'dist/bench/reference.js'));

const { values: v } = parseArgs({
  options: {
    out: { type: 'string', default: '/tmp/gpu-check' },
    // Scratch files (compressed and decompressed copies): outside --out, which should
    // hold only the few result files.
    work: { type: 'string', default: '/tmp/gpu-check-work' },
    corpus: { type: 'string' },
    stories: { type: 'string' },
    budget: { type: 'string', default: '420' },
    reference: { type: 'string' },
    lanes: { type: 'string', default: '16,32,64,128,256' },
    'round-trip-bytes': { type: 'string', default: String(1 << 20) },
    shapes: { type: 'string', default: 'smollm2-135m' },
    'det-bytes': { type: 'string', default: String(64 << 10) },
    'det-lanes': { type: 'string', default: '64' },
    // cpu: a dry run of this script on a machine without a GPU (with --shapes tiny).
    backend: { type: 'string', default: 'cuda' },
  },
});
const started = Date.now();
const budget = Number(v.budget) * 1000;
const left = () => budget - (Date.now() - started);
const out = resolve(v.out);
const work = resolve(v.work);
mkdirSync(out, { recursive: true });
mkdirSync(work, { recursive: true });
const log = (s) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const results = { startedAt: new Date().toISOString(), loadAverage: loadavg()[0], budgetSeconds: Number(v.budget), gpu: null, models: {}, checks: [], sweep: [], roundTrips: [] };
const save = () => writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
const sha = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

// ---- GPU memory: nvidia-smi every 100 ms, kept with our own clock --------------------
const memory = [];
let smi;
try {
  smi = spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '100'], { stdio: ['ignore', 'pipe', 'ignore'] });
  smi.stdout.setEncoding('utf8');
  smi.stdout.on('data', (d) => {
    for (const l of d.split('\n')) if (l.trim()) memory.push([Date.now(), Number(l.trim().split(',')[0])]);
  });
  smi.on('error', () => {});
} catch {
  /* no nvidia-smi: no memory figures */
}
// Only a started nvidia-smi: kill() on a child whose spawn failed can signal pid 0, our own process group.
const stopSmi = () => {
  if (smi?.pid) smi.kill();
};
/** Peak MiB used on the GPU between t0 and t1, and the lowest (what was there before us). */
const gpuMemory = (t0, t1) => {
  const w = memory.filter(([t]) => t >= t0 && t <= t1).map(([, m]) => m);
  return w.length ? { peakMiB: Math.max(...w), minMiB: Math.min(...w) } : null;
};

// ---- one lmzip call in its own process -----------------------------------------------
async function call(req) {
  const t0 = Date.now();
  const r = await runWorker(req, Math.max(10_000, left() + 60_000));
  return { ...r.response, processSeconds: r.processSeconds, memory: gpuMemory(t0, Date.now()) };
}
const backend = v.backend;
const compress = (model, input, output, o = {}) =>
  call({ mode: 'compress', model, input, output, backend, forceModel: true, measureIdeal: false, ...o });
const decompress = (model, input, output, o = {}) => call({ mode: 'decompress', model, input, output, backend, ...o });

function slice(file, bytes) {
  const p = join(work, `${basename(file)}.${bytes}`);
  writeFileSync(p, readFileSync(file).subarray(0, bytes));
  return p;
}

function check(name, ok, detail) {
  results.checks.push({ name, ok, ...detail });
  log(`${ok ? 'OK  ' : 'FAIL'} ${name}${detail?.note ? ` — ${detail.note}` : ''}`);
  save();
}

// ---- facts ------------------------------------------------------------------------------
const cudaBinary = join(root, 'build-cuda/Release/lmzip.node');
const info = JSON.parse(spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(cudaBinary)}).gpuInfo()))`], { encoding: 'utf8' }).stdout || 'null');
results.gpu = info;
log(`CUDA build: ${JSON.stringify(info)}`);
save();
if (backend === 'cuda' && !info?.devices?.length) {
  log('no GPU visible to the CUDA build: nothing to measure');
  stopSmi();
  process.exit(1);
}

const models = {};
for (const shape of v.shapes.split(',')) {
  const t = Date.now();
  const r = spawnSync(process.execPath, [join(root, 'scripts/make-test-model.mjs'), '--shape', shape, '--out', join(work, `${shape}.gguf`)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-test-model ${shape}: ${r.stderr}`);
  models[shape] = r.stdout.trim();
  results.models[shape] = { path: models[shape], bytes: statSync(models[shape]).size, seconds: (Date.now() - t) / 1000 };
  log(`model ${shape}: ${models[shape]}`);
}
const smol = models[v.shapes.split(',')[0]]; // the main model: the SmolLM2-135M shape unless --shapes says otherwise
const english = join(v.corpus, 'tinystories-valid-part1.txt');

// ---- determinism (SmolLM2 shape, Q8_0, the MMQ path) ------------------------------------
{
  const input = slice(english, Number(v['det-bytes']));
  const detLanes = Number(v['det-lanes']);
  const files = [];
  for (let i = 0; i < 5; i++) {
    const f = join(work, `det-${i}.lmz`);
    const r = await compress(smol, input, f, { lanes: detLanes });
    if (!r.ok) {
      check('compress on the GPU', false, { note: r.error });
      break;
    }
    files.push(f);
    if (i === 0) {
      results.profile = r.profile;
      log(`profile of a ${backend}-written file: ${results.profile}`);
    }
  }
  if (files.length < 5) {
    log('no determinism checks without a working compression');
    results.finishedAt = new Date().toISOString();
    save();
    stopSmi();
    process.exit(1);
  }
  const hashes = files.map(sha);
  check('5 compressions of the same input in 5 processes give identical files', hashes.length === 5 && new Set(hashes).size === 1, { hashes });
  const t1 = join(work, 'det-t1.lmz');
  const tN = join(work, 'det-tN.lmz');
  await compress(smol, input, t1, { lanes: detLanes, threads: 1 });
  await compress(smol, input, tN, { lanes: detLanes, threads: availableParallelism() });
  check(`1 and ${availableParallelism()} CPU threads give identical files`, sha(t1) === hashes[0] && sha(tN) === hashes[0], {});
  // Three jobs at once on the same GPU, and one other job on it with other lanes.
  const together = await Promise.all([0, 1, 2].map((i) => compress(smol, input, join(work, `det-c${i}.lmz`), { lanes: detLanes })).concat(
    compress(smol, slice(english, Number(v['det-bytes']) >> 1), join(work, 'det-other.lmz'), { lanes: Math.max(1, detLanes >> 2) })));
  check('3 concurrent jobs sharing the GPU (and a 4th, different one) give the same file', together.every((r) => r.ok) &&
    [0, 1, 2].every((i) => sha(join(work, `det-c${i}.lmz`)) === hashes[0]), {});
  const back = join(work, 'det.out');
  const d = await decompress(smol, files[0], back);
  check('another process decodes it exactly', d.ok && readFileSync(back).equals(readFileSync(input)), { note: d.error });
  if (backend === 'cuda') {
    const cpu = await decompress(smol, files[0], join(work, 'det-cpu.out'), { backend: 'cpu' });
    check('the CPU refuses the GPU-written file with PROFILE_MISMATCH', !cpu.ok && /PROFILE_MISMATCH/.test(cpu.error ?? ''), { note: cpu.error?.slice(0, 300) });
  }
}

// ---- speed: lanes sweep beside llama-batched-bench -------------------------------------
const lanesList = v.lanes.split(',').map(Number);
let bytesPerLane = 4096;
for (const lanes of lanesList) {
  if (left() < 90_000) {
    log(`sweep stopped before ${lanes} lanes: ${(left() / 1000).toFixed(0)} s left`);
    break;
  }
  const input = slice(english, lanes * bytesPerLane);
  const f = join(work, `sweep-${lanes}.lmz`);
  const c = await compress(smol, input, f, { lanes });
  if (!c.ok) {
    results.sweep.push({ lanes, error: c.error });
    log(`sweep ${lanes} lanes: ${c.error}`);
    save();
    continue;
  }
  const d = await decompress(smol, f, join(work, `sweep-${lanes}.out`));
  const raw = await call({ mode: 'raw', model: smol, input, lanes, backend });
  const s = c.schedule;
  const depth = s ? averageDepth(s.tokens / s.modelChunks, s.window, s.overlap) : null;
  let reference = null;
  if (v.reference && depth !== null) {
    const t0 = Date.now();
    const r = await runReference(v.reference, smol, { lanes, threads: availableParallelism(), depth, gpuLayers: backend === 'cuda' ? 99 : 0, timeoutMs: 120_000 });
    reference = 'error' in r ? { error: r.error } : { pp: r.pp, tg: r.tg, tokensPerSecond: r.tgTokensPerSecond, memory: gpuMemory(t0, Date.now()) };
  }
  const bytes = statSync(input).size;
  const point = {
    lanes, bytes, tokens: c.stats.tokens, depth,
    compressTokensPerSecond: c.stats.tokens / c.callSeconds, decompressTokensPerSecond: d.ok ? c.stats.tokens / d.callSeconds : null,
    compressMBps: bytes / c.callSeconds / 1e6, decompressMBps: d.ok ? bytes / d.callSeconds / 1e6 : null,
    rawTokensPerSecond: raw.ok ? raw.raw.tokens / raw.raw.seconds : null,
    roundTrip: d.ok && readFileSync(join(work, `sweep-${lanes}.out`)).equals(readFileSync(input)),
    compressCpuSeconds: c.cpuSeconds, compressSeconds: c.callSeconds, decompressSeconds: d.callSeconds,
    gpuMemory: { compress: c.memory, decompress: d.memory }, reference,
  };
  results.sweep.push(point);
  save();
  log(`sweep ${lanes} lanes, ${bytes} bytes: compress ${point.compressTokensPerSecond.toFixed(0)} tok/s (${point.compressMBps.toFixed(3)} MB/s), ` +
    `decompress ${point.decompressTokensPerSecond?.toFixed(0)} tok/s, raw ${point.rawTokensPerSecond?.toFixed(0)} tok/s, ` +
    `llama-batched-bench ${reference?.tokensPerSecond?.toFixed(0) ?? reference?.error ?? '–'} tok/s at depth ${depth?.toFixed(0)}, ` +
    `GPU memory peak ${c.memory?.peakMiB ?? '–'} MiB, round trip ${point.roundTrip ? 'ok' : 'FAILED'}`);
  // Keep each point near 20 s per direction: size the next input from this rate.
  bytesPerLane = Math.max(1024, Math.min(16384, Math.round((point.compressMBps * 1e6 * 20) / (lanes * 2) / 1024) * 1024));
}

// ---- round trips of every corpus file, first N bytes, on the GPU ------------------------
// Each file gets the first min(N, its size) bytes, fewer when the time left would not
// hold them at the rate measured so far; results.json records the bytes each one got.
const corpus = readdirSync(v.corpus).filter((f) => f !== 'MANIFEST.md').sort();
const want = Number(v['round-trip-bytes']);
const sweepRate = results.sweep.filter((p) => p.compressMBps).map((p) => 1 / (1 / p.compressMBps + 1 / (p.decompressMBps ?? p.compressMBps)) * 1e6)[0];
const runs = [['stories260K (F32 weights: cuBLAS and F32 kernels)', v.stories, 64, 0.5, 200e3], [`${v.shapes.split(',')[0]} shape (Q8_0: MMQ kernels)`, smol, 64, 1, sweepRate ?? 5e3]];
for (const [label, model, lanes, share, firstRate] of runs) {
  if (!model) continue;
  const until = Date.now() + (left() - 20_000) * share;
  let rate = firstRate; // bytes per second through compress + decompress
  for (let i = 0; i < corpus.length; i++) {
    const name = corpus[i];
    const perFile = (until - Date.now()) / (corpus.length - i) / 1000;
    const size = Math.min(want, statSync(join(v.corpus, name)).size, Math.max(4096, Math.floor((rate * perFile) / 4096) * 4096));
    if (perFile < 2) {
      log(`round trips (${label}) stopped before ${name}: out of time`);
      break;
    }
    const input = slice(join(v.corpus, name), size);
    const f = join(work, `rt-${name}.lmz`);
    const t0 = Date.now();
    const c = await compress(model, input, f, { lanes });
    const d = c.ok ? await decompress(model, f, join(work, `rt-${name}.out`)) : c;
    const ok = c.ok && d.ok && readFileSync(join(work, `rt-${name}.out`)).equals(readFileSync(input));
    const seconds = (Date.now() - t0) / 1000;
    if (c.ok && d.ok && size >= 16384) rate = size / (c.callSeconds + d.callSeconds);
    results.roundTrips.push({ model: label, file: name, bytes: size, fileBytes: statSync(join(v.corpus, name)).size, ok, tokens: c.stats?.tokens, compressed: c.outputBytes, seconds, error: c.error ?? d.error });
    log(`round trip ${label} ${name}: first ${size} bytes ${ok ? 'exact' : `FAILED ${c.error ?? d.error ?? ''}`}, ${seconds.toFixed(1)} s`);
    save();
    rmSync(f, { force: true });
  }
}

results.finishedAt = new Date().toISOString();
results.seconds = (Date.now() - started) / 1000;
results.gpuMemoryPeakMiB = memory.length ? Math.max(...memory.map(([, m]) => m)) : null;
save();
stopSmi();
const failed = results.checks.filter((c) => !c.ok).length + results.roundTrips.filter((r) => !r.ok).length + results.sweep.filter((p) => p.roundTrip === false).length;
log(`done in ${results.seconds.toFixed(0)} s: ${results.checks.length} checks, ${results.sweep.length} sweep points, ${results.roundTrips.length} round trips, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
