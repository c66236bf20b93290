/** A test helper that needs vitest (kept out of test/helpers.ts, which child processes import). */
import { vi } from 'vitest';

/**
 * Feeds `file` to a streaming parser in pieces of `pieceSize` bytes and counts the bytes
 * the parser copies with Buffer.concat, so linear buffering is tested by work done, not
 * by time. `push` returns how many structures a piece completed. Stops early once the
 * copying is clearly not linear (8× the file).
 * @example
 * const { found, copied } = feedInPieces(file, 1 << 16, (p) => reader.push(p).length);
 */
export function feedInPieces(file: Buffer, pieceSize: number, push: (piece: Buffer) => number): { found: number; copied: number } {
  const concat = Buffer.concat;
  let copied = 0;
  const spy = vi.spyOn(Buffer, 'concat').mockImplementation((list, total) => {
    const out = concat(list, total);
    copied += out.length;
    return out;
  });
  let found = 0;
  try {
    for (let i = 0; i < file.length && copied <= 8 * file.length; i += pieceSize) found += push(file.subarray(i, i + pieceSize));
  } finally {
    spy.mockRestore();
  }
  return { found, copied };
}
