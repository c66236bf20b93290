// Back-to-back pairs: lmzip compress and decompress of the same text in one process,
// each between two runs of llama-batched-bench at the same lanes, threads, KV cells
// and average depth, N rounds, and the median ratio. On a machine whose speed drifts,
// a run compared with the reference just before and after it compares better than
// two medians taken minutes apart (docs/benchmark.md, "At real size").
//
//   node bench/speed-pair.mjs [--lanes 16] [--bytes 16384] [--rounds 2] [--threads 2] [--model PATH]
//                             [--window N] [--shift on|inplace|off]
//
// --window: the lanes' window (default: the model's); --shift: full lanes shift
// llama.cpp's cache with their kept cells moved down (on: COMPACT_SHIFT, lmzip's
// default where the model allows it), shift it without moving them (inplace:
// SHIFT_CONTEXT alone, as written before COMPACT_SHIFT), or restart and feed their
// kept tokens again (off) (docs/FORMAT.md, "The lane schedule").
//
// Needs `npm run build` and the reference built once by `npm run bench` (build-bench/),
// or LMZIP_BATCHED_BENCH. The model defaults to the SmolLM2-135M-shape test model
// (`node scripts/make-test-model.mjs --shape smollm2-135m --if-missing`). The text is
// the first BYTES of ../shared/corpus/tinystories-valid-part1.txt, one chunk per lane.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { averageDepth, runReference } from '../dist/bench/reference.js';
import { compressWithStats, decompress, inspect, Model } from '../dist/index.js';

const { values: v } = parseArgs({ options: { lanes: { type: 'string' }, bytes: { type: 'string' }, rounds: { type: 'string' },
  threads: { type: 'string' }, model: { type: 'string' }, window: { type: 'string' }, shift: { type: 'string' } } });
const SHIFT = { on: { shiftContext: true }, inplace: { shiftContext: true, compactShift: false }, off: { shiftContext: false } };
if (v.shift !== undefined && !(v.shift in SHIFT)) throw new Error('--shift takes on, inplace or off');
const lanes = Number(v.lanes ?? 16), bytes = Number(v.bytes ?? 16384), rounds = Number(v.rounds ?? 2), threads = Number(v.threads ?? 2);
const root = new URL('..', import.meta.url).pathname;
const modelPath = v.model ?? join(homedir(), '.cache/lmzip/test-models/smollm2-135m-q8_0-seed1.gguf');
const bench = process.env.LMZIP_BATCHED_BENCH ?? join(root, 'build-bench/llama-batched-bench/llama-batched-bench');
if (!existsSync(bench)) throw new Error(`no llama-batched-bench at ${bench}: run npm run bench once, or set LMZIP_BATCHED_BENCH`);
const shared = process.env.LMZIP_SHARED_DIR ?? join(root, '../shared');
const text = readFileSync(join(shared, 'corpus/tinystories-valid-part1.txt')).subarray(0, bytes);

const model = await Model.load(modelPath, { threads });
const options = { model, lanes, chunkSize: Math.max(64, Math.ceil(bytes / lanes)), measureIdeal: false, forceModel: true,
  ...(v.window ? { window: Number(v.window) } : {}), ...(v.shift ? SHIFT[v.shift] : {}) };
const seconds = async (fn) => {
  const t = performance.now();
  const r = await fn();
  return [(performance.now() - t) / 1000, r];
};
// The benchmark's own reference run (src/bench/reference.ts): the same arguments as the sweep's.
const reference = async (window, depth) => {
  const r = await runReference(bench, modelPath, { lanes, window, threads, depth, gpuLayers: 0 });
  if ('error' in r) throw new Error(r.error);
  return r.tgTokensPerSecond;
};
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
const pct = (x) => `${(x * 100).toFixed(1).padStart(6)} %`;
// The schedule (window, depth) is the file's: compress once to learn it.
const [, first] = await seconds(() => compressWithStats(text, options));
const header = inspect(first.output).header;
const depth = averageDepth(first.stats.tokens / first.stats.modelChunks, header.window, header.overlap);
console.log(`${lanes} lanes, ${threads} threads, ${first.stats.tokens} tokens, window ${header.window}, ` +
  `${header.shiftContext ? (header.compactShift ? 'compacting shift' : 'shift in place') : 'restart'}, average KV depth ${depth.toFixed(0)}`);
console.log('round  llama.cpp S_TG (before/between/after)  compress tok/s  decompress tok/s  compress/llama  decompress/llama');
const ratios = { c: [], d: [] };
// Each lmzip run sits between two reference runs and is compared with their mean, so
// that a drift during the round cancels to first order: R C R D R C R D R …
let before = await reference(header.window, depth);
for (let round = 1; round <= rounds; round++) {
  const [cs, { output, stats }] = await seconds(() => compressWithStats(text, options));
  const between = await reference(header.window, depth);
  const [ds, back] = await seconds(() => decompress(output, { model }));
  if (!back.equals(text)) throw new Error('round trip failed');
  const after = await reference(header.window, depth);
  const c = stats.tokens / cs, d = stats.tokens / ds;
  ratios.c.push((2 * c) / (before + between));
  ratios.d.push((2 * d) / (between + after));
  console.log(`${String(round).padEnd(5)}  ${[before, between, after].map((x) => x.toFixed(1)).join(' / ').padStart(35)}  ` +
    `${c.toFixed(1).padStart(14)}  ${d.toFixed(1).padStart(16)}  ${pct(ratios.c.at(-1)).padStart(14)}  ${pct(ratios.d.at(-1)).padStart(16)}`);
  before = after;
}
console.log(`median of ${rounds}: compress ${pct(median(ratios.c)).trim()}, decompress ${pct(median(ratios.d)).trim()} of llama.cpp ` +
  `(range ${pct(Math.min(...ratios.c)).trim()}–${pct(Math.max(...ratios.c)).trim()}, ${pct(Math.min(...ratios.d)).trim()}–${pct(Math.max(...ratios.d)).trim()})`);
model.dispose();
