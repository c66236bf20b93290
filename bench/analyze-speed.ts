// lmzip analyze against compression, by CPU time (user + system of this process,
// all threads): the goal is analysis within 10% of compression (issue 13).
// Both calls run the same model, settings and input, alternately, several times.
//
// Run: npx tsx bench/analyze-speed.ts [--bytes N] [--runs N] [--model PATH]... [--file PATH]
// (LMZIP_SHARED_DIR names the shared folder; default ../shared beside the repo.)
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { analyze, compressWithStats, Model } from '../src/index.js';

const shared = process.env.LMZIP_SHARED_DIR ?? resolve(import.meta.dirname, '../../shared');
const { values } = parseArgs({
  options: {
    bytes: { type: 'string', default: '65536' },
    runs: { type: 'string', default: '3' },
    model: { type: 'string', multiple: true },
    file: { type: 'string' },
    'top-k': { type: 'string', default: '5' },
  },
});
const models = values.model ?? [join(shared, 'models/stories260K.gguf'), join(shared, 'models/llama-2-tiny-random.gguf')];
const file = values.file ?? join(shared, 'corpus/tinystories-valid-part1.txt');
const data = readFileSync(file).subarray(0, Number(values.bytes));
const runs = Number(values.runs);
const topK = Number(values['top-k']);

function cpu<T>(fn: () => Promise<T>): Promise<{ result: T; cpu: number; wall: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return fn().then((result) => {
    const c = process.cpuUsage(c0);
    return { result, cpu: (c.user + c.system) / 1e6, wall: (performance.now() - t0) / 1000 };
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`input: ${file}, first ${data.length} bytes; ${runs} runs each, alternating; top-k ${topK}`);
for (const path of models) {
  const model = await Model.load(path, { threads: 1 });
  try {
    const c: number[] = [], a: number[] = [];
    let tokens = 0;
    let sums = '';
    for (let r = 0; r < runs; r++) {
      // as `lmzip FILE` compresses: no ideal-length measurement
      const comp = await cpu(() => compressWithStats(data, { model }));
      const anal = await cpu(() => analyze(data, { model, topK }));
      c.push(comp.cpu);
      a.push(anal.cpu);
      tokens = anal.result.totals.tokens;
      if (r === 0) {
        const { stats } = await compressWithStats(data, { model, measureIdeal: true }); // untimed: the sum check
        sums = stats.modelChunks < anal.result.totals.modelChunks
          ? `compression kept ${stats.modelChunks} of ${anal.result.totals.modelChunks} chunks model-coded (brotli won the rest), so its tableBits covers less`
          : `Σ token bits ${anal.result.totals.bits} ${anal.result.totals.bits === stats.tableBits ? '=' : '≠'} compressor tableBits ${stats.tableBits}; ` +
            `payload ${anal.result.totals.payloadBits} ${anal.result.totals.payloadBits === stats.payloadBytes * 8 ? '=' : '≠'} ${stats.payloadBytes * 8} bits`;
      }
      console.log(`  run ${r + 1}: compress ${comp.cpu.toFixed(2)} CPU s (${comp.wall.toFixed(2)} s wall), analyze ${anal.cpu.toFixed(2)} CPU s (${anal.wall.toFixed(2)} s wall)`);
    }
    const ratio = median(a) / median(c);
    console.log(`${path.split('/').pop()} (vocabulary ${model.facts.vocabSize}): ${tokens} tokens; median CPU s: compress ${median(c).toFixed(2)}, analyze ${median(a).toFixed(2)} ` +
      `→ analyze takes ${(100 * (ratio - 1)).toFixed(1)}% ${ratio >= 1 ? 'more' : 'less'} than compression (goal: within 10%); ${sums}`);
  } finally {
    model.dispose();
  }
}
