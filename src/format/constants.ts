/**
 * Constants of the .lmz container, version 1. docs/FORMAT.md is the specification;
 * every number here appears there.
 */
export const MAGIC = Uint8Array.of(0x89, 0x4c, 0x4d, 0x5a, 0x0d, 0x0a, 0x1a, 0x0a); // "\x89LMZ\r\n\x1a\n"
export const FORMAT_VERSION = 1;

export const FILE_HEADER_FIXED_SIZE = 16; // magic, version, flags, reserved, body length
/** Header flag: no chunk uses a model, so the header names none (body length 0). */
export const HEADER_FLAG_MODEL_FREE = 0x01;
export const HEADER_BODY_FIXED_SIZE = 72; // up to and excluding the two strings
export const HEADER_BODY_MAX_SIZE = 65536;
export const UNKNOWN_SIZE = 0xffffffffffffffffn;

export const BLOCK_FRAME = 0x01;
export const BLOCK_END = 0x02;
export const FRAME_HEADER_FIXED_SIZE = 5; // block type, chunk count
export const CHUNK_ENTRY_SIZE = 18;
export const END_BLOCK_SIZE = 21;

export const MAX_CHUNKS_PER_FRAME = 4096;
export const MAX_CHUNK_SIZE = 1 << 24; // 16 MiB
export const MAX_FRAME_SIZE = 1 << 26; // 64 MiB of original bytes per frame
/** Brotli may expand incompressible data slightly; stored would be chosen long before this. */
export const MAX_BROTLI_EXPANSION = 1024;

export enum ChunkMethod {
  /** The original bytes, as they are. */
  Stored = 0,
  /** Tokens coded with the model's probabilities by the range coder (the lane schedule). */
  Model = 1,
  /** Brotli (RFC 7932), for chunks the model cannot help with. */
  Brotli = 2,
}

export const CHUNK_FLAG_STRIP_LEADING_SPACE = 0x01;
export const FREQ_ALGORITHM = 1;
