// Per-file table for the shared corpus with stories260K: lmzip against xz -9, the
// coder overhead, and compress/decompress throughput. Each file is capped (default
// its first 64 KiB; CAP=0 for whole files). Run: npx tsx bench/corpus-table.ts
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Model, compressWithStats, decompress } from '../src/index.js';

const shared = new URL('../../shared/', import.meta.url).pathname;
const cap = process.env.CAP === '0' ? Infinity : Number(process.env.CAP ?? 65536);
const model = await Model.load(`${shared}models/stories260K.gguf`, { threads: 1 });
const rows: string[] = [];
const totals = { input: 0, lmzip: 0, xz: 0 };
for (const file of readdirSync(`${shared}corpus`).filter((f) => f !== 'MANIFEST.md').sort()) {
  const data = readFileSync(`${shared}corpus/${file}`).subarray(0, cap);
  const xz = execFileSync('xz', ['-9', '-c'], { input: data, maxBuffer: 1 << 28 }).length;
  const t0 = performance.now();
  const { output, stats } = await compressWithStats(data, { model, measureIdeal: true });
  const t1 = performance.now();
  const back = await decompress(output, { model });
  const t2 = performance.now();
  if (!back.equals(data)) throw new Error(`${file} did not round-trip`);
  totals.input += data.length;
  totals.lmzip += output.length;
  totals.xz += xz;
  const bpb = (n: number) => (data.length ? ((n * 8) / data.length).toFixed(3) : '-');
  const rate = (s: number) => (stats.tokens ? Math.round(stats.tokens / s) : '-');
  const kbs = (s: number) => (data.length / 1024 / s).toFixed(1);
  const overhead = stats.idealBits ? `${(((stats.payloadBytes * 8) / stats.idealBits - 1) * 100).toFixed(3)}%` : '-';
  const coder = stats.tableBits ? `${(((stats.payloadBytes * 8) / stats.tableBits - 1) * 100).toFixed(3)}%` : '-';
  const row = `| ${file} | ${data.length} | ${output.length} | ${bpb(output.length)} | ${xz} | ${bpb(xz)} | ${(output.length / xz * 100).toFixed(1)}% | ${stats.modelBytes ? ((100 * stats.modelBytes) / data.length).toFixed(0) : 0}% | ${overhead} | ${coder} | ${rate((t1 - t0) / 1000)} / ${rate((t2 - t1) / 1000)} | ${kbs((t1 - t0) / 1000)} / ${kbs((t2 - t1) / 1000)} |`;
  rows.push(row);
  console.error(row);
}
console.log(`| file | bytes | lmzip | bits/byte | xz -9 | bits/byte | lmzip/xz | model-coded | vs ideal | vs tables | tok/s c / d | KiB/s c / d |`);
console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const r of rows) console.log(r);
console.log(`| **all** | ${totals.input} | ${totals.lmzip} | ${((totals.lmzip * 8) / totals.input).toFixed(3)} | ${totals.xz} | ${((totals.xz * 8) / totals.input).toFixed(3)} | ${((totals.lmzip / totals.xz) * 100).toFixed(1)}% | | | | | |`);
model.dispose();
