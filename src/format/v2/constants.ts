/**
 * Constants of the .lmz member format, version 2. docs/FORMAT.md is the specification;
 * every number here appears there.
 */
export const FORMAT_VERSION_2 = 2;

/** Header flag: no block uses a model, so the header names none. */
export const FLAG_MODEL_FREE = 0x01;
export const FLAG_FLASH_ATTENTION = 0x02;
/** Header flag: a lane whose window is full shifts its cache instead of restarting. */
export const FLAG_SHIFT_CONTEXT = 0x04;
/** Header flag (only with SHIFT_CONTEXT): a shift first moves the lane's kept cells to its lowest cache cells. */
export const FLAG_COMPACT_SHIFT = 0x08;

export const MAX_HEADER_BODY = 16384;
export const MAX_NAME_BYTES = 4096;
export const MAX_METHOD_PARAMS = 4096;
export const MAX_PROFILE_BYTES = 1024;

export const MIN_BLOCK_SIZE = 1024;
export const MAX_BLOCK_SIZE = 1 << 26; // 64 MiB of original bytes per block
export const MAX_CHUNKS_PER_BLOCK = 4096;
export const MAX_CHUNK_SIZE = 1 << 24; // 16 MiB
/** Brotli may expand incompressible data slightly; stored would be chosen long before this. */
export const MAX_BROTLI_EXPANSION = 1024;

export const MAX_LANES = 256;
export const MIN_WINDOW = 8;
export const MAX_WINDOW = 1 << 20;
export const MAX_UBATCH = 65536;

/** The length of the model's SHA-256 prefix recorded in the header. */
export const MODEL_HASH_BYTES = 8;

/** block_tag values that end a member instead of starting a block. */
export const END_WITHOUT_INDEX = 0;
export const END_WITH_INDEX = 1;

export const FOOTER_SIZE = 6;
export const FOOTER_MAGIC = Uint8Array.of(0x5a, 0x4c); // "ZL"

export enum CodingMethodId {
  /** The model alone: frequency algorithm 1 over each token's logits. */
  Model = 1,
  /** The model mixed with adaptive context models (docs/MIXING.md); params: MixParams bytes. */
  Mixed = 2,
}
/** Coding methods this build decodes. */
export const KNOWN_CODING_METHODS: ReadonlySet<number> = new Set([CodingMethodId.Model, CodingMethodId.Mixed]);
