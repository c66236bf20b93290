/**
 * Property tests on damaged version-2 files: truncations, bit flips, changed fields of
 * headers, block tables and indexes (with the header CRC and the index recomputed,
 * so the damage reaches the check meant for it), spliced and concatenated members.
 * For every input the outcome must be an LmzipError with a known code or the original
 * bytes: never another exception, a crash, a hang or different bytes; and the stream
 * decoder must give the same verdict as decompress() (one decode path). Mutations come
 * from a seeded PRNG (LMZIP_MUTATION_SEED to vary, LMZIP_MUTATIONS to run more); a
 * failure names the mutation so it can be replayed.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { LmzipError, Model, compress, createDecompressStream, decompress } from '../../src/index.js';
import { ErrorCode } from '../../src/errors.js';
import { STORIES, rng } from '../helpers.js';
import { blockBytes, headerBytes, putTogether, takeApart, type EditMember } from './v2-edit.js';

const SEED = Number(process.env.LMZIP_MUTATION_SEED ?? 20261205);
const SCALE = Number(process.env.LMZIP_MUTATIONS ?? 1);
const KNOWN = new Set<string>(Object.values(ErrorCode));

const STORY = 'Once upon a time, there was a little dog named Max. Max liked to run in the park with his red ball. ' +
  'One day, Max saw a big cat. The cat was sad because it lost its toy. Max helped the cat find the toy under a tree. ' +
  'They became good friends and played together every day.\n';

async function oneShot(bytes: Buffer, model: Model, opts = {}): Promise<string | Buffer> {
  try {
    return await decompress(bytes, { model, ...opts });
  } catch (e) {
    if (!(e instanceof LmzipError)) throw new Error(`expected an LmzipError, got ${String(e)}`, { cause: e });
    if (!KNOWN.has(e.code)) throw new Error(`unknown error code ${e.code}`);
    return e.code;
  }
}

async function streamed(bytes: Buffer, model: Model): Promise<string | Buffer> {
  const parts: Buffer[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 61) pieces.push(bytes.subarray(i, i + 61));
  try {
    await pipeline(Readable.from(pieces), createDecompressStream({ model }), new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
    return Buffer.concat(parts);
  } catch (e) {
    if (!(e instanceof LmzipError)) throw new Error(`expected an LmzipError, got ${String(e)}`, { cause: e });
    return e.code;
  }
}

describe('damaged version-2 files', () => {
  let model: Model;
  let original: Buffer;
  let file: Buffer;
  let other: Buffer;
  let otherOriginal: Buffer;
  const tally: Record<string, number> = {};

  /** The verdict on `bytes`: the code, or 'original bytes'; anything else fails the test. */
  async function check(name: string, bytes: Buffer, expected = original, parity = false): Promise<string> {
    const started = performance.now();
    const r = await oneShot(bytes, model);
    const ms = performance.now() - started;
    expect(ms, `${name}: took ${ms.toFixed(0)} ms`).toBeLessThan(20000);
    if (Buffer.isBuffer(r)) expect(r.equals(expected), `${name}: decoded to different bytes`).toBe(true);
    const verdict = Buffer.isBuffer(r) ? 'original bytes' : r;
    if (parity) {
      const s = await streamed(bytes, model);
      expect(Buffer.isBuffer(s) ? 'original bytes' : s, `${name}: the stream decoder disagrees`).toBe(verdict);
    }
    tally[verdict] = (tally[verdict] ?? 0) + 1;
    return verdict;
  }

  beforeAll(async () => {
    model = await Model.load(STORIES, { threads: 1 });
    const binary = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff));
    original = Buffer.concat([Buffer.from(STORY.repeat(4)), binary, Buffer.from(STORY.repeat(3))]);
    // 1 KiB blocks: several blocks with an index; model, brotli and stored chunks.
    file = await compress(original, { model, lanes: 2, window: 64, overlap: 16, chunkSize: 256, blockSize: 1024 });
    otherOriginal = Buffer.from(STORY.repeat(2).slice(0, 500));
    other = await compress(otherOriginal, { model, lanes: 3, window: 32, overlap: 8, chunkSize: 128 });
    expect((await decompress(file, { model })).equals(original)).toBe(true);
    const m = takeApart(file);
    expect(m).toHaveLength(1);
    expect(m[0].blocks.length).toBeGreaterThan(2);
    expect(m[0].index).toBe(true);
    expect(m[0].blocks.flatMap((b) => b.chunks.map((c) => c.method))).toContain(1);
    expect(putTogether(m).equals(file)).toBe(true); // the editor writes what it read
  }, 120000);

  it('rejects every truncation', async () => {
    const m = takeApart(file)[0];
    const cuts = new Set<number>([0, 1, 7, 8, 9, 10, 11, 20, file.length - 1, file.length - 6, file.length - 7]);
    let p = headerBytes(m.header).length;
    for (const b of m.blocks) {
      cuts.add(p).add(p + 1).add(p + 5);
      p += blockBytes(b).length;
    }
    cuts.add(p).add(p + 1);
    const r = rng(SEED);
    while (cuts.size < 40 * SCALE) cuts.add(Math.floor(r() * file.length));
    for (const n of cuts) expect(await check(`truncate to ${n}`, file.subarray(0, n), original, n % 3 === 0), `cut at ${n}`).not.toBe('original bytes');
  }, 120000);

  it('survives random bit flips, and the stream decoder agrees', async () => {
    const r = rng(SEED + 1);
    for (let i = 0; i < 40 * SCALE; i++) {
      const damaged = Buffer.from(file);
      const at = Math.floor(r() * damaged.length);
      damaged[at] ^= 1 << Math.floor(r() * 8);
      await check(`flip a bit at ${at}`, damaged, original, i % 4 === 0);
    }
  }, 120000);

  it('survives bit flips in model streams (never other bytes)', async () => {
    const r = rng(SEED + 2);
    const m = takeApart(file)[0];
    const withStream = m.blocks.map((b, i) => [b, i] as const).filter(([b]) => b.streamSize !== undefined);
    for (let k = 0; k < 12 * SCALE; k++) {
      const [b, i] = withStream[Math.floor(r() * withStream.length)];
      const body = Buffer.from(b.body);
      body[Math.floor(r() * b.streamSize!)] ^= 1 << Math.floor(r() * 8);
      const edited = takeApart(file);
      edited[0].blocks[i] = { ...b, body };
      const code = await check(`flip a stream bit in block ${i}`, putTogether(edited), original, k % 3 === 0);
      expect(['CHECKSUM_MISMATCH', 'CORRUPT_DATA', 'original bytes']).toContain(code);
    }
  }, 120000);

  it('survives changed fields (header CRC and index recomputed)', async () => {
    const r = rng(SEED + 3);
    const edits: { name: string; apply: (m: EditMember) => void }[] = [];
    const h = (name: string, fn: (m: EditMember) => void) => edits.push({ name: `header ${name}`, apply: fn });
    for (const v of [0, 1, 3, 257]) h(`lanes=${v}`, (m) => (m.header.lanes = v));
    for (const v of [0, 7, 32, 65, 1025, 1 << 21]) h(`window=${v}`, (m) => (m.header.window = v));
    for (const v of [0, 15, 17, 62, 63]) h(`overlap=${v}`, (m) => (m.header.overlap = v));
    for (const v of [0, 1, 511, 513, 65537]) h(`ubatch=${v}`, (m) => (m.header.ubatch = v));
    for (const v of [0, 2, 3, 1000]) h(`method=${v}`, (m) => (m.header.method = v));
    for (const v of [0, 512, 1023, 1025, 2048, 1 << 27]) h(`blockSize=${v}`, (m) => (m.header.blockSize = v));
    for (const v of [0x01, 0x02, 0x04, 0x80]) h(`flags=${v}`, (m) => (m.header.flags = v));
    h('hash changed', (m) => (m.header.hash = Buffer.from(m.header.hash.map((x) => x ^ 0xff))));
    h('params added', (m) => (m.header.params = Buffer.of(1)));
    h('profile cut', (m) => (m.header.profile = m.header.profile.subarray(0, 3)));
    h('profile literal', (m) => (m.header.profile = Buffer.concat([m.header.profile, Buffer.of(0, 1, 0x7a, 0, 1, 0x41)])));
    const m0 = takeApart(file)[0];
    m0.blocks.forEach((b, bi) => {
      const at = (name: string, fn: (m: EditMember) => void) => edits.push({ name: `block ${bi} ${name}`, apply: fn });
      b.chunks.forEach((c, ci) => {
        for (const d of [-1, 1, 100]) at(`chunk ${ci} size ${d > 0 ? '+' : ''}${d}`, (m) => (m.blocks[bi].chunks[ci].size += d));
        for (const v of [0, 1 << 24, (1 << 24) + 1]) at(`chunk ${ci} size=${v}`, (m) => (m.blocks[bi].chunks[ci].size = v));
        for (const meth of [0, 1, 2, 3]) if (meth !== c.method) at(`chunk ${ci} method=${meth}`, (m) => (m.blocks[bi].chunks[ci].method = meth));
        at(`chunk ${ci} strip flipped`, (m) => (m.blocks[bi].chunks[ci].strip = !c.strip));
        if (c.method === 2) for (const d of [-1, 1]) at(`chunk ${ci} payload ${d}`, (m) => (m.blocks[bi].chunks[ci].payloadSize += d));
      });
      if (b.streamSize !== undefined)
        for (const d of [-1, 1, -b.streamSize, 1000]) at(`stream size ${d}`, (m) => (m.blocks[bi].streamSize = b.streamSize! + d));
      at('crc changed', (m) => (m.blocks[bi].crc ^= 1));
      at('chunk dropped', (m) => m.blocks[bi].chunks.pop());
      at('dropped', (m) => m.blocks.splice(bi, 1));
      at('repeated', (m) => m.blocks.splice(bi, 0, m.blocks[bi]));
      if (bi > 0) at('swapped with the previous', (m) => ([m.blocks[bi - 1], m.blocks[bi]] = [m.blocks[bi], m.blocks[bi - 1]]));
    });
    edits.push({ name: 'index dropped', apply: (m) => (m.index = false) });
    let chosen = edits;
    if (SCALE <= 1 && edits.length > 120) chosen = edits.filter(() => r() < 120 / edits.length);
    for (const [i, e] of chosen.entries()) {
      const m = takeApart(file);
      e.apply(m[0]);
      const bytes = putTogether(m);
      const verdict = await check(e.name, bytes, original, i % 3 === 0);
      // Dropping, repeating or moving a block, or another model, can never give the original bytes back. (Other
      // lane settings may: a batch shape that changes no kernel changes no logit.)
      if (/^block \d+ (dropped|repeated|swapped)|crc changed|hash changed/.test(e.name))
        expect(verdict, e.name).not.toBe('original bytes');
    }
    // Without an index the file is still whole.
    const noIndex = takeApart(file);
    noIndex[0].index = false;
    expect(await check('no index', putTogether(noIndex), original, true)).toBe('original bytes');
  }, 300000);

  it('decodes concatenations and refuses splices', async () => {
    const a = takeApart(file)[0];
    const b = takeApart(other)[0];
    expect(await check('A then B', Buffer.concat([file, other]), Buffer.concat([original, otherOriginal]), true)).toBe('original bytes');
    expect(await check('B, A, B', Buffer.concat([other, file, other]), Buffer.concat([otherOriginal, original, otherOriginal]), true)).toBe('original bytes');
    const splices: [string, EditMember][] = [
      ['header of B, blocks of A', { header: b.header, blocks: a.blocks, index: true }],
      ['header of A, blocks of B', { header: a.header, blocks: b.blocks, index: true }],
      ['blocks of A, then of B', { header: a.header, blocks: [...a.blocks, ...b.blocks], index: true }],
    ];
    for (const [name, m] of splices) expect(await check(name, putTogether([m]), original, true), name).not.toBe('original bytes');
    // A member cut short, then another member: the first one's blocks are not complete.
    expect(await check('A cut, then B', Buffer.concat([file.subarray(0, file.length - 20), other]), original, true)).not.toBe('original bytes');
  }, 120000);

  it('survives damage to a model-free member', async () => {
    const plain = Buffer.from(Array.from({ length: 3000 }, (_, i) => (Math.imul(i, 2654435761) >>> 13) & 0xff));
    const free = await compress(plain, { model, blockSize: 1024 });
    // Three blocks: the header names the model, but no block uses it.
    expect((await decompress(free)).equals(plain)).toBe(true);
    const r = rng(SEED + 5);
    for (let i = 0; i < 20 * SCALE; i++) {
      const n = Math.floor(r() * free.length);
      expect(await check(`model-free truncated to ${n}`, free.subarray(0, n), plain, true)).not.toBe('original bytes');
      const b = Buffer.from(free);
      b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      await check('model-free flip', b, plain, true);
    }
    const one = await compress(plain.subarray(0, 1000), { model });
    expect(one[9] & 1, 'a one-block member without model chunks has the model-free header').toBe(1);
    const asModel = takeApart(one);
    asModel[0].blocks[0].chunks[0].method = 1;
    asModel[0].blocks[0].streamSize = 1;
    expect(await check('model-free member, model chunk', putTogether(asModel), plain.subarray(0, 1000), true)).toBe('CORRUPT_HEADER');
  }, 120000);

  it('reports the tally', () => {
    console.log('v2 mutation outcomes:', JSON.stringify(tally));
    expect(Object.keys(tally).length).toBeGreaterThan(3);
  });
});
