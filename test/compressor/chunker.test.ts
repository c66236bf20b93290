// How blocks are cut into chunks (src/chunker.ts): one lane's work each, so the count
// and the balance decide how long a block's lanes run side by side.
import { describe, expect, it } from 'vitest';
import { chunkLengths, chunkLimit } from '../../src/chunker.js';
import { blockChunkLengths } from '../../src/codec.js';
import { fitToInput } from '../../src/settings.js';

/** Text in lines of 40-1,500 bytes, as prose with paragraphs has (a fixed pseudo-random sequence). */
function paragraphs(bytes: number, seed = 7): Uint8Array {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
  const out: string[] = [];
  let n = 0;
  while (n < bytes) {
    const words = Array.from({ length: 8 + Math.floor(rand() * 250) }, () => 'abcdefgh'.slice(0, 1 + Math.floor(rand() * 7)));
    const line = words.join(' ') + '.\n';
    out.push(line);
    n += line.length;
  }
  return new TextEncoder().encode(out.join('').slice(0, bytes));
}

const ends = (lengths: number[]) => lengths.map((_, i) => lengths.slice(0, i + 1).reduce((a, b) => a + b, 0));

describe('chunkLengths', () => {
  it('gives a full block exactly one chunk per lane (before: 17, the short 17th running after the other 16)', () => {
    const block = paragraphs(256 * 1024);
    const lengths = blockChunkLengths(block, 16, undefined);
    expect(lengths).toHaveLength(16);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(block.length);
    // Nearly equal: within the eighth of a chunk a natural cut may move.
    for (const l of lengths) expect(Math.abs(l - 16384)).toBeLessThanOrEqual(2048);
    // Every cut but the last (the block's end) follows a newline or a space.
    for (const e of ends(lengths).slice(0, -1)) expect([0x0a, 0x20]).toContain(block[e - 1]);
  });

  it('makes ⌈length / target⌉ chunks, none empty and none over the limit, for any bytes', () => {
    let x = 1;
    const rand = (n: number) => ((x = (x * 48271) % 2147483647), x % n);
    const alphabet = [0x0a, 0x20, 0xe4, 0xb8, 0x80, 0x41, 0x00, 0xff];
    for (let i = 0; i < 3000; i++) {
      const data = Uint8Array.from({ length: rand(4000) }, () => alphabet[rand(alphabet.length)]);
      const target = 1 + rand(600);
      const lengths = chunkLengths(data, target);
      expect(lengths).toHaveLength(Math.ceil(data.length / target));
      expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
      for (const l of lengths) {
        expect(l).toBeGreaterThan(0);
        expect(l).toBeLessThanOrEqual(chunkLimit(target));
      }
    }
  });

  it('cuts after a newline or a space, and never inside a UTF-8 character', () => {
    const text = new TextEncoder().encode('aaaa bbbb\ncccc dddd\n');
    expect(chunkLengths(text, 10)).toEqual([10, 10]);
    const spaced = new TextEncoder().encode('aaaa bbbb cccc dddd ');
    expect(chunkLengths(spaced, 10)).toEqual([10, 10]);
    const chinese = new TextEncoder().encode('一二三四五六七八九十'); // 3 bytes each, no spaces
    for (const e of ends(chunkLengths(chinese, 8)).slice(0, -1)) expect(e % 3).toBe(0);
  });

  it('never cuts more chunks than the lanes the settings were fitted to', () => {
    for (const size of [1, 100, 16383, 16384, 16385, 40000, 262143, 262144]) {
      const block = paragraphs(size, size);
      const settings = fitToInput({ lanes: 16, window: 1024, overlap: 256, ubatch: 512, flashAttention: false, blockSize: 262144,
        chunkSize: undefined, codingMethod: 1, methodParams: new Uint8Array(0) }, size);
      const lengths = blockChunkLengths(block, settings.lanes, settings.chunkSize);
      expect(lengths.length).toBe(Math.min(16, Math.ceil(size / 16384)));
      expect(settings.lanes).toBe(lengths.length);
      // A window lowered to fit the input still holds its longest chunk (n bytes: at
      // most n + 1 tokens), so fitting never adds a restart.
      expect(settings.window).toBeGreaterThanOrEqual(Math.min(1024, Math.max(...lengths) + 1));
    }
  });
});
