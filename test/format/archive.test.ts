/**
 * Blocks, members and what is built on them, with the real model (stories260K):
 * multi-block and concatenated round trips, random access at block edges (with the
 * index, without it, after reindex), resuming an interrupted compression, the
 * recorded model name, and the memory rules (settings fitted to the input, the
 * memory limit, the context created only for a block that needs it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Model, compress, compressWithStats, createCompressStream, createDecompressStream, decompress, findResumePoint, inspect, open, reindex,
  type CompressStreamOptions,
} from '../../src/index.js';
import { CORPUS, STORIES, rng } from '../helpers.js';
import { blockBytes, headerBytes, putTogether, takeApart } from './v2-edit.js';

let model: Model;
let text: Buffer;
beforeAll(async () => {
  model = await Model.load(STORIES, { threads: 1 });
  text = readFileSync(join(CORPUS, 'tinystories-valid-part1.txt')).subarray(0, 6000);
});
afterAll(() => model?.dispose());

async function compressStream(data: Buffer, options: CompressStreamOptions, pieceSize = 700): Promise<Buffer> {
  const parts: Buffer[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += pieceSize) pieces.push(data.subarray(i, i + pieceSize));
  await pipeline(Readable.from(pieces), createCompressStream({ model, ...options }), new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
  return Buffer.concat(parts);
}

describe('blocks and members', () => {
  it('multi-block files round-trip, one-shot and streamed, to the same bytes', async () => {
    const options = { lanes: 3, blockSize: 2048 };
    const packed = await compress(text, { model, ...options });
    const info = inspect(packed);
    expect(info.members[0]).toMatchObject({ blocks: 3, indexed: true });
    expect((await decompress(packed, { model })).equals(text)).toBe(true);
    // The stream writes the very same bytes when told the size (the settings are fitted to it).
    expect((await compressStream(text, { ...options, sizeHint: text.length })).equals(packed)).toBe(true);
    const parts: Buffer[] = [];
    await pipeline(Readable.from([packed]), createDecompressStream({ model }), new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
    expect(Buffer.concat(parts).equals(text)).toBe(true);
  });

  it('concatenated files decode to their contents in order, and random access spans them', async () => {
    const a = text.subarray(0, 2500);
    const b = Buffer.from(Array.from({ length: 1500 }, (_, i) => (i * 7919) & 0xff)); // bytes the model cannot help with
    const c = text.subarray(2500, 5000);
    const file = Buffer.concat([await compress(a, { model, blockSize: 1024 }), await compress(b, { model }), await compress(c, { model, index: 'never' })]);
    const all = Buffer.concat([a, b, c]);
    expect((await decompress(file, { model })).equals(all)).toBe(true);
    const archive = await open(file, { model });
    try {
      expect(archive.members).toHaveLength(3);
      expect(archive.size).toBe(all.length);
      for (const at of [0, 1023, 1024, 2499, 2500, 3999, 4000, 4999]) {
        const from = Math.max(0, at - 5);
        expect((await archive.read(from, 10)).equals(all.subarray(from, from + 10)), `at ${at}`).toBe(true);
      }
    } finally {
      await archive.close();
    }
  });
});

describe('random access', () => {
  it('reads at block edges through the index, a forward scan, and after reindex, decoding only the blocks needed', async () => {
    const withIndex = await compress(text, { model, blockSize: 1024, lanes: 2 });
    const without = await compress(text, { model, blockSize: 1024, lanes: 2, index: 'never' });
    expect(without.length).toBeLessThan(withIndex.length);
    const reindexed = await reindex(without);
    expect(reindexed.equals(withIndex)).toBe(true); // reindex writes what the writer would have
    for (const [name, file] of [['index', withIndex], ['forward scan', without]] as const) {
      const archive = await open(file, { model });
      try {
        expect(archive.members[0].indexed, name).toBe(name === 'index');
        expect(archive.blocks).toHaveLength(Math.ceil(text.length / 1024));
        for (const b of archive.blocks) {
          const from = Math.max(0, b.originalOffset - 2);
          expect((await archive.read(from, 4)).equals(text.subarray(from, from + 4)), `${name} at ${b.originalOffset}`).toBe(true);
        }
        const r = rng(4);
        for (let i = 0; i < 5; i++) {
          const at = Math.floor(r() * text.length);
          expect((await archive.read(at, 300)).equals(text.subarray(at, at + 300))).toBe(true);
        }
      } finally {
        await archive.close();
      }
    }
  });

  it('a damaged block fails its read, and only its read', async () => {
    const file = await compress(text, { model, blockSize: 1024, lanes: 2 });
    const m = takeApart(file);
    m[0].blocks[2].crc ^= 1;
    const archive = await open(putTogether(m), { model });
    try {
      await expect(archive.read(2048, 10)).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
      expect((await archive.read(0, 2048)).equals(text.subarray(0, 2048))).toBe(true);
    } finally {
      await archive.close();
    }
  });
});

describe('resuming an interrupted compression', () => {
  it('keeps the complete blocks and writes the very bytes of an uninterrupted run', async () => {
    const options = { lanes: 2, blockSize: 1024 };
    const whole = await compressStream(text, { ...options, sizeHint: text.length });
    const layout = inspect(whole);
    expect(layout.members[0].blocks).toBe(6);
    const m = takeApart(whole)[0];
    const ends = [headerBytes(m.header).length];
    for (const b of m.blocks) ends.push(ends[ends.length - 1] + blockBytes(b).length);
    // In the header, at and inside block edges, in the index, and the whole file.
    const cuts = [0, 10, ends[0], ends[0] + 3, ends[1], ends[1] + 1, ends[3] - 1, ends[3], ends[6], whole.length - 1, whole.length];
    for (const cut of cuts) {
      const partial = whole.subarray(0, cut);
      const point = await findResumePoint(partial, text, { model, ...options });
      expect(point.keepBytes).toBeLessThanOrEqual(cut);
      const rest = await compressStream(text.subarray(point.inputOffset), { ...options, sizeHint: text.length, resume: point });
      expect(Buffer.concat([partial.subarray(0, point.keepBytes), rest]).equals(whole), `cut at ${cut}: kept ${point.keepBytes}`).toBe(true);
    }
    // Another input, or other settings: start afresh.
    const other = Buffer.from(text);
    other[100] ^= 1;
    expect((await findResumePoint(whole.subarray(0, 3000), other, { model, ...options })).inputOffset).toBe(0);
    expect((await findResumePoint(whole.subarray(0, 3000), text, { model, ...options, window: 32 })).keepBytes).toBe(0);
  });
});

describe('the recorded model and the memory rules', () => {
  it('records the built-in name, the file name, or the path only when asked', async () => {
    const copy = join(process.env.TMPDIR ?? '/tmp', `lmzip-named-model-${process.pid}.gguf`);
    const { copyFileSync, rmSync } = await import('node:fs');
    copyFileSync(STORIES, copy);
    try {
      expect(inspect(await compress('Once upon a time there was a cat.', { model })).header).toMatchObject({ modelName: 'stories260k' });
      const other = await Model.load(copy, { threads: 1 });
      try {
        // Another file with the same bytes is the same built-in model.
        expect(inspect(await compress('Once upon a time there was a cat.', { model: other })).header).toMatchObject({ modelName: 'stories260k' });
      } finally {
        other.dispose();
      }
      expect(inspect(await compress('Once upon a time there was a cat.', { model, recordModelPath: true })).header).toMatchObject({ modelName: STORIES });
    } finally {
      rmSync(copy, { force: true });
    }
  });

  it('fits lanes and window to a small input, so --lanes 64 --ctx 65536 on 3 KB allocates little', async () => {
    const small = text.subarray(0, 3000);
    const packed = await compress(small, { model, lanes: 64, window: 65536 });
    const h = inspect(packed).header;
    expect(h.lanes).toBe(1);
    expect(h.window).toBe(3001); // the longest chunk plus one: no lane ever restarts
    expect((await decompress(packed, { model })).equals(small)).toBe(true);
  });

  it('refuses a context over the memory limit before writing anything', async () => {
    const e = await compressWithStats(text, { model, memoryLimit: 1 << 20 }).catch((x) => x);
    expect(e.code).toBe('RESOURCE_LIMIT');
    expect(e.message).toMatch(/lanes|window/);
    const out: Buffer[] = [];
    await expect(pipeline(Readable.from([text]), createCompressStream({ model, memoryLimit: 1 << 20 }),
      new Writable({ write(c, _e, cb) { out.push(c); cb(); } }))).rejects.toMatchObject({ code: 'RESOURCE_LIMIT' });
    expect(out).toHaveLength(0);
    const packed = await compress(text.subarray(0, 2000), { model });
    await expect(decompress(packed, { model, memoryLimit: 1 << 20 })).rejects.toMatchObject({ code: 'RESOURCE_LIMIT' });
  });

  it('refuses a version-1 header that asks for a huge context, and allocates nothing for one without frames', async () => {
    const { crc32 } = await import('../../src/format/crc32.js');
    const { REPO } = await import('../helpers.js');
    const v1 = readFileSync(join(REPO, 'test/golden/story.txt.lmz'));
    const headerSize = 16 + v1.readUInt32LE(12) + 4;
    const hostile = Buffer.from(v1);
    hostile.writeUInt16LE(256, 16 + 44); // lanes
    hostile.writeUInt32LE(1 << 20, 16 + 48); // window
    hostile.writeUInt32LE(crc32(hostile.subarray(0, headerSize - 4)), headerSize - 4);
    const t0 = performance.now();
    await expect(decompress(hostile, { model })).rejects.toMatchObject({ code: 'RESOURCE_LIMIT' });
    expect(performance.now() - t0).toBeLessThan(5000);
    // The same header and an end block, no frame: nothing to decode, no context created.
    const end = Buffer.alloc(21);
    end[0] = 2;
    end.writeUInt32LE(crc32(end.subarray(0, 17)), 17);
    const noFrames = Buffer.concat([hostile.subarray(0, 16 + 64), Buffer.alloc(8, 0xff), hostile.subarray(16 + 72, headerSize), end]);
    noFrames.writeUInt32LE(crc32(noFrames.subarray(0, headerSize - 4)), headerSize - 4);
    expect(await decompress(noFrames, { model })).toHaveLength(0);
  });

  it('needs no model for a file whose blocks use none, even when its header names one', async () => {
    const plain = Buffer.from(Array.from({ length: 3000 }, (_, i) => (Math.imul(i, 2654435761) >>> 13) & 0xff));
    const packed = await compress(plain, { model, blockSize: 1024 });
    const info = inspect(packed);
    expect(info.header.modelFree).toBe(false);
    expect(info.chunks.model).toBe(0);
    // No model given, and the one named is not in any cache: never looked for.
    const env = process.env.LMZIP_CACHE_DIR;
    process.env.LMZIP_CACHE_DIR = join(process.env.TMPDIR ?? '/tmp', `lmzip-empty-cache-${process.pid}`);
    try {
      expect((await decompress(packed)).equals(plain)).toBe(true);
    } finally {
      if (env === undefined) delete process.env.LMZIP_CACHE_DIR;
      else process.env.LMZIP_CACHE_DIR = env;
    }
  });

  it('one-shot and stream decoders refuse an unknown coding method alike, model blocks or not', async () => {
    const plain = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31) & 0xff));
    for (const data of [plain, text.subarray(0, 1500)]) {
      const m = takeApart(await compress(data, { model, blockSize: 1024 }));
      m[0].header.method = 7;
      const bytes = putTogether(m);
      await expect(decompress(bytes, { model })).rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION' });
      await expect(pipeline(Readable.from([bytes]), createDecompressStream({ model }), new Writable({ write(_c, _e, cb) { cb(); } })))
        .rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION' });
    }
  });
});
