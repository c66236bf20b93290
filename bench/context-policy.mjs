// The three context policies of a full lane side by side (docs/FORMAT.md, "The lane
// schedule"): restart, shift in place (SHIFT_CONTEXT) and compacting shift (with
// COMPACT_SHIFT). docs/benchmark.md, "Compacting shift", reports both modes.
//
//   node bench/context-policy.mjs speed [--lanes 16] [--bytes 65536] [--pairs 3] [--window 1024] [--policies restart,compact] [--model PATH]
//   node bench/context-policy.mjs sizes [--model PATH]
//
// speed: the raw schedule (measureModelSpeed: the model's evaluation, no coding) of each
// policy in turn, PAIRS times in one process, so that the machine's drift falls on all
// of them alike; tokens/s. Default model: the SmolLM2-135M-shape test model
// (`node scripts/make-test-model.mjs --shape smollm2-135m --if-missing`).
// sizes: stories260K (the trained model here) on 64 KiB of TinyStories and on
// alice29.txt, 1 and 16 lanes: bytes and seconds of each policy, round trip checked.
// Needs `npm run build`; texts from ../shared/corpus (or LMZIP_SHARED_DIR).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compressWithStats, decompress, measureModelSpeed, Model } from '../dist/index.js';

const { values: v, positionals } = parseArgs({ allowPositionals: true, options: { lanes: { type: 'string' }, bytes: { type: 'string' },
  pairs: { type: 'string' }, window: { type: 'string' }, policies: { type: 'string' }, model: { type: 'string' } } });
const mode = positionals[0];
if (mode !== 'speed' && mode !== 'sizes') throw new Error('usage: node bench/context-policy.mjs speed|sizes [options]');
const root = new URL('..', import.meta.url).pathname;
const shared = process.env.LMZIP_SHARED_DIR ?? join(root, '../shared');
const corpus = (name) => readFileSync(join(shared, 'corpus', name));
const POLICIES = {
  restart: { shiftContext: false },
  inplace: { shiftContext: true, compactShift: false },
  compact: { shiftContext: true, compactShift: true },
};
const policies = (v.policies ?? (mode === 'speed' ? 'restart,compact' : 'restart,inplace,compact')).split(',');
for (const p of policies) if (!(p in POLICIES)) throw new Error(`unknown policy ${p}: restart, inplace or compact`);

if (mode === 'speed') {
  const lanes = Number(v.lanes ?? 16), bytes = Number(v.bytes ?? 65536), pairs = Number(v.pairs ?? 3), window = Number(v.window ?? 1024);
  const model = await Model.load(v.model ?? join(homedir(), '.cache/lmzip/test-models/smollm2-135m-q8_0-seed1.gguf'), { threads: 2 });
  const text = corpus('tinystories-valid-part1.txt').subarray(0, bytes);
  const base = { lanes, window, chunkSize: Math.max(64, Math.ceil(bytes / lanes)) };
  console.log(`${lanes} lanes, window ${window}, ${bytes} bytes of TinyStories, 2 threads: raw schedule tok/s`);
  for (let round = 1; round <= pairs; round++) {
    const row = [];
    for (const p of policies) {
      const { tokens, seconds } = await measureModelSpeed(model, text, { ...base, ...POLICIES[p] });
      row.push(`${p} ${(tokens / seconds).toFixed(1)}`);
    }
    console.log(`round ${round}: ${row.join(' | ')}`);
  }
  model.dispose();
} else {
  const model = await Model.load(v.model ?? join(shared, 'models/stories260K.gguf'), { threads: 2 });
  const inputs = { 'TinyStories 64 KiB': corpus('tinystories-valid-part1.txt').subarray(0, 65536), 'alice29.txt': corpus('alice29.txt') };
  for (const [name, data] of Object.entries(inputs)) {
    for (const lanes of [1, 16]) {
      const row = [];
      for (const p of policies) {
        const t = performance.now();
        const { output } = await compressWithStats(data, { model, lanes, ...POLICIES[p] });
        const seconds = (performance.now() - t) / 1000;
        if (!(await decompress(output, { model })).equals(data)) throw new Error(`${name}, ${p}: the round trip failed`);
        row.push(`${p} ${output.length} B ${seconds.toFixed(1)} s`);
      }
      console.log(`${name}, ${lanes} lane${lanes === 1 ? "" : "s"}: ${row.join(' | ')}`);
    }
  }
  model.dispose();
}
