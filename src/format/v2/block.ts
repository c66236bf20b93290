/**
 * Version-2 blocks and the end of a member (docs/FORMAT.md, "Blocks", "End of a
 * member and the seek index"): writing them, and parsing their tables, which is all a
 * forward scan needs. Knows nothing of llama.cpp.
 */
import { ChunkMethod } from '../constants.js';
import { crc32 } from '../crc32.js';
import { ByteCursor, corruptHeader, pushVarint } from '../varint.js';
import {
  END_WITH_INDEX, END_WITHOUT_INDEX, FOOTER_MAGIC, FOOTER_SIZE, MAX_BROTLI_EXPANSION, MAX_CHUNK_SIZE, MAX_CHUNKS_PER_BLOCK,
} from './constants.js';
import type { BlockTable, ChunkEntryV2, IndexEntry, IndexV2 } from './types.js';

/** The block's CRC: its offset in the member (u64 LE), then its original bytes. */
export function blockCrc(offset: number, pieces: Iterable<Uint8Array>): number {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(offset));
  let crc = crc32(prefix);
  for (const p of pieces) crc = crc32(p, crc);
  return crc;
}

/** The tag that starts a block of `chunks` chunks; `last` marks the member's final block. */
export function blockTag(chunks: number, last: boolean): number {
  return 2 * chunks + (last ? 1 : 0);
}

/** A block's bytes, in file order: table, model stream, then the other chunks' payloads. */
export function writeBlock(chunks: ChunkEntryV2[], stream: Uint8Array, payloads: Uint8Array[], crc: number, last: boolean): Buffer[] {
  const table: number[] = [];
  pushVarint(table, blockTag(chunks.length, last));
  for (const c of chunks) {
    pushVarint(table, c.originalSize * 8 + (c.stripLeadingSpace ? 4 : 0) + c.method);
    if (c.method === ChunkMethod.Brotli) pushVarint(table, c.payloadSize);
  }
  if (chunks.some((c) => c.method === ChunkMethod.Model)) pushVarint(table, stream.length);
  const head = Buffer.alloc(table.length + 4);
  head.set(table, 0);
  head.writeUInt32LE(crc >>> 0, table.length);
  const out: Buffer[] = [head];
  if (stream.length > 0) out.push(Buffer.from(stream.buffer, stream.byteOffset, stream.byteLength));
  chunks.forEach((c, i) => {
    if (c.method !== ChunkMethod.Model) out.push(Buffer.from(payloads[i].buffer, payloads[i].byteOffset, payloads[i].byteLength));
  });
  return out;
}

/**
 * Parses the block tag at the cursor: a block's table (the payloads follow it), or
 * the end of the member. (Whether a block may be last, or the end may come, is the
 * caller's to check: checkBlockOrder.) Throws NEED_MORE while incomplete, CORRUPT_HEADER when a
 * limit is broken; `blockSize` and `modelFree` come from the member header.
 */
export function parseBlockTable(c: ByteCursor, blockSize: number, modelFree: boolean, where: string):
  { kind: 'block'; table: BlockTable } | { kind: 'end'; withIndex: boolean } {
  const start = c.pos;
  const tag = c.varint(`${where}: block tag`);
  if (tag === END_WITHOUT_INDEX || tag === END_WITH_INDEX) return { kind: 'end', withIndex: tag === END_WITH_INDEX };
  const count = Math.floor(tag / 2);
  const last = tag % 2 === 1;
  if (count > MAX_CHUNKS_PER_BLOCK) throw corruptHeader(`${where} has ${count} chunks (at most ${MAX_CHUNKS_PER_BLOCK})`);
  const chunks: ChunkEntryV2[] = [];
  let originalSize = 0;
  let payloads = 0;
  let pieceBytes = 0;
  for (let i = 0; i < count; i++) {
    const e = c.varint(`${where}: chunk entry`);
    const method = e % 4;
    const strip = Math.floor(e / 4) % 2 === 1;
    const size = Math.floor(e / 8);
    const at = `chunk ${i} of ${where}`;
    if (size < 1 || size > MAX_CHUNK_SIZE) throw corruptHeader(`${at} has size ${size}`);
    if (method === 3) throw corruptHeader(`${at} uses unknown method 3`);
    if (strip && method !== ChunkMethod.Model) throw corruptHeader(`${at}: only model-coded chunks may strip a space`);
    if (method === ChunkMethod.Model && modelFree) throw corruptHeader(`${at} needs a model, but the header names none`);
    let payloadSize = 0;
    if (method === ChunkMethod.Stored) payloadSize = size;
    else if (method === ChunkMethod.Brotli) {
      payloadSize = c.varint(`${at}: payload size`);
      if (payloadSize < 1 || payloadSize > size + MAX_BROTLI_EXPANSION) throw corruptHeader(`${at}: brotli payload of ${payloadSize} bytes`);
    } else pieceBytes += size + (strip ? 1 : 0);
    originalSize += size;
    if (originalSize > blockSize) throw corruptHeader(`${where} holds more than the block size (${blockSize} bytes)`);
    payloads += payloadSize;
    chunks.push({ method, stripLeadingSpace: strip, originalSize: size, payloadSize });
  }
  let streamSize = 0;
  if (pieceBytes > 0) {
    streamSize = c.varint(`${where}: model stream size`);
    if (streamSize < 1 || streamSize > 4 * pieceBytes + 16) throw corruptHeader(`${where}: a model stream of ${streamSize} bytes`);
  }
  const blockCrc = c.u32();
  const tableSize = c.pos - start;
  return { kind: 'block', table: { chunks, streamSize, blockCrc, originalSize, tableSize, encodedSize: tableSize + streamSize + payloads, last } };
}

/** The end of a member: tag 0 alone, or tag 1, the seek index and the footer. */
export function writeEnd(index: IndexV2 | undefined): Buffer {
  if (!index) return Buffer.of(END_WITHOUT_INDEX);
  const body: number[] = [END_WITH_INDEX];
  pushVarint(body, index.headerSize);
  pushVarint(body, index.blocks.length);
  for (const b of index.blocks) {
    pushVarint(body, b.originalSize);
    pushVarint(body, b.compressedSize);
  }
  const out = Buffer.alloc(body.length + 4 + FOOTER_SIZE);
  out.set(body, 0);
  out.writeUInt32LE(crc32(out.subarray(0, body.length)), body.length);
  out.writeUInt32LE(body.length + 4, body.length + 4);
  out.set(FOOTER_MAGIC, body.length + 8);
  return out;
}

/**
 * Parses a seek index whose end tag (1) is at `start`: index, CRC and footer.
 * Throws NEED_MORE while incomplete, CORRUPT_HEADER when it is not valid.
 */
export function parseIndex(c: ByteCursor, start: number): { index: IndexV2; size: number } {
  const headerSize = c.varint('index: header size');
  const count = c.varint('index: block count');
  if (count > 2 ** 32) throw corruptHeader(`an index of ${count} blocks`);
  const blocks: IndexEntry[] = [];
  for (let i = 0; i < count; i++) {
    const originalSize = c.varint('index: original size');
    const compressedSize = c.varint('index: compressed size');
    blocks.push({ originalSize, compressedSize });
  }
  const crcAt = c.pos;
  const crc = c.u32();
  if (crc32(c.bytes.subarray(start, crcAt)) !== crc) throw corruptHeader('the index checksum does not match');
  const indexSize = c.u32();
  const magic = c.take(2);
  if (magic[0] !== FOOTER_MAGIC[0] || magic[1] !== FOOTER_MAGIC[1]) throw corruptHeader('the footer is not "ZL"');
  if (indexSize !== crcAt + 4 - start) throw corruptHeader('the footer does not give the index size');
  return { index: { headerSize, blocks }, size: c.pos - start };
}

/**
 * Reads a footer from the last bytes of a member (random access): the offset at
 * which its index starts, or undefined when the bytes are no footer.
 */
export function footerIndexStart(tail: Uint8Array, tailEndOffset: number): number | undefined {
  if (tail.length < FOOTER_SIZE) return undefined;
  const f = tail.subarray(tail.length - FOOTER_SIZE);
  if (f[4] !== FOOTER_MAGIC[0] || f[5] !== FOOTER_MAGIC[1]) return undefined;
  const indexSize = (f[0] | (f[1] << 8) | (f[2] << 16) | (f[3] << 24)) >>> 0;
  const start = tailEndOffset - FOOTER_SIZE - indexSize;
  return start >= 0 ? start : undefined;
}

/**
 * The order rule of docs/FORMAT.md: a member's last block, and only it, is marked
 * last, and the end follows it (or the header, when the member has no block).
 */
export function checkBlockOrder(previousWasLast: boolean | undefined, next: 'block' | 'end', where: string): void {
  if (next === 'block' && previousWasLast) throw corruptHeader(`${where} follows the block marked last`);
  if (next === 'end' && previousWasLast === false) throw corruptHeader(`${where}: the member ends after a block not marked last`);
}
