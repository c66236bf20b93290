/**
 * The version-2 format without a model: varints, the header and its profile codec,
 * blocks, the index and footer, members back to back, the forward scan and the walk
 * from the end, reindex, and the one-shot decoder's output bound. Files are built
 * with the format's own writers from stored and brotli chunks (docs/FORMAT.md).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ArchiveReader } from '../../src/archive/reader.js';
import { scanArchive } from '../../src/archive/scan.js';
import { bufferSource } from '../../src/archive/source.js';
import { DEFAULT_MAX_OUTPUT_LENGTH, createDecompressStream, decompress, inspect, open, reindex, reindexFile } from '../../src/index.js';
import { ChunkMethod } from '../../src/format/constants.js';
import { blockCrc, writeBlock, writeEnd } from '../../src/format/v2/block.js';
import { decodeProfile, encodeProfile, parseHeaderV2, writeHeaderV2 } from '../../src/format/v2/header.js';
import type { ChunkEntryV2 } from '../../src/format/v2/types.js';
import { ByteCursor, NEED_MORE, pushVarint } from '../../src/format/varint.js';
import { feedInPieces } from '../feed-in-pieces.js';
import { rng } from '../helpers.js';

const PROFILE = 'isa=x86_64-avx2-fma-f16c;llama=v0.5.0-de3ff815ea7d559ee917f063901b8986f038abc6;backend=cpu;kv=f16';

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e === NEED_MORE) return 'NEED_MORE';
    return (e as { code?: string }).code ?? String(e);
  }
}

/** A model-free member of stored/brotli blocks of `blockSize` bytes. */
function member(data: Buffer, blockSize: number, options: { index?: boolean; brotli?: boolean } = {}): Buffer {
  const header = writeHeaderV2({ modelFree: true, blockSize });
  const parts: Buffer[] = [header];
  const blocks = [];
  for (let off = 0; off < data.length; off += blockSize) {
    const piece = data.subarray(off, off + blockSize);
    const packed = options.brotli ? zlib.brotliCompressSync(piece) : undefined;
    const chunk: ChunkEntryV2 = packed
      ? { method: ChunkMethod.Brotli, stripLeadingSpace: false, originalSize: piece.length, payloadSize: packed.length }
      : { method: ChunkMethod.Stored, stripLeadingSpace: false, originalSize: piece.length, payloadSize: piece.length };
    const bytes = writeBlock([chunk], new Uint8Array(0), [packed ?? piece], blockCrc(off, [piece]), off + blockSize >= data.length);
    parts.push(...bytes);
    blocks.push({ originalSize: piece.length, compressedSize: bytes.reduce((n, b) => n + b.length, 0) });
  }
  parts.push(writeEnd(options.index ? { headerSize: header.length, blocks } : undefined));
  return Buffer.concat(parts);
}

function randomBytes(n: number, seed: number): Buffer {
  const r = rng(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
}

async function streamDecode(bytes: Buffer, pieceSize: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += pieceSize) pieces.push(bytes.subarray(i, i + pieceSize));
  await pipeline(Readable.from(pieces), createDecompressStream(), new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
  return Buffer.concat(parts);
}

describe('varints', () => {
  it('round-trip and must be minimal and short', () => {
    for (const v of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 32, 2 ** 53 - 1]) {
      const out: number[] = [];
      pushVarint(out, v);
      expect(new ByteCursor(Uint8Array.from(out)).varint('v')).toBe(v);
    }
    expect(code(() => new ByteCursor(Uint8Array.of(0x81, 0x00)).varint('v'))).toBe('CORRUPT_HEADER');
    expect(code(() => new ByteCursor(Uint8Array.of(...Array(8).fill(0x80), 1)).varint('v'))).toBe('CORRUPT_HEADER');
    expect(code(() => new ByteCursor(Uint8Array.of(0x80)).varint('v'))).toBe('NEED_MORE');
  });
});

describe('the member header', () => {
  it('stores lmzip\'s default profile in 4 bytes and gives its text back', () => {
    expect(encodeProfile(PROFILE)).toEqual([0x11, 0x21, 0x31, 0x41]);
    expect(decodeProfile(Uint8Array.from(encodeProfile(PROFILE)))).toBe(PROFILE);
    const other = 'isa=x86_64-avx512;llama=v0.6.0-abc;backend=gpu(99);kv=f16;extra_key=v1';
    expect(decodeProfile(Uint8Array.from(encodeProfile(other)))).toBe(other);
    expect(decodeProfile(Uint8Array.of(0x19))).toBe('isa=#9'); // a value this build does not know
    expect(code(() => decodeProfile(Uint8Array.of(0x11, 0x12)))).toBe('CORRUPT_HEADER'); // a key twice
    expect(code(() => decodeProfile(Uint8Array.of(0x00, 3, ...Buffer.from('isa'), 1, 0x41)))).toBe('CORRUPT_HEADER'); // an enumerated key spelled out
    expect(code(() => decodeProfile(Uint8Array.of(0x40, 2, 0x3b, 0x41)))).toBe('CORRUPT_HEADER'); // ';' in a value
    expect(code(() => decodeProfile(Uint8Array.of(0x40)))).toBe('CORRUPT_HEADER'); // a literal value that is not there
    expect(code(() => decodeProfile(Uint8Array.of(0x01, 1, 0x61)))).toBe('CORRUPT_HEADER'); // a literal key with an enumerated value
  });

  const fields = { modelFree: false, blockSize: 256 * 1024, modelSha256: '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d',
    modelName: 'stories260k', lanes: 16, window: 256, overlap: 128, ubatch: 512, flashAttention: false, codingMethod: 1,
    methodParams: new Uint8Array(0), profile: PROFILE };

  it('round-trips and is small', () => {
    const bytes = writeHeaderV2(fields);
    expect(bytes.length).toBe(50); // 11 fixed, 2 block size, 8 hash, 12 name, 7 lane settings, 2 method, 4 profile, 4 CRC
    expect(parseHeaderV2(bytes)).toMatchObject({ version: 2, modelHash: '270cba1bd5109f42', modelName: 'stories260k', lanes: 16, window: 256,
      overlap: 128, ubatch: 512, codingMethod: 1, profile: PROFILE, blockSize: 256 * 1024, size: bytes.length });
    const free = writeHeaderV2({ modelFree: true, blockSize: 256 * 1024 });
    expect(free.length).toBe(17);
    expect(parseHeaderV2(free)).toMatchObject({ modelFree: true, blockSize: 256 * 1024 });
  });

  it('refuses every field out of range', () => {
    const cases: [Partial<typeof fields>, string][] = [
      [{ blockSize: 0 }, 'CORRUPT_HEADER'], [{ blockSize: 2 ** 26 + 1024 }, 'CORRUPT_HEADER'], [{ blockSize: 2 ** 26 }, 'ok'],
      [{ lanes: 0 }, 'CORRUPT_HEADER'], [{ lanes: 257 }, 'CORRUPT_HEADER'],
      [{ window: 7 }, 'CORRUPT_HEADER'], [{ window: 2 ** 20 + 1, blockSize: 2 ** 26 }, 'CORRUPT_HEADER'],
      [{ window: 1026, blockSize: 1024 }, 'CORRUPT_HEADER'], [{ window: 1025, blockSize: 1024, overlap: 10 }, 'ok'],
      [{ overlap: 255 }, 'CORRUPT_HEADER'], [{ overlap: 254 }, 'ok'],
      [{ ubatch: 0 }, 'CORRUPT_HEADER'], [{ ubatch: 65537 }, 'CORRUPT_HEADER'],
      [{ codingMethod: 0 }, 'UNSUPPORTED_VERSION'], [{ codingMethod: 3 }, 'UNSUPPORTED_VERSION'],
      [{ methodParams: Uint8Array.of(0) }, 'CORRUPT_HEADER'],
    ];
    for (const [change, expected] of cases) expect(code(() => parseHeaderV2(writeHeaderV2({ ...fields, ...change }))), JSON.stringify(change)).toBe(expected);
    const bytes = writeHeaderV2(fields);
    for (let i = 9; i < bytes.length; i++) {
      const damaged = Buffer.from(bytes);
      damaged[i] ^= 0x10;
      expect(['CORRUPT_HEADER', 'NEED_MORE'], `byte ${i}`).toContain(code(() => parseHeaderV2(damaged)));
    }
    expect(code(() => parseHeaderV2(bytes.subarray(0, bytes.length - 1)))).toBe('NEED_MORE');
  });
});

describe('members, blocks and the index', () => {
  const data = randomBytes(10_000, 1);

  it('decode one-shot and streamed, with and without an index, stored and brotli', async () => {
    for (const options of [{}, { index: true }, { brotli: true, index: true }]) {
      const file = member(data, 1024, options);
      expect((await decompress(file)).equals(data)).toBe(true);
      expect((await streamDecode(file, 13)).equals(data)).toBe(true);
      expect(inspect(file).members[0]).toMatchObject({ version: 2, blocks: 10, indexed: options.index ?? false });
    }
  });

  it('concatenated members decode to their contents in order', async () => {
    const parts = [randomBytes(3000, 2), Buffer.alloc(0), randomBytes(1, 3), randomBytes(5000, 4)];
    const file = Buffer.concat(parts.map((p, i) => member(p, 1024, { index: i % 2 === 0 })));
    expect((await decompress(file)).equals(Buffer.concat(parts))).toBe(true);
    expect((await streamDecode(file, 1)).equals(Buffer.concat(parts))).toBe(true);
    expect(inspect(file).members).toHaveLength(4);
  });

  it('any split of the input gives the reader the same events', () => {
    const file = Buffer.concat([member(data, 1024, { index: true }), member(randomBytes(2000, 5), 1024)]);
    const summary = (pieces: Buffer[]) => {
      const reader = new ArchiveReader();
      const events = pieces.flatMap((p) => reader.push(p));
      reader.finish();
      return events.map((e) => (e.type === 'block' ? `block:${e.block.table.encodedSize}@${e.originalOffset}` : e.type)).join(',');
    };
    const whole = summary([file]);
    expect(whole.split(',').filter((e) => e.startsWith('block'))).toHaveLength(12);
    const r = rng(9);
    for (let t = 0; t < 20; t++) {
      const pieces: Buffer[] = [];
      for (let p = 0; p < file.length;) {
        const n = 1 + Math.floor(r() * 300);
        pieces.push(file.subarray(p, p + n));
        p += n;
      }
      expect(summary(pieces)).toBe(whole);
    }
  });

  it('buffers a 16 MiB block fed in 64 KiB pieces with linear copying (bytes copied counted, not time)', () => {
    const file = member(Buffer.alloc(1 << 24, 0x5a), 1 << 24);
    const reader = new ArchiveReader();
    const { found: blocks, copied } = feedInPieces(file, 1 << 16, (piece) => reader.push(piece).filter((e) => e.type === 'block').length);
    reader.finish();
    expect(blocks).toBe(1);
    expect(copied).toBeLessThanOrEqual(2 * file.length);
  });

  it('the walk from the end and the forward scan find the same blocks', async () => {
    const indexed = Buffer.concat([member(data, 1024, { index: true }), member(randomBytes(3000, 6), 1024, { index: true })]);
    const plain = Buffer.concat([member(data, 1024), member(randomBytes(3000, 6), 1024)]);
    const a = await scanArchive(bufferSource(indexed));
    const b = await scanArchive(bufferSource(plain));
    expect(a.map((m) => m.indexed)).toEqual([true, true]);
    expect(b.map((m) => m.indexed)).toEqual([false, false]);
    const sizes = (ms: typeof a) => ms.flatMap((m) => m.blocks.map((x) => [x.originalOffset, x.originalSize]));
    expect(sizes(a)).toEqual(sizes(b));
    // A member without an index before indexed ones: found by scanning up to them.
    const mixedFile = Buffer.concat([member(data, 1024), member(randomBytes(3000, 6), 1024, { index: true })]);
    expect((await scanArchive(bufferSource(mixedFile))).map((m) => m.indexed)).toEqual([false, true]);
  });

  it('random access reads any range, across block and member edges', async () => {
    const second = randomBytes(3000, 7);
    const file = Buffer.concat([member(data, 1024, { index: true }), member(second, 2048, { brotli: true })]);
    const all = Buffer.concat([data, second]);
    const archive = await open(file);
    try {
      expect(archive.size).toBe(all.length);
      expect(archive.blocks).toHaveLength(10 + 2);
      const r = rng(11);
      const edges = archive.blocks.map((b) => b.originalOffset);
      for (const at of [0, ...edges, all.length - 1, ...Array.from({ length: 20 }, () => Math.floor(r() * all.length))])
        for (const len of [0, 1, 700, 2500]) {
          const from = Math.max(0, at - Math.floor(len / 2));
          expect((await archive.read(from, len)).equals(all.subarray(from, from + len)), `${from}+${len}`).toBe(true);
        }
      expect((await archive.read(all.length + 10, 5)).length).toBe(0);
    } finally {
      await archive.close();
    }
  });

  it('reindex gives every member an index, in memory and in place', async () => {
    const parts = [member(data, 1024), member(randomBytes(3000, 8), 1024, { index: true }), member(randomBytes(1500, 9), 1024)];
    const file = Buffer.concat(parts);
    const indexed = await reindex(file);
    expect((await scanArchive(bufferSource(indexed))).map((m) => m.indexed)).toEqual([true, true, true]);
    expect((await decompress(indexed)).equals(await decompress(file))).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'lmzip-reindex-'));
    try {
      // Only the last member lacks one: appended in place.
      const lastOnly = join(dir, 'last.lmz');
      writeFileSync(lastOnly, Buffer.concat([parts[1], parts[2]]));
      expect(await reindexFile(lastOnly)).toEqual({ indexed: 1 });
      expect(readFileSync(lastOnly).equals(await reindex(Buffer.concat([parts[1], parts[2]])))).toBe(true);
      // A middle member lacks one: rewritten.
      const middle = join(dir, 'middle.lmz');
      writeFileSync(middle, file);
      expect(await reindexFile(middle)).toEqual({ indexed: 2 });
      expect(readFileSync(middle).equals(indexed)).toBe(true);
      expect(await reindexFile(middle)).toEqual({ indexed: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a moved, repeated or missing block is found (its offset is in the CRC, the last is marked)', async () => {
    const a = randomBytes(1024, 12);
    const file = member(Buffer.concat([a, a]), 1024);
    expect((await decompress(file)).length).toBe(2048);
    // Both blocks hold the same bytes: swapping their encodings must still be caught.
    const header = writeHeaderV2({ modelFree: true, blockSize: 1024 });
    const chunk: ChunkEntryV2 = { method: ChunkMethod.Stored, stripLeadingSpace: false, originalSize: 1024, payloadSize: 1024 };
    const block0 = Buffer.concat(writeBlock([chunk], new Uint8Array(0), [a], blockCrc(0, [a]), false));
    const last0 = Buffer.concat(writeBlock([chunk], new Uint8Array(0), [a], blockCrc(0, [a]), true));
    await expect(decompress(Buffer.concat([header, block0, last0, writeEnd(undefined)]))).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    // The final block left out, or a block after the last: the tags tell.
    await expect(decompress(Buffer.concat([header, block0, writeEnd(undefined)]))).rejects.toMatchObject({ code: 'CORRUPT_HEADER' });
    await expect(decompress(Buffer.concat([header, last0, last0, writeEnd(undefined)]))).rejects.toMatchObject({ code: 'CORRUPT_HEADER' });
    expect(await decompress(Buffer.concat([header, writeEnd(undefined)]))).toHaveLength(0); // a member of no blocks
  });
});

describe('output bounds', () => {
  // Blocks of zeros brotli packs to a few bytes: a small file with a large output.
  const bomb = member(Buffer.alloc(3 << 20), 1 << 20, { brotli: true, index: true });

  it('decompress() refuses more than maxOutputLength, naming the option and the stream API', async () => {
    expect(DEFAULT_MAX_OUTPUT_LENGTH).toBe(1024 ** 3);
    expect(bomb.length).toBeLessThan(300);
    const e = await decompress(bomb, { maxOutputLength: (2 << 20) + 5 }).catch((x) => x);
    expect(e.code).toBe('OUTPUT_TOO_LARGE');
    expect(e.message).toMatch(/maxOutputLength/);
    expect(e.message).toMatch(/createDecompressStream/);
    expect((await decompress(bomb, { maxOutputLength: 3 << 20 })).length).toBe(3 << 20);
  });

  it('the stream decoder has no limit unless asked, and then the same one', async () => {
    expect((await streamDecode(bomb, 64)).length).toBe(3 << 20);
    const parts: Buffer[] = [];
    await expect(pipeline(Readable.from([bomb]), createDecompressStream({ maxOutputLength: 1 << 20 }),
      new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }))).rejects.toMatchObject({ code: 'OUTPUT_TOO_LARGE' });
  });
});
