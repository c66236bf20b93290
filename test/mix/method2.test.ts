/**
 * Coding method 2 (the model mixed with adaptive context models, docs/MIXING.md) end
 * to end through the addon, with the real stories260K model: it is the default, it
 * round-trips across lanes and threads (threads never change a byte), `mix: false`
 * and `--no-mix` give method 1, its golden files decode, and damage ends in an
 * LmzipError code, never in wrong bytes.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LmzipError, Model, compress, compressWithStats, decompress, inspect } from '../../src/index.js';
import { numericProfile } from '../../src/profile.js';
import { CLI, CORPUS, REPO, STORIES, rng, tempDir } from '../helpers.js';

const GOLDEN = join(REPO, 'test/golden/v2');
const METHOD_MODEL = 1;
const METHOD_MIXED = 2;

let model: Model;
let model2: Model; // two threads
beforeAll(async () => {
  model = await Model.load(STORIES, { threads: 1 });
  model2 = await Model.load(STORIES, { threads: 2 });
});
afterAll(() => {
  model?.dispose();
  model2?.dispose();
});

const method = (packed: Uint8Array) => inspect(packed).header.codingMethod;
const text = readFileSync(join(CORPUS, 'tinystories-valid-part1.txt')).subarray(0, 8192);
const alice = readFileSync(join(CORPUS, 'alice29.txt')).subarray(20000, 24096);

describe('coding method 2', () => {
  it('is the default, records its two parameter bytes, and codes text smaller than the model alone', async () => {
    const mixed = await compressWithStats(text, { model });
    const alone = await compressWithStats(text, { model, mix: false });
    expect(method(mixed.output)).toBe(METHOD_MIXED);
    // The preset form (docs/MIXING.md, "Parameters"): 8 KiB, about 4096 tokens = 2^12.
    expect([...inspect(mixed.output).header.methodParams]).toEqual([2, 12]);
    expect(method(alone.output)).toBe(METHOD_MODEL);
    expect(inspect(alone.output).header.methodParams.length).toBe(0);
    // The mixer's saving, as -v reports it: the model alone costs modelBits, the mixture tableBits.
    expect(alone.stats.modelBits).toBe(alone.stats.tableBits);
    expect(mixed.stats.modelBits).toBeCloseTo(alone.stats.modelBits, 6); // same tables, same tokens
    expect(mixed.stats.tableBits).toBeLessThan(mixed.stats.modelBits);
    expect(mixed.output.length).toBeLessThan(alone.output.length);
    console.log(`8 KiB of TinyStories: ${alone.output.length} bytes with the model alone, ${mixed.output.length} mixed ` +
      `(mixer saved ${((mixed.stats.modelBits - mixed.stats.tableBits) / 8).toFixed(0)} bytes)`);
    expect((await decompress(mixed.output, { model })).equals(text)).toBe(true);
  });

  for (const lanes of [1, 16, 64]) {
    it(`round-trips with ${lanes} lane(s), and 1 or 2 threads write the same bytes`, async () => {
      const options = { lanes, chunkSize: 128 }; // 8 KiB in 128-byte chunks: 64 lanes all busy
      const one = await compress(text, { model, ...options });
      const two = await compress(text, { model: model2, ...options });
      expect(method(one)).toBe(METHOD_MIXED);
      expect(inspect(one).header.lanes).toBe(lanes);
      expect(Buffer.from(two).equals(Buffer.from(one))).toBe(true);
      expect((await decompress(one, { model })).equals(text)).toBe(true);
      expect((await decompress(one, { model: model2 })).equals(text)).toBe(true);
    });
  }

  it('round-trips empty, binary, repetitive and multi-block inputs', async () => {
    const random = rng(7);
    const binary = Buffer.from(Array.from({ length: 3000 }, () => Math.floor(random() * 256)));
    const repetitive = Buffer.from('GET /index.html 200\n'.repeat(300));
    const inputs: [string, Buffer, object][] = [
      ['empty', Buffer.alloc(0), {}],
      ['one byte', Buffer.from('A'), {}],
      ['binary', binary, {}],
      ['text then binary', Buffer.concat([alice, binary]), { chunkSize: 1024 }],
      ['repetitive', repetitive, {}],
      ['several blocks', Buffer.concat([text, alice]), { blockSize: 4096, lanes: 4 }],
    ];
    for (const [name, data, options] of inputs) {
      const packed = await compress(data, { model, ...options });
      expect((await decompress(packed, { model })).equals(data), name).toBe(true);
    }
    // The model alone pays for every repetition; the mixer learns the line.
    const rep = await compressWithStats(repetitive, { model });
    console.log(`6000 bytes of one repeated line: ${(rep.stats.modelBits / 8).toFixed(0)} bytes for the model alone, ` +
      `${(rep.stats.tableBits / 8).toFixed(0)} mixed; file ${rep.output.length} bytes`);
    expect(rep.stats.tableBits).toBeLessThan(rep.stats.modelBits / 20);
  });

  it('decodes its golden files (scripts/make-golden.mjs)', async (ctx) => {
    for (const name of ['mix-story.txt', 'mix-blocks.txt']) {
      const packed = readFileSync(join(GOLDEN, `${name}.lmz`));
      expect(method(packed)).toBe(METHOD_MIXED);
      if (inspect(packed).header.profile !== numericProfile(model)) ctx.skip(`golden ${name}: another numeric profile`);
      expect((await decompress(packed, { model })).equals(readFileSync(join(GOLDEN, name)))).toBe(true);
    }
    // Method 2 codes the same story smaller than method 1 (story.txt.lmz, the same bytes).
    expect(readFileSync(join(GOLDEN, 'mix-story.txt.lmz')).length).toBeLessThan(readFileSync(join(GOLDEN, 'story.txt.lmz')).length);
  });

  it('gives an error code for damaged method-2 files, never wrong bytes', async () => {
    const packed = Buffer.from(await compress(alice, { model, lanes: 4, chunkSize: 1024 }));
    const random = rng(12);
    const codes = new Map<string, number>();
    for (let trial = 0; trial < 24; trial++) {
      const damaged = Buffer.from(packed);
      // A bit flip anywhere past the magic, or a truncation.
      if (trial % 4 === 3) {
        const cut = damaged.subarray(0, 10 + Math.floor(random() * (packed.length - 10)));
        const got = await decompress(cut, { model }).then(() => 'NO ERROR', (e: unknown) => (e instanceof LmzipError ? e.code : `not LmzipError: ${e}`));
        codes.set(got, (codes.get(got) ?? 0) + 1);
        expect(got).not.toBe('NO ERROR');
        continue;
      }
      const at = 10 + Math.floor(random() * (packed.length - 10));
      damaged[at] ^= 1 << Math.floor(random() * 8);
      const got = await decompress(damaged, { model }).then(
        (out) => (out.equals(alice) ? 'SAME BYTES' : 'WRONG BYTES'),
        (e: unknown) => (e instanceof LmzipError ? e.code : `not LmzipError: ${e}`));
      codes.set(got, (codes.get(got) ?? 0) + 1);
      expect(got).not.toBe('WRONG BYTES');
      expect(got).not.toMatch(/^not LmzipError/);
    }
    console.log('damaged method-2 files:', Object.fromEntries(codes));
  });
});

describe('lmzip --no-mix', () => {
  it('writes method 1; the default writes method 2; both decompress', () => {
    const dir = tempDir();
    try {
      // TinyStories: the model alone codes it too (on alice, brotli would beat the model alone).
      const input = join(dir.path, 'story.txt');
      writeFileSync(input, text);
      const run = (...args: string[]) => spawnSync(process.execPath, [CLI, '-m', STORIES, ...args], { cwd: dir.path, maxBuffer: 1 << 26 });
      const mixed = run('-c', '-v', input);
      const alone = run('-c', '-v', '--no-mix', input);
      expect(mixed.status, mixed.stderr.toString()).toBe(0);
      expect(alone.status, alone.stderr.toString()).toBe(0);
      expect(method(mixed.stdout)).toBe(METHOD_MIXED);
      expect(method(alone.stdout)).toBe(METHOD_MODEL);
      expect(mixed.stderr.toString()).toMatch(/mixing saved \d+ bytes/);
      expect(alone.stderr.toString()).not.toMatch(/mixing saved/);
      expect(mixed.stdout.length).toBeLessThan(alone.stdout.length);
      for (const [name, out] of [['mixed', mixed.stdout], ['alone', alone.stdout]] as const) {
        writeFileSync(join(dir.path, `${name}.lmz`), out);
        const back = run('-d', '-c', join(dir.path, `${name}.lmz`));
        expect(back.status, back.stderr.toString()).toBe(0);
        expect(back.stdout.equals(text)).toBe(true);
      }
    } finally {
      dir.cleanup();
    }
  });
});
