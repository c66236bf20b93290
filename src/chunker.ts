/**
 * Cuts a block into ⌈length / target⌉ chunks (at most `limit` bytes each, by default half
 * again the target: room for text whose tokens are long) of nearly equal token counts when `tokenEnds` is given, else
 * of nearly equal byte counts. Each chunk ends after a newline or a space near that
 * point where there is one, and never inside a UTF-8 sequence, so that it tokenizes
 * the way the text naturally would.
 *
 * Equal token counts are for speed: the chunks of a block run side by side, one per
 * lane, one token per lane per step, and the block is done when its longest chunk is;
 * steps with fewer lanes also run llama.cpp's narrower, slower kernels. Equal bytes
 * left 5-13 % of the lane steps of a 256 KiB block idle (token density varies along
 * a text), and the cut before this one (the last newline before `target`) gave 17-19
 * chunks for 16 lanes (docs/benchmark.md, "The tail").
 *
 * @example chunkLengths(new TextEncoder().encode('ab\ncd\nef\n'), 4) // [3, 3, 3]
 */
export function chunkLengths(data: Uint8Array, target: number, limit = chunkLimit(target), tokenEnds?: ArrayLike<number>): number[] {
  const size = Math.max(1, Math.floor(target));
  const max = Math.max(size, Math.floor(limit));
  const count = Math.ceil(data.length / size);
  const tokens = tokenEnds?.length ?? 0;
  // Where the k-th cut would fall with no natural boundary to snap to.
  const ideal = (k: number) =>
    tokens > 0 ? tokenEnds![Math.max(0, Math.round((k * tokens) / count) - 1)]! : Math.round((k * data.length) / count);
  const lengths: number[] = [];
  let start = 0;
  for (let k = 1; k <= count; k++) {
    let end = data.length;
    if (k < count) {
      // The cut must leave each remaining chunk between 1 and `max` bytes.
      const lo = Math.max(start + 1, data.length - (count - k) * max);
      const hi = Math.min(start + max, data.length - (count - k));
      end = naturalCut(data, ideal(k), lo, hi, Math.floor(data.length / count / 8));
    }
    lengths.push(end - start);
    start = end;
  }
  return lengths;
}

/**
 * The longest chunk chunkLengths makes for `target` by default. Balancing by tokens
 * needs room: on enwik8's markup-free stretches 16 KiB chunks hold 20 % fewer tokens
 * than elsewhere, and a limit of an eighth over the target left those chunks short.
 */
export function chunkLimit(target: number): number {
  const size = Math.max(1, Math.floor(target));
  return size + Math.floor(size / 2);
}

/**
 * The cut in [lo, hi] near `ideal`: after a newline within an eighth of `slack`, else
 * after a space within `slack` bytes (an eighth of a chunk), else after a newline
 * within `slack`, else at `ideal` itself moved to a character boundary. A far newline
 * comes after a near space because every byte of distance unbalances the lanes
 * (about a token per 4 bytes of text), and a chunk that starts mid-paragraph codes as
 * well as one that starts a line.
 */
function naturalCut(data: Uint8Array, ideal: number, lo: number, hi: number, slack: number): number {
  for (const [byte, radius] of [[0x0a, slack >> 3], [0x20, slack], [0x0a, slack]] as const) {
    // Nearest first: ideal, ideal − 1, ideal + 1, … (a cut at c ends the chunk after byte c − 1).
    for (let d = 0; d <= radius; d++) {
      for (const cut of d === 0 ? [ideal] : [ideal - d, ideal + d]) {
        if (cut >= lo && cut <= hi && data[cut - 1] === byte) return cut;
      }
    }
  }
  const cut = Math.min(hi, Math.max(lo, ideal));
  // Not inside a UTF-8 sequence: back over continuation bytes (at most 3), else forward.
  for (let c = cut; c >= Math.max(lo, cut - 3); c--) if ((data[c] & 0xc0) !== 0x80) return c;
  for (let c = cut + 1; c <= Math.min(hi, cut + 3); c++) if ((data[c] & 0xc0) !== 0x80) return c;
  return cut;
}
