/**
 * SHIFT_CONTEXT (docs/FORMAT.md, "The lane schedule"): a lane whose window is full
 * keeps its last `overlap` tokens by shifting llama.cpp's KV cache instead of feeding
 * them again. Small windows here make every lane shift several times, with the real
 * model (stories260K).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, compress, compressWithStats, decompress, inspect } from '../../src/index.js';
import { crc32 } from '../../src/format/crc32.js';
import { parseHeaderV2, writeHeaderV2 } from '../../src/format/v2/header.js';
import { CORPUS, STORIES } from '../helpers.js';

let model: Model;
beforeAll(async () => {
  model = await Model.load(STORIES, { threads: 1 });
});
afterAll(() => model?.dispose());

const story = readFileSync(join(CORPUS, 'tinystories-valid-part1.txt')).subarray(0, 6000);

/** `file` with its header's SHIFT_CONTEXT flag set to `shift` (the header CRC recomputed). */
function withShiftFlag(file: Buffer, shift: boolean): Buffer {
  const h = parseHeaderV2(file);
  const header = writeHeaderV2({ ...h, modelSha256: h.modelHash, shiftContext: shift });
  return Buffer.concat([header, file.subarray(h.size)]);
}

describe('shifting a full lane instead of restarting it', () => {
  it('is what lmzip writes, and round-trips', async () => {
    expect(model.facts.canShiftContext).toBe(true);
    // One lane, window 32: the chunk of ~1500 tokens shifts about 90 times.
    const packed = await compress(story, { model, lanes: 1, window: 32, overlap: 16 });
    expect(inspect(packed).header).toMatchObject({ window: 32, overlap: 16, shiftContext: true });
    expect(packed[9] & 0x04).toBe(0x04);
    expect((await decompress(packed, { model })).equals(story)).toBe(true);
  });

  it('is the default at every window and overlap, where the model allows it', async () => {
    // Compacting shifts attend over no more cells than a restart and feed nothing again
    // (docs/FORMAT.md, "Writers"): windows of many overlaps shift too.
    const text = story.subarray(0, 3000);
    for (const [window, overlap] of [[128, 20], [128, 64], [64, 1]]) {
      expect(inspect(await compress(text, { model, lanes: 1, window, overlap })).header).toMatchObject({ shiftContext: true, compactShift: true });
    }
    expect(inspect(await compress(text, { model, lanes: 1, window: 128, shiftContext: false })).header.shiftContext).toBe(false);
  });

  it('codes differently from a restart, and the decoder follows the flag', async () => {
    const options = { model, lanes: 2, window: 32, overlap: 16, mix: false };
    const shifted = await compress(story, options);
    const restarted = await compress(story, { ...options, shiftContext: false });
    expect(inspect(restarted).header.shiftContext).toBe(false);
    expect(shifted.equals(restarted)).toBe(false);
    expect((await decompress(restarted, { model })).equals(story)).toBe(true);
    // The same stream read under the other policy predicts other probabilities: the
    // decoder must notice, never return other bytes.
    for (const wrong of [withShiftFlag(shifted, false), withShiftFlag(restarted, true)]) {
      await expect(decompress(wrong, { model })).rejects.toMatchObject({ code: expect.stringMatching(/^(CORRUPT_DATA|CHECKSUM_MISMATCH)$/) });
    }
  });

  it('keeps what the model predicts from: sizes within 1 % of a restart on TinyStories', async () => {
    // The kept tokens are the same; their cached states also saw the evicted ones.
    const text = readFileSync(join(CORPUS, 'tinystories-valid-part1.txt')).subarray(0, 16000);
    const options = { model, lanes: 1, window: 64, overlap: 32, mix: false };
    const shifted = await compressWithStats(text, options);
    const restarted = await compressWithStats(text, { ...options, shiftContext: false });
    expect(shifted.stats.tokens).toBe(restarted.stats.tokens);
    expect(shifted.output.length / restarted.output.length).toBeLessThan(1.01);
  });

  it('handles overlaps of 0 and 1 (nothing or only the newest token kept)', async () => {
    for (const overlap of [0, 1]) {
      const packed = await compress(story.subarray(0, 2000), { model, lanes: 1, window: 16, overlap, shiftContext: true });
      expect(inspect(packed).header).toMatchObject({ overlap, shiftContext: true });
      expect((await decompress(packed, { model })).equals(story.subarray(0, 2000))).toBe(true);
    }
  });

  it('gives the same bytes with 1 and 2 threads, in 4 lanes, for both coding methods', async () => {
    // Small, as in roundtrip.test.ts: with 2 threads on busy cores every graph node waits
    // at a barrier. Window 12 makes each lane of ~25 tokens shift a few times.
    const data = story.subarray(0, 400);
    const two = await Model.load(STORIES, { threads: 2 });
    try {
      for (const mix of [false, true]) {
        const settings = { lanes: 4, chunkSize: 100, window: 12, overlap: 6, mix };
        const a = await compress(data, { model, ...settings });
        expect(inspect(a).header.shiftContext).toBe(true);
        expect(inspect(a).chunks.model).toBeGreaterThan(2);
        const b = await compress(data, { model: two, ...settings });
        expect(a.equals(b)).toBe(true);
        expect((await decompress(a, { model: two })).equals(data)).toBe(true);
      }
    } finally {
      two.dispose();
    }
  }, 600_000);

  it('is refused in a model-free header', () => {
    const file = Buffer.from(writeHeaderV2({ modelFree: true, blockSize: 1024 }));
    file[9] |= 0x04;
    expect(() => parseHeaderV2(withCrc(file))).toThrow(expect.objectContaining({ code: 'CORRUPT_HEADER' }));
  });
});

/** `file` with its header's COMPACT_SHIFT flag set to `compact` (the header CRC recomputed). */
function withCompactFlag(file: Buffer, compact: boolean): Buffer {
  const h = parseHeaderV2(file);
  return Buffer.concat([writeHeaderV2({ ...h, modelSha256: h.modelHash, compactShift: compact }), file.subarray(h.size)]);
}

describe('compacting a shifted lane (COMPACT_SHIFT)', () => {
  it('is what lmzip writes with every shift; without it the older form still round-trips, and differs', async () => {
    const options = { model, lanes: 2, window: 32, overlap: 16, mix: false };
    const compacted = await compress(story, options);
    expect(inspect(compacted).header).toMatchObject({ shiftContext: true, compactShift: true });
    expect(compacted[9] & 0x0c).toBe(0x0c);
    const inPlace = await compress(story, { ...options, compactShift: false });
    expect(inspect(inPlace).header).toMatchObject({ shiftContext: true, compactShift: false });
    expect(inPlace[9] & 0x0c).toBe(0x04);
    // The kept tokens sit in other cache cells, so attention sums in another order.
    expect(compacted.equals(inPlace)).toBe(false);
    expect((await decompress(compacted, { model })).equals(story)).toBe(true);
    expect((await decompress(inPlace, { model })).equals(story)).toBe(true);
    // Read with the other cell layout, the stream must fail, never give other bytes.
    for (const wrong of [withCompactFlag(compacted, false), withCompactFlag(inPlace, true)]) {
      await expect(decompress(wrong, { model })).rejects.toMatchObject({ code: expect.stringMatching(/^(CORRUPT_DATA|CHECKSUM_MISMATCH)$/) });
    }
  });

  it('is not written without a shift, and a restarting file is unchanged by asking for it', async () => {
    const text = story.subarray(0, 3000);
    const restarted = await compress(text, { model, lanes: 1, window: 32, overlap: 16, shiftContext: false });
    expect(inspect(restarted).header).toMatchObject({ shiftContext: false, compactShift: false });
    expect(restarted[9] & 0x0c).toBe(0);
    const asked = await compress(text, { model, lanes: 1, window: 32, overlap: 16, shiftContext: false, compactShift: true });
    expect(asked.equals(restarted)).toBe(true);
  });

  it('is refused without SHIFT_CONTEXT and in a model-free header', () => {
    const modelFree = Buffer.from(writeHeaderV2({ modelFree: true, blockSize: 1024 }));
    modelFree[9] |= 0x08;
    expect(() => parseHeaderV2(withCrc(modelFree))).toThrow(expect.objectContaining({ code: 'CORRUPT_HEADER' }));
    const withModel = Buffer.from(writeHeaderV2({ modelFree: false, blockSize: 1024, modelSha256: '00'.repeat(32), modelName: 'm', lanes: 1,
      window: 64, overlap: 32, ubatch: 512, codingMethod: 1, shiftContext: false }));
    expect(() => parseHeaderV2(withModel)).not.toThrow();
    withModel[9] |= 0x08;
    expect(() => parseHeaderV2(withCrc(withModel))).toThrow(expect.objectContaining({ code: 'CORRUPT_HEADER', message: expect.stringContaining('COMPACT_SHIFT') }));
    withModel[9] |= 0x04;
    expect(parseHeaderV2(withCrc(withModel))).toMatchObject({ shiftContext: true, compactShift: true });
  });
});

/** The header bytes with their CRC recomputed (after an edit). */
function withCrc(header: Buffer): Buffer {
  const out = Buffer.from(header);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}
