/**
 * The one error class lmzip throws, with stable string codes.
 *
 * Stability rule: a code, once released, keeps its meaning forever; codes are only
 * ever added. Messages may improve; programs should branch on `code`, never on text.
 */
export const ErrorCode = Object.freeze({
  /** An argument or option is invalid (wrong type, out of range). */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** A file named by the user does not exist. */
  FILE_NOT_FOUND: 'FILE_NOT_FOUND',
  /** Reading or writing a file failed (permissions, disk full, a directory in the way). */
  IO_ERROR: 'IO_ERROR',
  /** The output file exists and --force was not given. */
  OUTPUT_EXISTS: 'OUTPUT_EXISTS',
  /** The model file does not exist. */
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  /** The model file is not a GGUF file (wrong magic, empty). */
  MODEL_INVALID: 'MODEL_INVALID',
  /** llama.cpp could not load the model (truncated, unsupported version or architecture). */
  MODEL_LOAD_FAILED: 'MODEL_LOAD_FAILED',
  /** The model has a vocabulary but no weights, so it cannot compress. */
  MODEL_VOCAB_ONLY: 'MODEL_VOCAB_ONLY',
  /** The model was disposed before the call. */
  MODEL_DISPOSED: 'MODEL_DISPOSED',
  /** A model reference (name, URL, hf:) could not be resolved or fetched. */
  MODEL_UNAVAILABLE: 'MODEL_UNAVAILABLE',
  /** A downloaded model's size or SHA-256 did not match. */
  MODEL_HASH_MISMATCH: 'MODEL_HASH_MISMATCH',
  /** The file was compressed with a different model than the one given or found. */
  MODEL_MISMATCH: 'MODEL_MISMATCH',
  /** The file was compressed by a build with different numerics (ISA, backend, llama.cpp). */
  PROFILE_MISMATCH: 'PROFILE_MISMATCH',
  /** llama.cpp could not create an inference context (memory, parameters). */
  CONTEXT_FAILED: 'CONTEXT_FAILED',
  /** llama_decode failed. */
  DECODE_FAILED: 'DECODE_FAILED',
  /** The tokenizer threw on this input. */
  TOKENIZER_FAILED: 'TOKENIZER_FAILED',
  /** The input is not an lmzip file (wrong magic). */
  NOT_LMZ: 'NOT_LMZ',
  /** The file's format version is newer than this build understands. */
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  /** The file ends before its structures do. */
  TRUNCATED: 'TRUNCATED',
  /** A structure is malformed or a header checksum does not match. */
  CORRUPT_HEADER: 'CORRUPT_HEADER',
  /** Compressed data is damaged: a payload does not decode, or decodes to the wrong bytes. */
  CORRUPT_DATA: 'CORRUPT_DATA',
  /** A chunk's checksum does not match the bytes it decoded to. */
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
  /** Decompressed output would exceed maxOutputLength. */
  OUTPUT_TOO_LARGE: 'OUTPUT_TOO_LARGE',
  /** The input is too large for one call. */
  INPUT_TOO_LARGE: 'INPUT_TOO_LARGE',
  /** The operation was cancelled (AbortSignal, SIGINT). */
  CANCELLED: 'CANCELLED',
  /** The native addon could not be loaded. */
  NATIVE_LOAD_FAILED: 'NATIVE_LOAD_FAILED',
  /** An unexpected native failure. */
  NATIVE_ERROR: 'NATIVE_ERROR',
  /** A session is busy or was disposed (internal misuse). */
  SESSION_BUSY: 'SESSION_BUSY',
  SESSION_DISPOSED: 'SESSION_DISPOSED',
  OUT_OF_MEMORY: 'OUT_OF_MEMORY',
  /** The input is a symbolic link, or has other hard links, and would be replaced; -f allows it. */
  UNSAFE_INPUT: 'UNSAFE_INPUT',
  /** The output would be the input file itself (same device and inode). */
  SAME_FILE: 'SAME_FILE',
  /** The input changed while it was read or before it was removed; it was kept. */
  INPUT_CHANGED: 'INPUT_CHANGED',
  /** The work would need more memory than allowed (a llama.cpp context over the memory limit). */
  RESOURCE_LIMIT: 'RESOURCE_LIMIT',
  /** backend "cuda" was asked for, but no usable NVIDIA GPU, driver or CUDA build is there. */
  GPU_UNAVAILABLE: 'GPU_UNAVAILABLE',
} as const);

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * @example
 * try { await decompress(bytes, { model }) }
 * catch (e) { if (e instanceof LmzipError && e.code === 'MODEL_MISMATCH') … }
 */
export class LmzipError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LmzipError';
    this.code = code;
  }
}

const knownCodes = new Set<string>(Object.values(ErrorCode));

/** Turns anything thrown (native errors carry a `code`) into an LmzipError. */
export function toLmzipError(e: unknown): LmzipError {
  if (e instanceof LmzipError) return e;
  const err = e as { code?: unknown; message?: unknown } | undefined;
  const code = typeof err?.code === 'string' && knownCodes.has(err.code) ? (err.code as ErrorCode) : ErrorCode.NATIVE_ERROR;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  return new LmzipError(code, message, { cause: e });
}
