/**
 * Golden files (test/golden, made by scripts/make-golden.mjs): good files must decode
 * to the bytes beside them; damaged files must fail with the code errors.json names.
 * A build with another numeric profile must refuse the model-coded ones instead.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, createDecompressStream, decompress, inspect } from '../../src/index.js';
import { numericProfile } from '../../src/profile.js';
import { REPO, STORIES } from '../helpers.js';

const GOLDEN = join(REPO, 'test/golden');
const manifest = JSON.parse(readFileSync(join(GOLDEN, 'errors.json'), 'utf8')) as {
  profile: string;
  errors: { file: string; code: string; why: string }[];
};

let model: Model;
let sameProfile = false;
beforeAll(async () => {
  model = await Model.load(STORIES, { threads: 1 });
  sameProfile = numericProfile(model) === manifest.profile;
});
afterAll(() => model?.dispose());

describe('golden files decode', () => {
  for (const name of ['story.txt', 'mixed.bin', 'one-byte.txt', 'empty.txt']) {
    it(name, async () => {
      const packed = readFileSync(join(GOLDEN, `${name}.lmz`));
      const original = readFileSync(join(GOLDEN, name));
      const header = inspect(packed).header;
      if (!header.modelFree && !sameProfile) {
        await expect(decompress(packed, { model })).rejects.toMatchObject({ code: 'PROFILE_MISMATCH' });
        return;
      }
      expect((await decompress(packed, { model })).equals(original)).toBe(true);
      // The stream decoder, fed one byte at a time, agrees.
      const parts: Buffer[] = [];
      await pipeline(
        Readable.from((function* () { for (const b of packed) yield Buffer.from([b]); })()),
        createDecompressStream({ model }),
        new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }),
      );
      expect(Buffer.concat(parts).equals(original)).toBe(true);
    });
  }

  it('records what the format promises', () => {
    const info = inspect(readFileSync(join(GOLDEN, 'story.txt.lmz')));
    expect(info.header.modelReference).toBe('stories260k');
    expect(info.header.modelSha256).toBe('270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
    expect(info.header).toMatchObject({ lanes: 4, window: 64, overlap: 32, ubatch: 512, flashAttention: false, freqAlgorithm: 1, originalSize: 1563n });
    expect(info.chunks.model).toBeGreaterThan(1);
    const mixed = inspect(readFileSync(join(GOLDEN, 'mixed.bin.lmz')));
    expect(mixed.chunks).toEqual({ model: 1, brotli: 2, stored: 0 }); // story; noise over 222 values and a run of 'Z' both shrink under brotli
    expect(inspect(readFileSync(join(GOLDEN, 'empty.txt.lmz'))).header.modelFree).toBe(true);
  });
});

describe('damaged golden files are rejected', () => {
  for (const { file, code, why } of manifest.errors) {
    it(`${file}: ${why} -> ${code}`, async () => {
      const bytes = readFileSync(join(GOLDEN, file));
      const expected = !sameProfile && ['CHECKSUM_MISMATCH', 'CORRUPT_DATA', 'MODEL_MISMATCH'].includes(code) ? expect.any(String) : code;
      await expect(decompress(bytes, { model })).rejects.toMatchObject({ code: expected });
    });
  }
});
