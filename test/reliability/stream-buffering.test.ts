/**
 * Regression test (found by this suite): LmzReader.push() once concatenated every new
 * piece onto the bytes it held, so a frame arriving in n pieces cost O(n^2) copying:
 * a 64 MiB frame fed in 64 KiB pieces took 211 s to buffer. The reader now keeps the
 * pieces in a list and joins them once the structure being read is complete.
 * The test counts the bytes the reader copies (Buffer.concat), not the time, so a
 * busy machine cannot fail it and a slow quadratic one cannot pass it.
 */
import { describe, expect, it } from 'vitest';
import { feedInPieces } from '../feed-in-pieces.js';
import { LmzReader } from '../../src/format/reader.js';
import { crc32 } from '../../src/format/crc32.js';
import { fixChecksums } from './helpers.js';

/** A model-free file with one frame of `count` stored chunks of `size` bytes. */
function storedFile(size: number, count = 1): Buffer {
  const header = Buffer.alloc(20);
  Buffer.from([0x89, 0x4c, 0x4d, 0x5a, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header);
  header[8] = 1; // version
  header[9] = 1; // model-free
  const payload = Buffer.alloc(size, 0x5a);
  const table = Buffer.alloc(5 + 18 * count + 4);
  table[0] = 1;
  table.writeUInt32LE(count, 1);
  let content = 0;
  for (let i = 0; i < count; i++) {
    table.writeUInt32LE(size, 5 + 18 * i + 2);
    table.writeUInt32LE(size, 5 + 18 * i + 10);
    table.writeUInt32LE(crc32(payload), 5 + 18 * i + 14);
    content = crc32(payload, content);
  }
  const end = Buffer.alloc(21);
  end[0] = 2;
  end.writeBigUInt64LE(BigInt(size * count), 1);
  end.writeUInt32LE(1, 9);
  end.writeUInt32LE(content, 13);
  return fixChecksums(Buffer.concat([header, table, ...Array(count).fill(payload), end]));
}

describe('streaming parser', () => {
  it('parses a whole 16 MiB frame at once', () => {
    const r = new LmzReader();
    const events = r.push(storedFile(1 << 24));
    r.finish();
    expect(events.map((e) => e.type)).toEqual(['header', 'frame', 'end']);
  });

  it('buffers a 64 MiB frame fed in 64 KiB pieces with linear copying', () => {
    const file = storedFile(1 << 24, 4);
    const r = new LmzReader();
    // Quadratic copying would reach ~32 GiB here; feedInPieces stops once it is clearly not linear.
    const { found: frames, copied } = feedInPieces(file, 1 << 16, (piece) => r.push(piece).filter((e) => e.type === 'frame').length);
    console.log(`64 MiB frame in 64 KiB pieces: ${(copied / file.length).toFixed(2)}× the file copied`);
    expect(frames).toBe(1);
    expect(copied).toBeLessThanOrEqual(2 * file.length);
  }, 60000);
});
