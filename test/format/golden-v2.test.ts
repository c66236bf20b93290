/**
 * Version-2 golden files (test/golden/v2, made by scripts/make-golden.mjs): good
 * files must decode to the bytes beside them, one-shot, through the stream fed a byte
 * at a time, and through random access; damaged files must fail with the code
 * errors.json names (chosen from docs/FORMAT.md), the same way in both decoders. A
 * build with another numeric profile must refuse the model-coded ones instead.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, createDecompressStream, decompress, inspect, open } from '../../src/index.js';
import { numericProfile } from '../../src/profile.js';
import { REPO, STORIES } from '../helpers.js';

const GOLDEN = join(REPO, 'test/golden/v2');
const manifest = JSON.parse(readFileSync(join(GOLDEN, 'errors.json'), 'utf8')) as {
  profile: string;
  errors: { file: string; code: string; why: string }[];
};
/** Codes that only a decoder with the file's profile can reach (a model block must be decoded first). */
const NEEDS_PROFILE = ['CHECKSUM_MISMATCH', 'CORRUPT_DATA', 'MODEL_MISMATCH', 'RESOURCE_LIMIT'];

let model: Model;
let sameProfile = false;
beforeAll(async () => {
  model = await Model.load(STORIES, { threads: 1 });
  sameProfile = numericProfile(model) === manifest.profile;
  if (!sameProfile) console.log(`golden v2: this build's profile differs from ${manifest.profile}; model-coded files must be refused`);
});
afterAll(() => model?.dispose());

async function streamDecode(bytes: Buffer, pieceSize: number): Promise<{ ok?: Buffer; code?: string }> {
  const parts: Buffer[] = [];
  try {
    const pieces: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += pieceSize) pieces.push(bytes.subarray(i, i + pieceSize));
    await pipeline(Readable.from(pieces), createDecompressStream({ model }), new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
    return { ok: Buffer.concat(parts) };
  } catch (e) {
    return { code: (e as { code?: string }).code };
  }
}

const GOOD = ['story.txt', 'mixed.bin', 'one-byte.txt', 'empty.txt', 'blocks.txt', 'no-index.txt', 'concat.txt', 'shift-story.txt',
  'shift-mix-blocks.txt', 'compact-story.txt', 'compact-mix-blocks.txt'];

describe('version-2 golden files decode', () => {
  for (const name of GOOD) {
    it(name, async () => {
      const packed = readFileSync(join(GOLDEN, `${name}.lmz`));
      const original = readFileSync(join(GOLDEN, name));
      if (inspect(packed).members.some((m) => !m.header.modelFree && m.header.profile !== numericProfile(model))) {
        await expect(decompress(packed, { model })).rejects.toMatchObject({ code: 'PROFILE_MISMATCH' });
        return;
      }
      expect((await decompress(packed, { model })).equals(original)).toBe(true);
      const streamed = await streamDecode(packed, 1);
      expect(streamed.ok?.equals(original)).toBe(true);
      // Random access: the whole file, and a slice across every block edge.
      const archive = await open(packed, { model });
      try {
        expect(archive.size).toBe(original.length);
        expect((await archive.read(0, original.length)).equals(original)).toBe(true);
        for (const b of archive.blocks.slice(1)) {
          const from = Math.max(0, b.originalOffset - 3);
          expect((await archive.read(from, 6)).equals(original.subarray(from, from + 6))).toBe(true);
        }
      } finally {
        await archive.close();
      }
    });
  }

  it('records what the format promises', () => {
    const info = inspect(readFileSync(join(GOLDEN, 'story.txt.lmz')));
    expect(info.header).toMatchObject({ version: 2, modelName: 'stories260k', modelHash: '270cba1bd5109f42', lanes: 4, window: 64, overlap: 32,
      ubatch: 512, flashAttention: false, shiftContext: false, codingMethod: 1, blockSize: 256 * 1024 });
    expect(info.chunks.model).toBeGreaterThan(1);
    // The same text with SHIFT_CONTEXT (flag bit 2): the same settings otherwise.
    const shifted = inspect(readFileSync(join(GOLDEN, 'shift-story.txt.lmz')));
    expect(shifted.header).toMatchObject({ lanes: 4, window: 64, overlap: 32, shiftContext: true, codingMethod: 1 });
    expect(readFileSync(join(GOLDEN, 'shift-story.txt.lmz'))[9]).toBe(0x04);
    expect(inspect(readFileSync(join(GOLDEN, 'shift-mix-blocks.txt.lmz'))).header).toMatchObject({ shiftContext: true, compactShift: false, codingMethod: 2 });
    // And with COMPACT_SHIFT (bit 3) as well, what lmzip writes today.
    const compacted = inspect(readFileSync(join(GOLDEN, 'compact-story.txt.lmz')));
    expect(compacted.header).toMatchObject({ lanes: 4, window: 64, overlap: 32, shiftContext: true, compactShift: true, codingMethod: 1 });
    expect(readFileSync(join(GOLDEN, 'compact-story.txt.lmz'))[9]).toBe(0x0c);
    expect(inspect(readFileSync(join(GOLDEN, 'compact-mix-blocks.txt.lmz'))).header).toMatchObject({ shiftContext: true, compactShift: true, codingMethod: 2 });
    expect(inspect(readFileSync(join(GOLDEN, 'mixed.bin.lmz'))).chunks.brotli).toBeGreaterThan(0);
    expect(inspect(readFileSync(join(GOLDEN, 'empty.txt.lmz'))).header.modelFree).toBe(true);
    expect(inspect(readFileSync(join(GOLDEN, 'one-byte.txt.lmz'))).header.modelFree).toBe(true);
    const blocks = inspect(readFileSync(join(GOLDEN, 'blocks.txt.lmz')));
    expect(blocks.members[0]).toMatchObject({ blocks: 4, indexed: true });
    expect(inspect(readFileSync(join(GOLDEN, 'no-index.txt.lmz'))).members[0]).toMatchObject({ blocks: 4, indexed: false });
    const concat = inspect(readFileSync(join(GOLDEN, 'concat.txt.lmz')));
    expect(concat.members.map((m) => m.version)).toEqual([2, 1, 2]);
  });

  it('random access finds the members of the concatenated file from the end and by scanning', async () => {
    const archive = await open(readFileSync(join(GOLDEN, 'concat.txt.lmz')), { model });
    try {
      expect(archive.members.map((m) => [m.version, m.indexed])).toEqual([[2, false], [1, false], [2, true]]);
    } finally {
      await archive.close();
    }
  });
});

describe('damaged version-2 golden files are rejected', () => {
  for (const { file, code, why } of manifest.errors) {
    it(`${file}: ${why} -> ${code}`, async () => {
      const bytes = readFileSync(join(GOLDEN, file));
      const expected = !sameProfile && NEEDS_PROFILE.includes(code) ? expect.any(String) : code;
      await expect(decompress(bytes, { model })).rejects.toMatchObject({ code: expected });
      // The stream decoder, fed in odd pieces, refuses it the same way.
      const streamed = await streamDecode(bytes, 7);
      expect(streamed.ok, 'the stream decoder accepted it').toBeUndefined();
      if (sameProfile) expect(streamed.code).toBe(code);
    });
  }
});
