#!/usr/bin/env -S npx tsx
// Random access against a full decode, on a large model-free file (issue 11's target:
// reading 4 KiB at a random offset decodes at most a block or two, whatever the size).
//
//   npx tsx scripts/measure-random-access.ts [GiB] [DIR]    default 1 GiB in /tmp/lmzip-ra
//
// The file is written with the format's own writers (src/format/v2) in blocks of the
// default size (256 KiB):
// every other block random bytes (stored), the rest text-like bytes packed with
// brotli. (compress() would make the same kind of file, but spends about an hour of
// CPU on brotli quality 11 and tokenization for 1 GiB on these cores.) Every read is
// checked against the bytes the generator gives again. The file is deleted at the end.
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { ChunkMethod } from '../src/format/constants.js';
import { blockCrc, writeBlock, writeEnd } from '../src/format/v2/block.js';
import { writeHeaderV2 } from '../src/format/v2/header.js';
import { createDecompressStream, open } from '../src/index.js';
import { DEFAULT_BLOCK_SIZE } from '../src/settings.js';
import { prng } from '../test/prng.js';

const GiB = Number(process.argv[2] ?? 1);
const dir = process.argv[3] ?? '/tmp/lmzip-ra';
const BLOCK = DEFAULT_BLOCK_SIZE;
const blocks = Math.round((GiB * 1024 ** 3) / BLOCK);
const WORDS = 'the a little girl named lily liked to play in park with her red ball one day rolled into pond was sad big duck swam'.split(' ');

/** Block i's original bytes (deterministic, so a read can be checked). */
function content(i: number): Buffer {
  let x = (i * 2654435761 + 1) >>> 0 || 1; // xorshift32
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  if (i % 2 === 0) {
    const words = new Uint32Array(BLOCK / 4);
    for (let k = 0; k < words.length; k++) words[k] = next();
    return Buffer.from(words.buffer);
  }
  const parts: string[] = [];
  let n = 0;
  while (n < BLOCK) {
    const w = WORDS[next() % WORDS.length] + (next() % 10 === 0 ? '.\n' : ' ');
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('').slice(0, BLOCK));
}

const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

mkdirSync(dir, { recursive: true });
const path = join(dir, 'big.lmz');
try {
  let t = performance.now();
  const header = writeHeaderV2({ modelFree: true, blockSize: BLOCK });
  const index = [];
  await pipeline(async function* () {
    yield header;
    for (let i = 0; i < blocks; i++) {
      const data = content(i);
      const packed = i % 2 === 0 ? undefined : zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });
      const chunk = packed
        ? { method: ChunkMethod.Brotli, stripLeadingSpace: false, originalSize: BLOCK, payloadSize: packed.length }
        : { method: ChunkMethod.Stored, stripLeadingSpace: false, originalSize: BLOCK, payloadSize: BLOCK };
      const bytes = writeBlock([chunk], new Uint8Array(0), [packed ?? data], blockCrc(i * BLOCK, [data]), i === blocks - 1);
      index.push({ originalSize: BLOCK, compressedSize: bytes.reduce((n, b) => n + b.length, 0) });
      yield* bytes;
    }
    yield writeEnd({ headerSize: header.length, blocks: index });
  }, createWriteStream(path));
  console.log(`wrote ${path}: ${blocks} blocks, ${GiB} GiB of original bytes in ${statSync(path).size} bytes (${((performance.now() - t) / 1000).toFixed(0)} s)`);

  // 100 reads of 4 KiB at random offsets, timed; then checked against the generator.
  t = performance.now();
  let c = cpu();
  const archive = await open(path, { cacheBlock: false });
  const opened = performance.now() - t;
  const r = prng(2026);
  const size = archive.size;
  const reads: { at: number; got: Buffer }[] = [];
  for (let k = 0; k < 100; k++) {
    const at = Math.floor(r() * (size - 4096));
    reads.push({ at, got: await archive.read(at, 4096) });
  }
  const readSeconds = (performance.now() - t) / 1000;
  const readsCpu = cpu() - c;
  await archive.close();
  for (const { at, got } of reads) {
    const first = Math.floor(at / BLOCK);
    const expected = Buffer.concat([content(first), first + 1 < blocks ? content(first + 1) : Buffer.alloc(0)]).subarray(at - first * BLOCK, at - first * BLOCK + 4096);
    if (!got.equals(expected)) throw new Error(`read at ${at} gave other bytes`);
  }
  console.log(`open (index from the end): ${opened.toFixed(1)} ms; 100 random 4 KiB reads: ${readSeconds.toFixed(2)} s wall, ${readsCpu.toFixed(2)} CPU s ` +
    `(${((readSeconds / 100) * 1000).toFixed(1)} ms per read); all 100 checked`);

  // A full decode, discarding the output.
  t = performance.now();
  c = cpu();
  let decoded = 0;
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), createDecompressStream(),
    new Writable({ write: (chunk: Buffer, _e, cb) => ((decoded += chunk.length), cb()) }));
  if (decoded !== blocks * BLOCK) throw new Error(`the full decode gave ${decoded} bytes`);
  console.log(`full decode: ${decoded} bytes in ${((performance.now() - t) / 1000).toFixed(1)} s wall, ${(cpu() - c).toFixed(1)} CPU s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
