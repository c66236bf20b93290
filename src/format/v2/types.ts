import type { ChunkMethod } from '../constants.js';

/** A version-2 member header (docs/FORMAT.md, "Member header"). */
export interface HeaderV2 {
  version: 2;
  /** No block uses a model; the model fields are empty. */
  modelFree: boolean;
  /** The most original bytes one block holds. */
  blockSize: number;
  /** Hex of the first 8 bytes of the model's SHA-256 (16 digits); '' when model-free. */
  modelHash: string;
  /** The model's short name (built-in name or file name). */
  modelName: string;
  lanes: number;
  window: number;
  overlap: number;
  ubatch: number;
  flashAttention: boolean;
  /** A full lane shifts its cache instead of restarting (FLAG_SHIFT_CONTEXT). */
  shiftContext: boolean;
  /** Each shift first moves the lane's kept cells to its lowest cache cells (FLAG_COMPACT_SHIFT; only with shiftContext). */
  compactShift: boolean;
  codingMethod: number;
  methodParams: Uint8Array;
  /** The numeric profile's text form (`key=value;…`). */
  profile: string;
  /** Bytes of the header in the file. */
  size: number;
}

export interface ChunkEntryV2 {
  method: ChunkMethod;
  stripLeadingSpace: boolean;
  originalSize: number;
  /** Bytes of this chunk's own payload (0 for method 1: its tokens are in the model stream). */
  payloadSize: number;
}

/** A block's table: what a forward scan reads without decoding. */
export interface BlockTable {
  chunks: ChunkEntryV2[];
  /** Bytes of the block's model stream (0 when no chunk uses the model). */
  streamSize: number;
  blockCrc: number;
  /** Sum of the chunks' original sizes. */
  originalSize: number;
  /** Bytes of the tag, table, stream size and CRC. */
  tableSize: number;
  /** Bytes of the whole block in the file. */
  encodedSize: number;
  /** The member's final block (its tag says so). */
  last: boolean;
}

export interface BlockV2 {
  table: BlockTable;
  stream: Uint8Array;
  /** Payload of chunk i (empty for model-coded chunks). */
  payloads: Uint8Array[];
}

/** One block as the seek index records it. */
export interface IndexEntry {
  originalSize: number;
  compressedSize: number;
}

export interface IndexV2 {
  headerSize: number;
  blocks: IndexEntry[];
}
