/**
 * Unsigned LEB128 varints (docs/FORMAT.md, "Conventions"): minimal, at most 8 bytes,
 * values up to 2^53 − 1 (what a JavaScript number holds exactly).
 */
import { ErrorCode, LmzipError } from '../errors.js';

export const MAX_VARINT_BYTES = 8;

/** Bytes `value` takes as a varint. */
export function varintSize(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Appends `value` to `out`. */
export function pushVarint(out: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`);
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/** A cursor over bytes that reads the format's fields; running out of bytes throws NeedMore. */
export class ByteCursor {
  pos: number;
  constructor(readonly bytes: Uint8Array, start = 0, readonly end = bytes.length) {
    this.pos = start;
  }

  get left(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) throw NEED_MORE;
    return this.bytes[this.pos++];
  }

  u32(): number {
    if (this.left < 4) throw NEED_MORE;
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  take(n: number): Uint8Array {
    if (this.left < n) throw NEED_MORE;
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A minimal varint of at most 8 bytes (CORRUPT_HEADER otherwise). */
  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 0) throw corruptHeader(`${what}: a varint with a needless zero byte`);
        if (!Number.isSafeInteger(value)) throw corruptHeader(`${what}: a value too large`);
        return value;
      }
      scale *= 128;
    }
    throw corruptHeader(`${what}: a varint longer than ${MAX_VARINT_BYTES} bytes`);
  }
}

/** Thrown by ByteCursor when a structure is not complete yet (an incremental reader waits for more). */
export const NEED_MORE: unique symbol = Symbol('need more bytes');

export function corruptHeader(message: string): LmzipError {
  return new LmzipError(ErrorCode.CORRUPT_HEADER, `not a valid lmzip file: ${message}`);
}
