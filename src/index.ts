/**
 * lmzip: lossless compression with a language model.
 * @example
 * import { Model, compress, decompress } from 'lmzip';
 * const model = await Model.load('stories260K.gguf');
 * const packed = await compress(Buffer.from('Once upon a time'), { model });
 * const text = await decompress(packed, { model });
 */
export { Model, type LoadModelOptions, type ModelFacts } from './model.js';
export {
  compress, compressWithStats, decompress, inspect, inspectStream, measureModelSpeed, DEFAULT_MAX_OUTPUT_LENGTH,
  type CompressOptions, type DecompressOptions, type ContainerInfo, type MemberInfo,
} from './compress.js';
export { DEFAULT_MEMORY_LIMIT, type CompressStats, type Progress } from './codec.js';
export { createCompressStream, createDecompressStream, CompressStream, DecompressStream, type CompressStreamOptions } from './stream.js';
export { open, Archive, type ArchiveBlock, type OpenOptions } from './archive/open.js';
export { reindex, reindexFile } from './archive/reindex.js';
export { findResumePoint, type ResumePoint } from './archive/resume.js';
export type { MemberHeader } from './archive/reader.js';
export { LmzipError, ErrorCode } from './errors.js';
export type { FileHeader } from './format/types.js';
export type { HeaderV2 } from './format/v2/types.js';
export { fingerprintFile } from './fingerprint.js';
export * from './analyze/index.js';
