import type { ChunkMethod } from './constants.js';

/** What the file header records: everything that decides the output bytes. */
export interface FileHeader {
  version: number;
  /** No chunk needs a model; the model fields below are empty. */
  modelFree: boolean;
  /** SHA-256 (hex) of the GGUF file the data was compressed with. */
  modelSha256: string;
  /** FNV-1a 64 (hex) of the vocabulary, for diagnostics. */
  tokenizerFingerprint: string;
  vocabSize: number;
  /** The model reference the user gave (built-in name, URL, hf: ref or path). */
  modelReference: string;
  /** Numeric profile of the build that wrote the file (ISA, llama.cpp, backend, …). */
  profile: string;
  lanes: number;
  window: number;
  overlap: number;
  ubatch: number;
  flashAttention: boolean;
  freqAlgorithm: number;
  /** Original size in bytes, or undefined when unknown at the start (streams). */
  originalSize: bigint | undefined;
}

export interface ChunkEntry {
  method: ChunkMethod;
  stripLeadingSpace: boolean;
  originalSize: number;
  tokenCount: number;
  payloadSize: number;
  crc32: number;
}

export interface Frame {
  chunks: ChunkEntry[];
  payloads: Uint8Array[];
  /** Bytes the frame occupies in the file. */
  encodedSize: number;
}

export interface EndBlock {
  totalSize: bigint;
  frameCount: number;
  contentCrc32: number;
}
