#!/usr/bin/env -S npx tsx
// The container's own cost and the block size's cost, with stories260K on TinyStories
// text (docs/FORMAT.md; the numbers in the format engineer's report come from here).
//
//   npx tsx scripts/measure-format.ts compress OUT [ROOT]   compress the cases with the
//        lmzip checkout at ROOT (default: this one; an older checkout writes version 1)
//   npx tsx scripts/measure-format.ts report OUT...         sizes, container bytes, bits/byte
//   npx tsx scripts/measure-format.ts sweep OUT             block sizes on the whole TinyStories file
//
// "Container bytes" are everything that is not a payload: headers, chunk tables,
// block tables, CRCs, indexes (payloads: v1 chunk payloads; v2 model streams and
// brotli/stored payloads). LMZIP_SHARED_DIR points at the shared models and corpus.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const shared = process.env.LMZIP_SHARED_DIR ?? resolve(import.meta.dirname, '../../shared');
const text = readFileSync(join(shared, 'corpus/tinystories-valid-part1.txt'));
const cases: Record<string, Buffer> = {
  'tinystories-4k': text.subarray(0, 4096),
  'tinystories-60k': text.subarray(0, 60_000),
  'tinystories-100KiB': text.subarray(0, 100 * 1024),
};
const [mode, out, ...rest] = process.argv.slice(2);

async function lmzip(root: string) {
  return import(pathToFileURL(join(root, 'src/index.ts')).href);
}

if (mode === 'compress') {
  const root = resolve(rest[0] ?? join(import.meta.dirname, '..'));
  const { Model, compress } = await lmzip(root);
  const model = await Model.load(join(shared, 'models/stories260K.gguf'), { threads: 1 });
  mkdirSync(out, { recursive: true });
  for (const [name, data] of Object.entries(cases)) {
    const t0 = process.cpuUsage();
    const packed: Buffer = await compress(data, { model });
    const cpu = process.cpuUsage(t0);
    writeFileSync(join(out, `${name}.lmz`), packed);
    console.log(`${name}: ${data.length} -> ${packed.length} bytes (${((cpu.user + cpu.system) / 1e6).toFixed(1)} CPU s)`);
  }
  model.dispose();
} else if (mode === 'sweep') {
  const { Model, compress, decompress } = await lmzip(join(import.meta.dirname, '..'));
  const model = await Model.load(join(shared, 'models/stories260K.gguf'), { threads: 1 });
  mkdirSync(out, { recursive: true });
  const sizes = (rest.length ? rest.map(Number) : [32, 64, 128, 256, 512]).map((k) => k * 1024);
  const results: { blockSize: number; bytes: number }[] = [];
  for (const blockSize of sizes) {
    const t0 = process.cpuUsage();
    const packed: Buffer = await compress(text, { model, blockSize });
    const cpu = process.cpuUsage(t0);
    if (!(await decompress(packed, { model })).equals(text)) throw new Error(`blockSize ${blockSize}: no round trip`);
    writeFileSync(join(out, `sweep-${blockSize}.lmz`), packed);
    results.push({ blockSize, bytes: packed.length });
    console.log(`blockSize ${blockSize}: ${text.length} -> ${packed.length} bytes, ${((packed.length * 8) / text.length).toFixed(4)} bits/byte ` +
      `(${((cpu.user + cpu.system) / 1e6).toFixed(0)} CPU s)`);
  }
  const single = results.find((r) => r.blockSize >= text.length);
  if (single) for (const r of results) console.log(`blockSize ${r.blockSize}: +${((r.bytes / single.bytes - 1) * 100).toFixed(2)} % against one block`);
  model.dispose();
} else if (mode === 'report') {
  const { ArchiveReader } = await import('../src/archive/reader.js');
  for (const dir of [out, ...rest]) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.lmz')).sort()) {
      const bytes = readFileSync(join(dir, file));
      let payload = 0;
      let original = 0;
      let version = 0;
      for (const e of new ArchiveReader().push(bytes)) {
        if (e.type === 'header') version = e.header.version;
        if (e.type === 'frame') {
          payload += e.frame.chunks.reduce((n, c) => n + c.payloadSize, 0);
          original += e.frame.chunks.reduce((n, c) => n + c.originalSize, 0);
        }
        if (e.type === 'block') {
          payload += e.block.table.streamSize + e.block.table.chunks.reduce((n, c) => n + c.payloadSize, 0);
          original += e.block.table.originalSize;
        }
      }
      const container = bytes.length - payload;
      console.log(`${dir}/${file}: v${version}, ${original} -> ${bytes.length} bytes, ${((bytes.length * 8) / original).toFixed(4)} bits/byte; ` +
        `container ${container} bytes (${((100 * container) / bytes.length).toFixed(2)} % of the file)`);
    }
  }
} else {
  console.error('usage: measure-format.ts compress OUT [ROOT] | report OUT... | sweep OUT [KiB...]');
  process.exit(2);
}
