/** Serialises the .lmz structures (docs/FORMAT.md). Knows nothing of llama.cpp. */
import {
  BLOCK_END, BLOCK_FRAME, CHUNK_ENTRY_SIZE, CHUNK_FLAG_STRIP_LEADING_SPACE, END_BLOCK_SIZE, FILE_HEADER_FIXED_SIZE,
  FORMAT_VERSION, FRAME_HEADER_FIXED_SIZE, HEADER_BODY_FIXED_SIZE, HEADER_FLAG_MODEL_FREE, MAGIC, UNKNOWN_SIZE,
} from './constants.js';
import { crc32 } from './crc32.js';
import type { ChunkEntry, EndBlock, FileHeader } from './types.js';

/** The 20-byte header of a file in which no chunk uses a model. */
export function writeModelFreeHeader(): Buffer {
  const out = Buffer.alloc(FILE_HEADER_FIXED_SIZE + 4);
  out.set(MAGIC, 0);
  out.writeUInt8(FORMAT_VERSION, 8);
  out.writeUInt8(HEADER_FLAG_MODEL_FREE, 9);
  out.writeUInt32LE(crc32(out.subarray(0, FILE_HEADER_FIXED_SIZE)), FILE_HEADER_FIXED_SIZE);
  return out;
}

export function writeFileHeader(h: Omit<FileHeader, 'version' | 'modelFree'>): Buffer {
  const reference = Buffer.from(h.modelReference, 'utf8');
  const profile = Buffer.from(h.profile, 'utf8');
  if (reference.length > 4096) throw new Error('model reference longer than 4096 bytes');
  if (profile.length > 1024) throw new Error('numeric profile longer than 1024 bytes');
  const bodySize = HEADER_BODY_FIXED_SIZE + 2 + reference.length + 2 + profile.length;
  const out = Buffer.alloc(FILE_HEADER_FIXED_SIZE + bodySize + 4);
  out.set(MAGIC, 0);
  out.writeUInt8(FORMAT_VERSION, 8);
  out.writeUInt8(0, 9); // flags
  out.writeUInt16LE(0, 10); // reserved
  out.writeUInt32LE(bodySize, 12);
  const b = FILE_HEADER_FIXED_SIZE;
  Buffer.from(h.modelSha256, 'hex').copy(out, b);
  Buffer.from(h.tokenizerFingerprint, 'hex').copy(out, b + 32);
  out.writeUInt32LE(h.vocabSize, b + 40);
  out.writeUInt16LE(h.lanes, b + 44);
  out.writeUInt16LE(0, b + 46);
  out.writeUInt32LE(h.window, b + 48);
  out.writeUInt32LE(h.overlap, b + 52);
  out.writeUInt32LE(h.ubatch, b + 56);
  out.writeUInt8(h.flashAttention ? 1 : 0, b + 60);
  out.writeUInt8(h.freqAlgorithm, b + 61);
  out.writeUInt16LE(0, b + 62);
  out.writeBigUInt64LE(h.originalSize ?? UNKNOWN_SIZE, b + 64);
  let p = b + HEADER_BODY_FIXED_SIZE;
  out.writeUInt16LE(reference.length, p);
  reference.copy(out, p + 2);
  p += 2 + reference.length;
  out.writeUInt16LE(profile.length, p);
  profile.copy(out, p + 2);
  p += 2 + profile.length;
  out.writeUInt32LE(crc32(out.subarray(0, p)), p);
  return out;
}

/** The frame header (block type, chunk table, CRC); the payloads follow it in the file. */
export function writeFrameHeader(chunks: ChunkEntry[]): Buffer {
  const size = FRAME_HEADER_FIXED_SIZE + chunks.length * CHUNK_ENTRY_SIZE;
  const out = Buffer.alloc(size + 4);
  out.writeUInt8(BLOCK_FRAME, 0);
  out.writeUInt32LE(chunks.length, 1);
  let p = FRAME_HEADER_FIXED_SIZE;
  for (const c of chunks) {
    out.writeUInt8(c.method, p);
    out.writeUInt8(c.stripLeadingSpace ? CHUNK_FLAG_STRIP_LEADING_SPACE : 0, p + 1);
    out.writeUInt32LE(c.originalSize, p + 2);
    out.writeUInt32LE(c.tokenCount, p + 6);
    out.writeUInt32LE(c.payloadSize, p + 10);
    out.writeUInt32LE(c.crc32, p + 14);
    p += CHUNK_ENTRY_SIZE;
  }
  out.writeUInt32LE(crc32(out.subarray(0, size)), size);
  return out;
}

export function writeEndBlock(e: EndBlock): Buffer {
  const out = Buffer.alloc(END_BLOCK_SIZE);
  out.writeUInt8(BLOCK_END, 0);
  out.writeBigUInt64LE(e.totalSize, 1);
  out.writeUInt32LE(e.frameCount, 9);
  out.writeUInt32LE(e.contentCrc32, 13);
  out.writeUInt32LE(crc32(out.subarray(0, 17)), 17);
  return out;
}
