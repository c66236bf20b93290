// Sweeps the context window and overlap for stories260K (docs/DETERMINISM.md#context-policy).
// Run: npx tsx bench/context-sweep.ts
import { readFileSync } from 'node:fs';
import { Model, compressWithStats } from '../src/index.js';
const data = readFileSync(new URL('../../shared/corpus/tinystories-valid-part1.txt', import.meta.url)).subarray(0, 60000);
const model = await Model.load(new URL('../../shared/models/stories260K.gguf', import.meta.url).pathname, { threads: 1 });
for (const [window, overlap] of [[64, 32], [128, 64], [256, 128], [256, 192], [512, 256], [1024, 512], [2048, 1024]]) {
  const t0 = performance.now();
  const { stats } = await compressWithStats(data, { model, lanes: 1, window, overlap, measureIdeal: true });
  const s = (performance.now() - t0) / 1000;
  console.log(`window ${window} overlap ${overlap}: ${(stats.outputBytes * 8 / data.length).toFixed(4)} bpb, ideal ${(stats.idealBits / data.length).toFixed(4)} bpb, coder overhead ${((stats.payloadBytes * 8 / stats.idealBits - 1) * 100).toFixed(4)}%, ${Math.round(stats.tokens / s)} tok/s`);
}
