#!/usr/bin/env node
// The CPU cost of mixing (coding method 2) against the model alone (method 1):
// compresses and decompresses one input both ways through the library, every chunk
// model-coded (forceModel, so a random-weight model is timed too), and prints CPU
// seconds (user + sys of this process) and tokens per CPU second. docs/MIXING.md.
//
//   npm run build && node scripts/mix-speed.mjs MODEL.gguf FILE [BYTES] [REPEAT]
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { Model, compressWithStats, decompress } = await import(join(root, 'dist/index.js'));
const [modelPath, file, bytes = '65536', repeat = '2'] = process.argv.slice(2);
if (!modelPath || !file) {
  console.error('usage: node scripts/mix-speed.mjs MODEL.gguf FILE [BYTES] [REPEAT]');
  process.exit(2);
}
const input = readFileSync(file).subarray(0, Number(bytes));
const model = await Model.load(modelPath, { threads: 1 });
const cpu = async (fn) => {
  const start = process.cpuUsage();
  const result = await fn();
  const used = process.cpuUsage(start);
  return { result, seconds: (used.user + used.system) / 1e6 };
};
console.log(`${modelPath.split('/').pop()}, ${input.length} bytes of ${file.split('/').pop()}, best of ${repeat}`);
for (const mix of [false, true]) {
  let enc = Infinity, dec = Infinity, stats, size = 0;
  for (let i = 0; i < Number(repeat); i++) {
    const c = await cpu(() => compressWithStats(input, { model, mix, forceModel: true }));
    const d = await cpu(() => decompress(c.result.output, { model }));
    if (!d.result.equals(input)) throw new Error('round trip failed');
    enc = Math.min(enc, c.seconds);
    dec = Math.min(dec, d.seconds);
    stats = c.result.stats;
    size = c.result.output.length;
  }
  console.log(`${mix ? 'mixed     ' : 'model only'}: ${size} bytes, ${stats.tokens} tokens; compress ${enc.toFixed(2)} CPU s ` +
    `(${Math.round(stats.tokens / enc)} tokens/s), decompress ${dec.toFixed(2)} CPU s (${Math.round(stats.tokens / dec)} tokens/s)`);
}
model.dispose();
