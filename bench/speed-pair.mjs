// Back-to-back pairs: llama-batched-bench's decode rate, then one lmzip compress and
// decompress of the same text in one process, N rounds. On a machine whose speed
// drifts, a pair taken within half a minute compares better than two medians taken
// minutes apart (docs/benchmark.md, "Latest: 2 threads, quiet machine").
//
//   node bench/speed-pair.mjs [--lanes 16] [--bytes 16384] [--rounds 2] [--threads 2] [--model PATH]
//
// Needs `npm run build` and the reference built once by `npm run bench` (build-bench/),
// or LMZIP_BATCHED_BENCH. The model defaults to the SmolLM2-135M-shape test model
// (`node scripts/make-test-model.mjs --shape smollm2-135m --if-missing`). The text is
// the first BYTES of ../shared/corpus/tinystories-valid-part1.txt, one chunk per lane.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { averageDepth, referenceContext, referenceSteps } from '../dist/bench/reference.js';
import { compressWithStats, decompress, inspect, Model } from '../dist/index.js';

const { values: v } = parseArgs({ options: { lanes: { type: 'string' }, bytes: { type: 'string' }, rounds: { type: 'string' },
  threads: { type: 'string' }, model: { type: 'string' } } });
const lanes = Number(v.lanes ?? 16), bytes = Number(v.bytes ?? 16384), rounds = Number(v.rounds ?? 2), threads = Number(v.threads ?? 2);
const root = new URL('..', import.meta.url).pathname;
const modelPath = v.model ?? join(homedir(), '.cache/lmzip/test-models/smollm2-135m-q8_0-seed1.gguf');
const bench = process.env.LMZIP_BATCHED_BENCH ?? join(root, 'build-bench/llama-batched-bench/llama-batched-bench');
if (!existsSync(bench)) throw new Error(`no llama-batched-bench at ${bench}: run npm run bench once, or set LMZIP_BATCHED_BENCH`);
const shared = process.env.LMZIP_SHARED_DIR ?? join(root, '../shared');
const text = readFileSync(join(shared, 'corpus/tinystories-valid-part1.txt')).subarray(0, bytes);

const model = await Model.load(modelPath, { threads });
const options = { model, lanes, chunkSize: Math.max(64, Math.ceil(bytes / lanes)), measureIdeal: false, forceModel: true };
const seconds = async (fn) => {
  const t = performance.now();
  const r = await fn();
  return [(performance.now() - t) / 1000, r];
};
console.log('round  llama.cpp S_TG  compress tok/s  decompress tok/s  compress/llama  decompress/llama');
for (let round = 1; round <= rounds; round++) {
  const [cs, { output, stats }] = await seconds(() => compressWithStats(text, options));
  const h = inspect(output).header;
  const depth = averageDepth(stats.tokens / stats.modelChunks, h.window, h.overlap);
  const tg = referenceSteps(depth), pp = Math.max(1, Math.round(depth - tg / 2));
  const r = spawnSync(bench, ['-m', modelPath, '-c', String(referenceContext(lanes, h.window, pp, tg)), '-b', '2048', '-ub', '512', '-npp', String(pp), '-ntg', String(tg),
    '-npl', String(lanes), '-t', String(threads), '-tb', String(threads), '-fa', 'off', '-no-kvu', '-ngl', '0', '--output-format', 'jsonl'], { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.includes('"speed_tg"'));
  const ref = line ? JSON.parse(line).speed_tg : NaN;
  const [ds, back] = await seconds(() => decompress(output, { model }));
  if (!back.equals(text)) throw new Error('round trip failed');
  const c = stats.tokens / cs, d = stats.tokens / ds;
  console.log(`${round}      ${ref.toFixed(1).padStart(13)}  ${c.toFixed(1).padStart(14)}  ${d.toFixed(1).padStart(16)}  ` +
    `${((c / ref) * 100).toFixed(1).padStart(13)} %  ${((d / ref) * 100).toFixed(1).padStart(14)} %`);
}
model.dispose();
