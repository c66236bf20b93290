/**
 * Property tests on damaged .lmz files: truncations, bit flips, changed lengths and
 * counts (with the checksums recomputed, so the damage reaches the decoder), spliced
 * files. For every input the outcome must be an LmzipError with a known code or the
 * original bytes: never another exception, a crash, a hang or different bytes.
 * Every structural edit (each field of the header, frames, chunk entries and end block
 * set to boundary values) runs every time; truncations and bit flips are a seeded
 * sample (LMZIP_MUTATION_SEED to vary, LMZIP_MUTATIONS=n for n times as many). A
 * failure message names the mutation so it can be replayed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDecompressStream, decompress, type Model } from '../../src/index.js';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { REPO, fixChecksums, layout, outcome, prng, storiesModel, storyText, type Layout } from './helpers.js';

// lmzip writes format version 2 now; these are version-1 files written by the last
// version-1 lmzip (test/golden/v1-fixtures/README.md), whose decoding must not change.
const v1File = (name: string) => readFileSync(join(REPO, 'test/golden/v1-fixtures', name));

const SEED = Number(process.env.LMZIP_MUTATION_SEED ?? 20240601);
const SCALE = Number(process.env.LMZIP_MUTATIONS ?? 1);

describe('damaged .lmz files', () => {
  let model: Model;
  let original: Buffer;
  let file: Buffer;
  let other: Buffer; // another file: same model, other settings and text
  let lay: Layout;
  const tally: Record<string, number> = {};

  async function check(name: string, damaged: Buffer, opts: { maxOutputLength?: number } = {}, expected?: Buffer): Promise<string> {
    const started = performance.now();
    const r = await outcome(() => decompress(damaged, { model, ...opts }));
    const ms = performance.now() - started;
    expect(ms, `${name}: took ${ms.toFixed(0)} ms`).toBeLessThan(20000);
    const key = 'code' in r ? r.code : 'original bytes';
    if ('ok' in r) expect(r.ok.equals(expected ?? original), `${name}: decoded to different bytes`).toBe(true);
    tally[key] = (tally[key] ?? 0) + 1;
    return key;
  }

  beforeAll(async () => {
    model = await storiesModel();
    // Text the model codes, a binary stretch (brotli/stored chunks), more text: several frames.
    const binary = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 131 + 7) & 0xff));
    original = Buffer.concat([storyText(700, 1), binary, storyText(500, 2)]);
    file = v1File('frames.bin.lmz'); // { lanes: 2, window: 64, overlap: 16, chunkSize: 256 }
    other = v1File('other.bin.lmz'); // storyText(600, 3), { lanes: 3, window: 32, overlap: 8, chunkSize: 128 }
    lay = layout(file);
    expect((await decompress(file, { model })).equals(original)).toBe(true);
    const methods = lay.frames.flatMap((f) => f.chunks.map((c) => c.method));
    expect(methods).toContain(1); // model-coded chunks are present
    expect(lay.frames.length).toBeGreaterThan(1);
  }, 60000);

  it('rejects every truncation', async () => {
    const cuts = new Set<number>([0, 1, 7, 8, 15, 16, lay.headerEnd - 1, lay.headerEnd, lay.endBlock, file.length - 1]);
    for (const f of lay.frames) for (const p of [f.start, f.start + 1, f.tableEnd, f.tableEnd + 4, f.end - 1]) cuts.add(p);
    const rnd = prng(SEED);
    while (cuts.size < 40 * SCALE) cuts.add(Math.floor(rnd() * file.length));
    for (const n of cuts) {
      const code = await check(`truncate to ${n}`, file.subarray(0, n));
      expect(code, `truncated to ${n} bytes`).not.toBe('original bytes');
    }
  }, 60000);

  it('survives random bit flips (checksums as they are)', async () => {
    const rnd = prng(SEED + 1);
    for (let i = 0; i < 40 * SCALE; i++) {
      const damaged = Buffer.from(file);
      const at = Math.floor(rnd() * damaged.length);
      damaged[at] ^= 1 << Math.floor(rnd() * 8);
      await check(`flip a bit at ${at}`, damaged);
    }
  }, 60000);

  it('survives bit flips in payloads behind valid checksums', async () => {
    // Payload bytes are covered only by the per-chunk CRC of the decoded bytes: the
    // damage reaches the range decoder and the model.
    const rnd = prng(SEED + 2);
    const modelChunks = lay.frames.flatMap((f) => f.chunks.filter((c) => c.method === 1 && c.payloadSize > 0));
    for (let i = 0; i < 40 * SCALE; i++) {
      const c = modelChunks[Math.floor(rnd() * modelChunks.length)];
      const damaged = Buffer.from(file);
      const at = c.payload + Math.floor(rnd() * c.payloadSize);
      damaged[at] ^= 1 << Math.floor(rnd() * 8);
      const code = await check(`flip payload byte ${at}`, damaged);
      expect(['CHECKSUM_MISMATCH', 'CORRUPT_DATA', 'original bytes']).toContain(code);
    }
  }, 60000);

  it('survives every changed length, count, method and header field (checksums recomputed)', async () => {
    const edits: { name: string; apply: (b: Buffer) => void }[] = [];
    const u32 = (off: number, v: number) => (b: Buffer) => b.writeUInt32LE(v >>> 0, off);
    const field = (name: string, off: number, values: number[]) => {
      for (const v of values) edits.push({ name: `${name}=${v}`, apply: u32(off, v) });
    };
    for (const [fi, f] of lay.frames.entries()) {
      edits.push({ name: `frame ${fi} chunk count +1`, apply: u32(f.start + 1, f.chunks.length + 1) });
      edits.push({ name: `frame ${fi} chunk count 0`, apply: u32(f.start + 1, 0) });
      edits.push({ name: `frame ${fi} chunk count huge`, apply: u32(f.start + 1, 0xffffffff) });
      for (const [ci, c] of f.chunks.entries()) {
        const at = `frame ${fi} chunk ${ci} (method ${c.method})`;
        field(`${at} originalSize`, c.entry + 2, [0, c.originalSize - 1, c.originalSize + 1, c.originalSize * 2, 1 << 24, 0xffffffff]);
        field(`${at} tokenCount`, c.entry + 6, [0, c.tokenCount - 1, c.tokenCount + 1, c.originalSize + 1, 0xffffffff]);
        field(`${at} payloadSize`, c.entry + 10, [0, c.payloadSize - 1, c.payloadSize + 1, 0xffffffff]);
        field(`${at} crc`, c.entry + 14, [0]);
        for (const m of [0, 1, 2, 3, 255]) if (m !== c.method) edits.push({ name: `${at} method=${m}`, apply: (b) => (b[c.entry] = m) });
        edits.push({ name: `${at} flags=1`, apply: (b) => (b[c.entry + 1] ^= 1) });
        edits.push({ name: `${at} flags=0x80`, apply: (b) => (b[c.entry + 1] |= 0x80) });
      }
    }
    const h = 16; // header body
    const header: [string, number, number[], 'u8' | 'u16' | 'u32' | 'u64'][] = [
      ['vocabSize', h + 40, [0, 511, 513, 0xffffffff], 'u32'],
      ['lanes', h + 44, [0, 1, 3, 257, 0xffff], 'u16'],
      ['window', h + 48, [0, 7, 63, 65, 1 << 21], 'u32'],
      ['overlap', h + 52, [0, 15, 17, 62, 63, 0xffffffff], 'u32'],
      ['ubatch', h + 56, [0, 1, 511, 0xffffffff], 'u32'],
      ['flashAttention', h + 60, [1, 2], 'u8'],
      ['freqAlgorithm', h + 61, [0, 2, 255], 'u8'],
      ['originalSize', h + 64, [0, original.length - 1, original.length + 1, 2 ** 40, 2 ** 53], 'u64'],
      ['version', 8, [0, 2, 255], 'u8'],
      ['flags', 9, [1, 0x80], 'u8'],
      ['bodySize', 12, [0, 75, 65537, 0xffffffff], 'u32'],
    ];
    for (const [name, off, values, kind] of header)
      for (const v of values)
        edits.push({ name: `header ${name}=${v}`, apply: (b) => {
          if (kind === 'u8') b[off] = v;
          else if (kind === 'u16') b.writeUInt16LE(v, off);
          else if (kind === 'u32') b.writeUInt32LE(v >>> 0, off);
          else b.writeBigUInt64LE(BigInt(v), off);
        } });
    edits.push({ name: 'header model sha256 changed', apply: (b) => (b[h] ^= 0xff) });
    edits.push({ name: 'header tokenizer fingerprint changed', apply: (b) => (b[h + 32] ^= 0xff) });
    const e = lay.endBlock;
    field('end totalSize', e + 1, [0, original.length - 1, original.length + 1]);
    field('end frameCount', e + 9, [0, lay.frames.length - 1, lay.frames.length + 1]);
    field('end contentCrc', e + 13, [0, 0xdeadbeef]);

    // Every edit, every run: none is left to chance (the seeded sampling is for the flips above).
    const seen = new Map<string, number>();
    for (const edit of edits) {
      const damaged = Buffer.from(file);
      edit.apply(damaged);
      const kind = edit.name.replace(/=.*$/, '').replace(/ \(method \d+\)/, '').replace(/\b\d+\b/g, '#');
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
      await check(edit.name, fixChecksums(damaged));
    }
    console.log(`structural edits: ${edits.length} (${[...seen].map(([k, n]) => `${k} ${n}`).join(', ')})`);
    // 45 header edits, 8 end-block edits, 3 per frame and 22 per chunk: the whole list ran.
    expect(edits.length).toBe(45 + 8 + lay.frames.reduce((n, f) => n + 3 + 22 * f.chunks.length, 0));
  }, 120000);

  it('survives spliced files', async () => {
    const lo = layout(other);
    const head = (b: Buffer, l: Layout) => b.subarray(0, l.headerEnd);
    const frames = (b: Buffer, l: Layout) => b.subarray(l.headerEnd, l.endBlock);
    const end = (b: Buffer, l: Layout) => b.subarray(l.endBlock);
    const cases: [string, Buffer][] = [
      ['two files concatenated', Buffer.concat([file, other])],
      ['header of A, frames and end of B', Buffer.concat([head(file, lay), frames(other, lo), end(other, lo)])],
      ['header of B, frames and end of A', Buffer.concat([head(other, lo), frames(file, lay), end(file, lay)])],
      ['frames of A then B', Buffer.concat([head(file, lay), frames(file, lay), frames(other, lo), end(file, lay)])],
      ['first frame twice', Buffer.concat([head(file, lay), file.subarray(lay.frames[0].start, lay.frames[0].end), frames(file, lay), end(file, lay)])],
      ['frames swapped', Buffer.concat([head(file, lay), file.subarray(lay.frames[1].start, lay.frames[1].end),
        file.subarray(lay.frames[0].start, lay.frames[0].end), file.subarray(lay.frames[1].end, lay.endBlock), end(file, lay)])],
      ['a frame dropped', Buffer.concat([head(file, lay), file.subarray(lay.frames[1].start, lay.endBlock), end(file, lay)])],
      ['payloads of two chunks swapped', swapPayloads(file, lay)],
    ];
    // Concatenated files are valid and decode to both (docs/FORMAT.md, "Files and members").
    const both = (name: string) => (name === 'two files concatenated' ? Buffer.concat([original, storyText(600, 3)]) : undefined);
    for (const [name, bytes] of cases) {
      await check(name, bytes, {}, both(name));
      await check(`${name} (checksums recomputed)`, fixChecksums(bytes), {}, both(name));
    }
  }, 60000);

  it('survives damage to a model-free file', async () => {
    // Bytes no model helps with: the file names no model (a 20-byte header).
    const plain = Buffer.from(Array.from({ length: 3000 }, (_, i) => (Math.imul(i, 2654435761) >>> 13) & 0xff));
    const free = v1File('model-free.bin.lmz'); // plain, { lanes: 2, chunkSize: 512 }
    expect((await decompress(free)).equals(plain)).toBe(true);
    expect(free[9] & 1, 'model-free flag').toBe(1);
    const lf = layout(free);
    const rnd = prng(SEED + 5);
    const check2 = async (name: string, b: Buffer) => {
      const r = await outcome(() => decompress(b, { model }));
      if ('ok' in r) expect(r.ok.equals(plain), `${name}: decoded to different bytes`).toBe(true);
      const key = 'code' in r ? r.code : 'original bytes';
      tally[key] = (tally[key] ?? 0) + 1;
      return key;
    };
    expect(await check2('intact', free)).toBe('original bytes');
    for (let i = 0; i < 20 * SCALE; i++) {
      const n = Math.floor(rnd() * free.length);
      expect(await check2(`truncate to ${n}`, free.subarray(0, n))).not.toBe('original bytes');
      const b = Buffer.from(free);
      b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
      await check2('flip', b);
      await check2('flip, checksums recomputed', fixChecksums(b));
    }
    // Clear the model-free flag, or mark a chunk as model-coded: both must be refused.
    const noFlag = Buffer.from(free);
    noFlag[9] = 0;
    expect(await check2('model-free flag cleared', fixChecksums(noFlag))).not.toBe('original bytes');
    const asModel = Buffer.from(free);
    asModel[lf.frames[0].chunks[0].entry] = 1;
    expect(await check2('chunk claims the model', fixChecksums(asModel))).toBe('CORRUPT_HEADER');
    // A model-free header spliced onto model-coded frames.
    const spliced = Buffer.concat([free.subarray(0, lf.headerEnd), file.subarray(lay.headerEnd)]);
    expect(await check2('model-free header, model frames', fixChecksums(spliced))).toBe('CORRUPT_HEADER');
  }, 60000);

  it('honours maxOutputLength before decoding', async () => {
    expect(await check('maxOutputLength = size - 1', file, { maxOutputLength: original.length - 1 })).toBe('OUTPUT_TOO_LARGE');
    expect(await check('maxOutputLength = 0', file, { maxOutputLength: 0 })).toBe('OUTPUT_TOO_LARGE');
    expect(await check('maxOutputLength = size', file, { maxOutputLength: original.length })).toBe('original bytes');
    // A header that claims a huge size fails at once, without decoding or allocating.
    const bomb = Buffer.from(file);
    bomb.writeBigUInt64LE(2n ** 50n, 16 + 64);
    const t0 = performance.now();
    expect(await check('header claims 1 PiB', fixChecksums(bomb))).toBe('OUTPUT_TOO_LARGE');
    expect(performance.now() - t0).toBeLessThan(2000);
  }, 60000);

  it('gives the same verdicts through createDecompressStream', async () => {
    const rnd = prng(SEED + 4);
    const inputs: [string, Buffer][] = [
      ['valid', file],
      ['truncated', file.subarray(0, Math.floor(file.length * 0.7))],
      ['flipped', (() => { const b = Buffer.from(file); b[lay.frames[0].chunks[0].payload] ^= 4; return b; })()],
      ['concatenated', Buffer.concat([file, other])],
    ];
    for (let i = 0; i < 4 * SCALE; i++) {
      const b = Buffer.from(file);
      b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
      inputs.push([`random flip ${i}`, b]);
    }
    for (const [name, bytes] of inputs) {
      const expected = name === 'concatenated' ? Buffer.concat([original, storyText(600, 3)]) : original;
      const [a, s] = await Promise.all([check(name, bytes, {}, expected), streamOutcome(bytes, model)]);
      if (a === 'original bytes') expect(s.ok?.equals(expected), name).toBe(true);
      else expect(s.code, name).toBe(a);
    }
  }, 60000);

  it('reports the tally', () => {
    console.log('mutation outcomes:', JSON.stringify(tally));
    expect(Object.keys(tally).length).toBeGreaterThan(1);
  });
});

function swapPayloads(file: Buffer, lay: Layout): Buffer {
  // Two model chunks of the same payload size, if any; else the first two chunks' bytes.
  const out = Buffer.from(file);
  const cs = lay.frames.flatMap((f) => f.chunks).filter((c) => c.payloadSize > 0);
  const a = cs[0];
  const b = cs.find((c) => c !== a && c.payloadSize === a.payloadSize) ?? cs[1];
  const n = Math.min(a.payloadSize, b.payloadSize);
  file.copy(out, a.payload, b.payload, b.payload + n);
  file.copy(out, b.payload, a.payload, a.payload + n);
  return out;
}

async function streamOutcome(bytes: Buffer, model: Model): Promise<{ ok?: Buffer; code?: string }> {
  const parts: Buffer[] = [];
  try {
    // Feed in small pieces so the incremental parser sees every boundary.
    const pieces = [];
    for (let i = 0; i < bytes.length; i += 97) pieces.push(bytes.subarray(i, i + 97));
    await pipeline(Readable.from(pieces), createDecompressStream({ model }),
      new Writable({ write(chunk, _e, cb) { parts.push(chunk); cb(); } }));
    return { ok: Buffer.concat(parts) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if ((e as Error).name !== 'LmzipError') throw e;
    return { code };
  }
}
