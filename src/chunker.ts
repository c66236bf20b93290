/**
 * Cuts input into chunks of about `target` bytes, preferring to end a chunk after a
 * newline, else after a space, and never inside a UTF-8 sequence, so that each chunk
 * tokenizes the way the text naturally would.
 */
export function chunkLengths(data: Uint8Array, target: number): number[] {
  const lengths: number[] = [];
  let start = 0;
  while (start < data.length) {
    let end = Math.min(start + target, data.length);
    if (end < data.length) end = naturalCut(data, start, end, target);
    lengths.push(end - start);
    start = end;
  }
  return lengths;
}

function naturalCut(data: Uint8Array, start: number, end: number, target: number): number {
  const floor = start + Math.max(1, Math.floor(target / 2));
  for (let i = end - 1; i >= floor; i--) if (data[i] === 0x0a) return i + 1;
  for (let i = end - 1; i >= floor; i--) if (data[i] === 0x20) return i + 1;
  // Step back over UTF-8 continuation bytes (at most 3) so no character is split.
  let cut = end;
  for (let k = 0; k < 3 && cut > start + 1 && (data[cut] & 0xc0) === 0x80; k++) cut--;
  return cut;
}
