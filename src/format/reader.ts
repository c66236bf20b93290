/**
 * An incremental parser of a version-1 member (docs/FORMAT-v1.md): push bytes in,
 * take header, frames and the end block out. Every length is checked against the
 * format's limits before it is trusted, so no field can make the reader allocate or
 * wait for more than the limits allow. Knows nothing of llama.cpp.
 *
 * By default bytes after the end block are an error (a lone v1 file). In member mode
 * (`{ member: true }`, used by src/archive/ for concatenated files) the reader stops
 * at the end block and `rest()` returns what followed it.
 */
import { ErrorCode, LmzipError } from '../errors.js';
import {
  BLOCK_END, BLOCK_FRAME, CHUNK_ENTRY_SIZE, CHUNK_FLAG_STRIP_LEADING_SPACE, ChunkMethod, END_BLOCK_SIZE,
  FILE_HEADER_FIXED_SIZE, FORMAT_VERSION, FRAME_HEADER_FIXED_SIZE, HEADER_BODY_FIXED_SIZE, HEADER_BODY_MAX_SIZE, HEADER_FLAG_MODEL_FREE,
  MAGIC, MAX_BROTLI_EXPANSION, MAX_CHUNKS_PER_FRAME, MAX_CHUNK_SIZE, MAX_FRAME_SIZE, UNKNOWN_SIZE,
} from './constants.js';
import { crc32 } from './crc32.js';
import type { ChunkEntry, EndBlock, FileHeader, Frame } from './types.js';

export type ReadEvent =
  | { type: 'header'; header: FileHeader }
  | { type: 'frame'; frame: Frame }
  | { type: 'end'; end: EndBlock };

function corrupt(message: string): LmzipError {
  return new LmzipError(ErrorCode.CORRUPT_HEADER, `not a valid lmzip file: ${message}`);
}

export class LmzReader {
  // Input is kept as a list of pieces and joined only when a structure is complete,
  // so feeding a large frame in small pieces costs linear, not quadratic, time.
  #pieces: Buffer[] = [];
  #length = 0;
  #state: 'header' | 'blocks' | 'done' = 'header';
  #offset = 0; // bytes consumed so far, for messages
  #frames = 0;
  #modelFree = false;
  #member: boolean;

  constructor(options: { member?: boolean } = {}) {
    this.#member = options.member ?? false;
  }

  /** Member mode: the bytes pushed after the end block. */
  rest(): Buffer[] {
    const out = this.#pieces;
    this.#pieces = [];
    this.#length = 0;
    return out;
  }

  /** True once the end block has been read. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /** Adds bytes; returns every structure they complete. */
  push(bytes: Uint8Array): ReadEvent[] {
    if (this.#state === 'done') {
      if (bytes.length > 0) throw corrupt(`unexpected data after the end block (at byte ${this.#offset})`);
      return [];
    }
    if (bytes.length > 0) {
      this.#pieces.push(Buffer.from(bytes));
      this.#length += bytes.length;
    }
    const events: ReadEvent[] = [];
    for (;;) {
      const event = this.#next();
      if (!event) break;
      events.push(event);
      if (event.type === 'end') {
        if (this.#length > 0 && !this.#member) throw corrupt(`unexpected data after the end block (at byte ${this.#offset})`);
        break;
      }
    }
    return events;
  }

  /** Call at end of input: throws TRUNCATED unless the end block was read. */
  finish(): void {
    if (this.#state === 'done') return;
    const where = this.#state === 'header' ? 'in the file header' : `after ${this.#frames} frame(s)`;
    const head = this.#view(this.#length);
    if (this.#state === 'header' && this.#offset === 0 && this.#length < MAGIC.length && isMagicPrefix(head))
      throw new LmzipError(ErrorCode.TRUNCATED, this.#length === 0 ? 'the input is empty, not an lmzip file' : 'the file is truncated in its magic number');
    throw new LmzipError(ErrorCode.TRUNCATED, `the file is truncated ${where} (${this.#offset + this.#length} bytes read)`);
  }

  /** The buffered bytes as one Buffer of at least min(n, buffered) bytes (joins pieces only when needed). */
  #view(n: number): Buffer {
    if (this.#pieces.length === 0) return Buffer.alloc(0);
    if (this.#pieces[0].length < n && this.#pieces.length > 1) this.#pieces = [Buffer.concat(this.#pieces)];
    return this.#pieces[0];
  }

  #take(n: number): Buffer {
    const first = this.#view(n);
    const out = first.subarray(0, n);
    if (first.length === n) this.#pieces.shift();
    else this.#pieces[0] = first.subarray(n);
    this.#length -= n;
    this.#offset += n;
    return out;
  }

  #next(): ReadEvent | undefined {
    if (this.#state === 'header') return this.#readHeader();
    return this.#readBlock();
  }

  #readHeader(): ReadEvent | undefined {
    let buf = this.#view(FILE_HEADER_FIXED_SIZE);
    const magicBytes = Math.min(buf.length, MAGIC.length);
    if (!isMagicPrefix(buf.subarray(0, magicBytes)))
      throw new LmzipError(ErrorCode.NOT_LMZ, 'not an lmzip file (unknown magic number)');
    if (buf.length < FILE_HEADER_FIXED_SIZE) return undefined;
    const version = buf.readUInt8(8);
    if (version !== FORMAT_VERSION)
      throw new LmzipError(ErrorCode.UNSUPPORTED_VERSION,
        `this file uses lmzip format version ${version}; this build reads version ${FORMAT_VERSION}${version > FORMAT_VERSION ? ' (upgrade lmzip)' : ''}`);
    const flags = buf.readUInt8(9);
    if ((flags & ~HEADER_FLAG_MODEL_FREE) !== 0 || buf.readUInt16LE(10) !== 0) throw corrupt('reserved header bits are set');
    const bodySize = buf.readUInt32LE(12);
    if (flags & HEADER_FLAG_MODEL_FREE) return this.#readModelFreeHeader(version, bodySize);
    if (bodySize < HEADER_BODY_FIXED_SIZE + 4 || bodySize > HEADER_BODY_MAX_SIZE) throw corrupt(`header length ${bodySize} is out of range`);
    const total = FILE_HEADER_FIXED_SIZE + bodySize + 4;
    if (this.#length < total) return undefined;
    buf = this.#view(total);
    const stored = buf.readUInt32LE(total - 4);
    if (crc32(buf.subarray(0, total - 4)) !== stored) throw corrupt('the file header checksum does not match');
    const b = FILE_HEADER_FIXED_SIZE;
    if (buf.readUInt16LE(b + 46) !== 0 || buf.readUInt16LE(b + 62) !== 0) throw corrupt('reserved header fields are not zero');
    let p = b + HEADER_BODY_FIXED_SIZE;
    const refLen = buf.readUInt16LE(p);
    if (p + 2 + refLen + 2 > b + bodySize) throw corrupt('model reference overruns the header');
    const modelReference = buf.subarray(p + 2, p + 2 + refLen).toString('utf8');
    p += 2 + refLen;
    const profLen = buf.readUInt16LE(p);
    if (p + 2 + profLen !== b + bodySize) throw corrupt('header length does not match its fields');
    const profile = buf.subarray(p + 2, p + 2 + profLen).toString('utf8');
    const originalSize = buf.readBigUInt64LE(b + 64);
    const header: FileHeader = {
      version,
      modelFree: false,
      modelSha256: buf.subarray(b, b + 32).toString('hex'),
      tokenizerFingerprint: buf.subarray(b + 32, b + 40).toString('hex'),
      vocabSize: buf.readUInt32LE(b + 40),
      lanes: buf.readUInt16LE(b + 44),
      window: buf.readUInt32LE(b + 48),
      overlap: buf.readUInt32LE(b + 52),
      ubatch: buf.readUInt32LE(b + 56),
      flashAttention: buf.readUInt8(b + 60) !== 0,
      freqAlgorithm: buf.readUInt8(b + 61),
      originalSize: originalSize === UNKNOWN_SIZE ? undefined : originalSize,
      modelReference,
      profile,
    };
    if (buf.readUInt8(b + 60) > 1) throw corrupt('flash-attention flag is not 0 or 1');
    if (header.lanes < 1 || header.lanes > 256) throw corrupt(`lane count ${header.lanes} is out of range`);
    if (header.window < 8 || header.window > 1 << 20) throw corrupt(`window ${header.window} is out of range`);
    if (header.overlap >= header.window - 1) throw corrupt('overlap must be smaller than the window');
    if (header.ubatch < 1 || header.ubatch > 1 << 16) throw corrupt(`ubatch ${header.ubatch} is out of range`);
    this.#take(total);
    this.#state = 'blocks';
    return { type: 'header', header };
  }

  #readModelFreeHeader(version: number, bodySize: number): ReadEvent | undefined {
    if (bodySize !== 0) throw corrupt('a model-free header must have no body');
    const total = FILE_HEADER_FIXED_SIZE + 4;
    if (this.#length < total) return undefined;
    const buf = this.#view(total);
    if (crc32(buf.subarray(0, FILE_HEADER_FIXED_SIZE)) !== buf.readUInt32LE(FILE_HEADER_FIXED_SIZE))
      throw corrupt('the file header checksum does not match');
    this.#take(total);
    this.#state = 'blocks';
    this.#modelFree = true;
    const header: FileHeader = { version, modelFree: true, modelSha256: '', tokenizerFingerprint: '', vocabSize: 0, modelReference: '',
      profile: '', lanes: 1, window: 0, overlap: 0, ubatch: 0, flashAttention: false, freqAlgorithm: 0, originalSize: undefined };
    return { type: 'header', header };
  }

  #readBlock(): ReadEvent | undefined {
    if (this.#length < 1) return undefined;
    let buf = this.#view(1);
    const type = buf.readUInt8(0);
    if (type === BLOCK_END) return this.#readEnd();
    if (type !== BLOCK_FRAME) throw corrupt(`unknown block type ${type} at byte ${this.#offset}`);
    if (this.#length < FRAME_HEADER_FIXED_SIZE) return undefined;
    buf = this.#view(FRAME_HEADER_FIXED_SIZE);
    const count = buf.readUInt32LE(1);
    if (count < 1 || count > MAX_CHUNKS_PER_FRAME) throw corrupt(`frame ${this.#frames} has ${count} chunks (1 to ${MAX_CHUNKS_PER_FRAME} allowed)`);
    const tableEnd = FRAME_HEADER_FIXED_SIZE + count * CHUNK_ENTRY_SIZE;
    if (this.#length < tableEnd + 4) return undefined;
    buf = this.#view(tableEnd + 4);
    if (crc32(buf.subarray(0, tableEnd)) !== buf.readUInt32LE(tableEnd))
      throw corrupt(`the chunk table checksum of frame ${this.#frames} does not match`);
    const chunks: ChunkEntry[] = [];
    let frameOriginal = 0;
    let payloadTotal = 0;
    for (let i = 0, p = FRAME_HEADER_FIXED_SIZE; i < count; i++, p += CHUNK_ENTRY_SIZE) {
      const c: ChunkEntry = {
        method: buf.readUInt8(p),
        stripLeadingSpace: (buf.readUInt8(p + 1) & CHUNK_FLAG_STRIP_LEADING_SPACE) !== 0,
        originalSize: buf.readUInt32LE(p + 2),
        tokenCount: buf.readUInt32LE(p + 6),
        payloadSize: buf.readUInt32LE(p + 10),
        crc32: buf.readUInt32LE(p + 14),
      };
      checkChunk(c, buf.readUInt8(p + 1), this.#frames, i);
      if (this.#modelFree && c.method === ChunkMethod.Model) throw corrupt(`chunk ${i} of frame ${this.#frames} needs a model, but the header names none`);
      frameOriginal += c.originalSize;
      payloadTotal += c.payloadSize;
      chunks.push(c);
    }
    if (frameOriginal > MAX_FRAME_SIZE) throw corrupt(`frame ${this.#frames} holds more than ${MAX_FRAME_SIZE} bytes`);
    const total = tableEnd + 4 + payloadTotal;
    if (this.#length < total) return undefined;
    const block = this.#take(total);
    const payloads: Uint8Array[] = [];
    let p = tableEnd + 4;
    for (const c of chunks) {
      payloads.push(block.subarray(p, p + c.payloadSize));
      p += c.payloadSize;
    }
    this.#frames++;
    return { type: 'frame', frame: { chunks, payloads, encodedSize: total } };
  }

  #readEnd(): ReadEvent | undefined {
    if (this.#length < END_BLOCK_SIZE) return undefined;
    const buf = this.#view(END_BLOCK_SIZE);
    if (crc32(buf.subarray(0, 17)) !== buf.readUInt32LE(17)) throw corrupt('the end block checksum does not match');
    const end: EndBlock = { totalSize: buf.readBigUInt64LE(1), frameCount: buf.readUInt32LE(9), contentCrc32: buf.readUInt32LE(13) };
    if (end.frameCount !== this.#frames) throw corrupt(`the end block counts ${end.frameCount} frames but the file has ${this.#frames}`);
    this.#take(END_BLOCK_SIZE);
    this.#state = 'done';
    return { type: 'end', end };
  }
}

function isMagicPrefix(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length && i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return false;
  return true;
}

function checkChunk(c: ChunkEntry, flags: number, frame: number, index: number): void {
  const where = `chunk ${index} of frame ${frame}`;
  if (c.originalSize < 1 || c.originalSize > MAX_CHUNK_SIZE) throw corrupt(`${where} has size ${c.originalSize}`);
  switch (c.method) {
    case ChunkMethod.Stored:
      if (flags !== 0 || c.tokenCount !== 0 || c.payloadSize !== c.originalSize) throw corrupt(`${where}: stored chunk fields disagree`);
      break;
    case ChunkMethod.Brotli:
      if (flags !== 0 || c.tokenCount !== 0 || c.payloadSize < 1 || c.payloadSize > c.originalSize + MAX_BROTLI_EXPANSION)
        throw corrupt(`${where}: brotli chunk fields are out of range`);
      break;
    case ChunkMethod.Model:
      if ((flags & ~CHUNK_FLAG_STRIP_LEADING_SPACE) !== 0) throw corrupt(`${where}: reserved chunk flags are set`);
      // Every token stands for at least one byte; the stripped leading space adds one.
      if (c.tokenCount < 1 || c.tokenCount > c.originalSize + (c.stripLeadingSpace ? 1 : 0))
        throw corrupt(`${where}: token count ${c.tokenCount} is impossible for ${c.originalSize} bytes`);
      if (c.payloadSize > c.tokenCount * 5 + 16) throw corrupt(`${where}: payload is larger than any token sequence could need`);
      break;
    default:
      throw corrupt(`${where} uses unknown method ${c.method}`);
  }
}
