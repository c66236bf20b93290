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
  compress, compressWithStats, decompress, inspect, measureModelSpeed,
  type CompressOptions, type DecompressOptions, type ContainerInfo,
} from './compress.js';
export type { CompressStats, Progress } from './codec.js';
export { createCompressStream, createDecompressStream, CompressStream, DecompressStream, type CompressStreamOptions } from './stream.js';
export { LmzipError, ErrorCode } from './errors.js';
export type { FileHeader } from './format/types.js';
export { fingerprintFile } from './fingerprint.js';
export * from './analyze/index.js';
