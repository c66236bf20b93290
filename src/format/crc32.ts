/** CRC-32 (IEEE 802.3, the polynomial of gzip and PNG), chainable: crc32(b, crc32(a)) = crc32(a ‖ b). */
import * as zlib from 'node:zlib';

const builtin = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

let table: Uint32Array | undefined;
function softwareCrc32(data: Uint8Array, value = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = ~value >>> 0;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

export function crc32(data: Uint8Array, value = 0): number {
  return builtin ? builtin(data, value) >>> 0 : softwareCrc32(data, value);
}
