/** The classical baselines of lmzip analyze (no model needed). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { classicalBaselines, huffmanBits, huffmanCodeLengths, order0Bits } from '../../src/analyze/baselines.js';
import { which } from '../../src/bench/proc.js';
import { prng } from '../prng.js';
import { CORPUS } from '../helpers.js';

const SAMPLE = readFileSync(join(CORPUS, 'tinystories_sample.txt'));

describe('order-0 and Huffman', () => {
  it('order-0 is n times the entropy of the byte histogram', () => {
    expect(order0Bits(Buffer.from('abab'))).toBe(4);
    expect(order0Bits(Buffer.from('aaaa'))).toBe(0);
    expect(order0Bits(new Uint8Array(0))).toBe(0);
    expect(order0Bits(Uint8Array.from({ length: 256 * 4 }, (_, i) => i % 256))).toBe(8 * 1024);
  });

  it('Huffman lengths are a complete prefix code and optimal on known cases', () => {
    expect(huffmanCodeLengths([5, 2, 1, 1])).toEqual([1, 2, 3, 3]);
    expect(huffmanCodeLengths([1, 1, 1, 1])).toEqual([2, 2, 2, 2]);
    expect(huffmanCodeLengths([0, 7, 0])).toEqual([0, 1, 0]); // a lone symbol still costs a bit
    const rand = prng(7);
    for (let trial = 0; trial < 50; trial++) {
      const counts = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Math.floor(rand() * 1000));
      const lengths = huffmanCodeLengths(counts);
      const used = lengths.filter((l, s) => counts[s] > 0);
      if (used.length > 1) expect(used.reduce((k, l) => k + 2 ** -l, 0)).toBeCloseTo(1, 12); // Kraft equality
      const n = counts.reduce((a, b) => a + b, 0);
      const entropy = counts.reduce((h, c) => (c ? h - c * Math.log2(c / n) : h), 0);
      const bits = counts.reduce((b, c, s) => b + c * lengths[s], 0);
      expect(bits).toBeGreaterThanOrEqual(entropy - 1e-6); // never beats the entropy…
      expect(bits).toBeLessThanOrEqual(entropy + n + 1e-6); // …and is within a bit per symbol of it
    }
  });

  it('Huffman on text lands just above order-0', () => {
    const h = huffmanBits(SAMPLE), o = order0Bits(SAMPLE);
    expect(h).toBeGreaterThanOrEqual(o);
    expect(h / o).toBeLessThan(1.05);
  });
});

describe('the programs', () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it('are the real gzip, compress, xz and brotli output sizes', async (ctx) => {
    const missing = ['gzip', 'compress', 'xz', 'brotli'].filter((p) => !which(p));
    if (missing.length) {
      console.warn(`skipped: not installed: ${missing.join(', ')} (apt-get install -y ncompress brotli xz-utils)`);
      ctx.skip();
    }
    const results = await classicalBaselines(SAMPLE);
    expect(results.map((r) => r.id)).toEqual(['order0', 'huffman', 'gzip', 'lzw', 'xz', 'brotli']);
    const size = (cmd: string, args: string[]) => execFileSync(cmd, args, { input: SAMPLE, maxBuffer: 1 << 24 }).length * 8;
    const byId = Object.fromEntries(results.map((r) => [r.id, r]));
    expect(byId.gzip.bits).toBe(size('gzip', ['-9', '-c']));
    expect(byId.xz.bits).toBe(size('xz', ['-9e', '-c']));
    expect(byId.brotli.bits).toBe(size('brotli', ['-q', '11', '-c']));
    expect(byId.lzw.bits).toBe(size('compress', ['-f', '-c']));
    expect(byId.gzip.note).toBe('output size of gzip -9 -c < FILE');
    for (const r of results) expect(r.bits! / 8).toBeLessThan(SAMPLE.length);
  });

  it('says which program is missing and how to install it, never a number', async () => {
    process.env.PATH = '/nonexistent';
    const results = await classicalBaselines(SAMPLE);
    const lzw = results.find((r) => r.id === 'lzw')!;
    expect(lzw.bits).toBeNull();
    expect(lzw.error).toBe('compress is not installed (apt-get install -y ncompress)');
    expect(results.find((r) => r.id === 'order0')!.bits).toBeGreaterThan(0);
  });

  it('can be left out', async () => {
    const results = await classicalBaselines(SAMPLE, { programs: false });
    expect(results.map((r) => r.id)).toEqual(['order0', 'huffman']);
  });
});
