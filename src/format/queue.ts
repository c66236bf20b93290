/**
 * Bytes that arrive in pieces, kept as a list and joined only when a structure needs
 * them contiguous, so feeding a large block in small pieces costs linear time.
 */
export class ByteQueue {
  #pieces: Buffer[] = [];
  #length = 0;
  /** Bytes taken so far (the file offset of the first queued byte, for messages). */
  consumed = 0;

  get length(): number {
    return this.#length;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#pieces.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    this.#length += bytes.length;
  }

  /** Puts bytes back in front (what a nested reader did not use). */
  unshift(pieces: Buffer[]): void {
    const n = pieces.reduce((s, p) => s + p.length, 0);
    this.#pieces.unshift(...pieces.filter((p) => p.length > 0));
    this.#length += n;
    this.consumed -= n;
  }

  /** The first min(n, length) bytes as one contiguous Buffer (it may hold more). */
  view(n: number): Buffer {
    if (this.#pieces.length === 0) return Buffer.alloc(0);
    if (this.#pieces[0].length < n && this.#pieces.length > 1) this.#pieces = [Buffer.concat(this.#pieces)];
    return this.#pieces[0];
  }

  take(n: number): Buffer {
    const first = this.view(n);
    const out = first.subarray(0, n);
    if (first.length === n) this.#pieces.shift();
    else this.#pieces[0] = first.subarray(n);
    this.#length -= n;
    this.consumed += n;
    return out;
  }

  /** Everything queued, emptying the queue. */
  takeAll(): Buffer[] {
    const out = this.#pieces;
    this.consumed += this.#length;
    this.#pieces = [];
    this.#length = 0;
    return out;
  }
}
