/**
 * One-shot compress/decompress, plus the measurements the benchmarks need.
 */
import { CancelFlag, Compressor, Decompressor, type CompressStats, type Progress } from './codec.js';
import { backendOption, type Backend } from './backend.js';
import { ErrorCode, LmzipError } from './errors.js';
import { LmzReader } from './format/reader.js';
import type { EndBlock, FileHeader, Frame } from './format/types.js';
import type { Model } from './model.js';
import { openModel, openModelForFile } from './model-source.js';
import { chooseSettings } from './settings.js';
import { chunkLengths } from './chunker.js';
import { booleanOption, bytesArgument, functionOption, integerOption, invalid, signalOption } from './validate.js';

export interface CommonOptions {
  /** A loaded Model (reused, not disposed), or a model path / name / URL (loaded for this call). Default: LMZIP_MODEL. */
  model?: Model | string;
  /** Threads when this call loads the model. */
  threads?: number;
  /** GPU layers when this call loads the model. */
  gpuLayers?: number;
  /** Backend when this call loads the model: "auto" (default: LMZIP_BACKEND, else auto), "cpu" or "cuda". */
  backend?: Backend;
  /** Called a few times a second. */
  onProgress?: (progress: Progress) => void;
  /** Cancels the call; it rejects with code CANCELLED. */
  signal?: AbortSignal;
}

export interface CompressOptions extends CommonOptions {
  /** Chunks coded in parallel (1-256, default 16). Recorded in the file. */
  lanes?: number;
  /** Context window per lane in tokens (default: measured per model, else min(trained, 1024)). */
  window?: number;
  /** Tokens carried over when a lane's window is full (default window/2). */
  overlap?: number;
  /** Target chunk size in bytes (default: input split evenly over the lanes, 1 KiB-256 KiB). */
  chunkSize?: number;
  /** Also compute the ideal code length (slower), reported by compressWithStats. */
  measureIdeal?: boolean;
  /** The model reference to record in the file (default: the reference given, or the model's path). */
  modelReference?: string;
  /**
   * @internal Benchmarks only: code every chunk the model can spell with the model, even
   * where brotli or storing would be smaller (random-weight test models lose to brotli).
   */
  forceModel?: boolean;
}

export interface DecompressOptions extends CommonOptions {
  /** Refuse to produce more than this many bytes (default: 4 GiB). */
  maxOutputLength?: number;
}

export const DEFAULT_MAX_OUTPUT_LENGTH = 4 * 1024 ** 3;
export const MIN_CHUNK_SIZE = 1024;
export const MAX_DEFAULT_CHUNK_SIZE = 256 * 1024;

/** The chunk size used when the caller names none: the input spread over the lanes. */
export function defaultChunkSize(inputSize: number | undefined, lanes: number): number {
  if (inputSize === undefined) return 64 * 1024;
  return Math.min(MAX_DEFAULT_CHUNK_SIZE, Math.max(MIN_CHUNK_SIZE, Math.ceil(inputSize / lanes)));
}

export function validateCompressOptions(options: CompressOptions): void {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  integerOption('lanes', options.lanes, 1, 256);
  integerOption('window', options.window, 8, 1 << 20);
  integerOption('overlap', options.overlap, 0, 1 << 20);
  integerOption('chunkSize', options.chunkSize, 64, 1 << 24);
  integerOption('threads', options.threads, 1, 1024);
  integerOption('gpuLayers', options.gpuLayers, -1, 100000);
  backendOption(options.backend);
  booleanOption('measureIdeal', options.measureIdeal);
  booleanOption('forceModel', options.forceModel);
  if (options.modelReference !== undefined && typeof options.modelReference !== 'string') throw invalid('modelReference', 'a string', options.modelReference);
  functionOption('onProgress', options.onProgress);
  signalOption('signal', options.signal);
}

export function validateDecompressOptions(options: DecompressOptions): void {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  integerOption('maxOutputLength', options.maxOutputLength, 0, Number.MAX_SAFE_INTEGER);
  integerOption('threads', options.threads, 1, 1024);
  integerOption('gpuLayers', options.gpuLayers, -1, 100000);
  backendOption(options.backend);
  functionOption('onProgress', options.onProgress);
  signalOption('signal', options.signal);
}

/**
 * Compresses bytes and reports what happened.
 * @example
 * const { output, stats } = await compressWithStats(text, { model, measureIdeal: true });
 * console.log(stats.payloadBytes * 8 / stats.idealBits - 1); // coder overhead
 */
export async function compressWithStats(data: Uint8Array | string, options: CompressOptions = {}): Promise<{ output: Buffer; stats: CompressStats }> {
  const input = bytesArgument('data', data);
  validateCompressOptions(options);
  const cancel = new CancelFlag(options.signal);
  cancel.check(options.signal);
  const opened = await openModel(options.model, { threads: options.threads, gpuLayers: options.gpuLayers, backend: options.backend }, {}, options.modelReference);
  let compressor: Compressor | undefined;
  try {
    const settings = await chooseSettings(opened.model, options);
    const chunkSize = options.chunkSize ?? defaultChunkSize(input.length, settings.lanes);
    compressor = await Compressor.create(opened.model, settings, { chunkSize, cancel, measureIdeal: options.measureIdeal ?? false, forceModel: options.forceModel });
    const parts: Buffer[] = [];
    for (let offset = 0; offset < input.length; offset += compressor.frameSize) {
      const frameData = input.subarray(offset, offset + compressor.frameSize);
      const bytesOut = () => parts.reduce((n, b) => n + b.length, 0);
      parts.push(...(await compressor.frame(frameData, options.onProgress &&
        ((f) => options.onProgress!({ bytesIn: offset + Math.round(f * frameData.length), bytesTotal: input.length, bytesOut: bytesOut() })))));
    }
    // The header comes last here: a file that needs no model gets the short one.
    parts.unshift(await compressor.header(opened.reference, input.length, compressor.stats.modelChunks === 0));
    parts.push(compressor.end());
    return { output: Buffer.concat(parts), stats: { ...compressor.stats } };
  } finally {
    cancel.detach();
    compressor?.dispose();
    if (opened.owned) opened.model.dispose();
  }
}

/**
 * Compresses bytes with a language model.
 * @example
 * const model = await Model.load('stories260K.gguf');
 * const packed = await compress(Buffer.from('Once upon a time…'), { model });
 */
export async function compress(data: Uint8Array | string, options: CompressOptions = {}): Promise<Buffer> {
  return (await compressWithStats(data, options)).output;
}

/** Parses a whole .lmz buffer: header, frames, end block (throws TRUNCATED/CORRUPT_HEADER/NOT_LMZ). */
export function parseContainer(data: Uint8Array): { header: FileHeader; frames: Frame[]; end: EndBlock } {
  const reader = new LmzReader();
  const events = reader.push(data);
  reader.finish();
  const header = events.find((e) => e.type === 'header');
  const end = events.find((e) => e.type === 'end');
  if (header?.type !== 'header' || end?.type !== 'end') throw new LmzipError(ErrorCode.TRUNCATED, 'the file is incomplete');
  return { header: header.header, frames: events.flatMap((e) => (e.type === 'frame' ? [e.frame] : [])), end: end.end };
}

/**
 * Decompresses a .lmz buffer. Every chunk is verified against its checksum.
 * @example
 * const original = await decompress(packed, { model });
 */
export async function decompress(data: Uint8Array, options: DecompressOptions = {}): Promise<Buffer> {
  if (!(data instanceof Uint8Array)) throw invalid('data', 'a Uint8Array or Buffer', data);
  validateDecompressOptions(options);
  const cancel = new CancelFlag(options.signal);
  cancel.check(options.signal);
  const { header, frames, end } = parseContainer(data);
  const needsModel = frames.some((f) => f.chunks.some((c) => c.method === 1));
  const opened = needsModel
    ? await openModelForFile(header, options.model, { threads: options.threads, gpuLayers: options.gpuLayers, backend: options.backend })
    : undefined;
  let decompressor: Decompressor | undefined;
  try {
    decompressor = await Decompressor.create(header, opened?.model, { cancel, maxOutputLength: options.maxOutputLength ?? DEFAULT_MAX_OUTPUT_LENGTH });
    const parts: Buffer[] = [];
    const total = header.originalSize === undefined ? undefined : Number(header.originalSize);
    for (const frame of frames) {
      const before = decompressor.bytesProduced;
      const frameSize = frame.chunks.reduce((n, c) => n + c.originalSize, 0);
      parts.push(...(await decompressor.frame(frame, options.onProgress &&
        ((f) => options.onProgress!({ bytesIn: 0, bytesTotal: total, bytesOut: before + Math.round(f * frameSize) })))));
    }
    decompressor.end(end.totalSize, end.contentCrc32);
    return Buffer.concat(parts);
  } finally {
    cancel.detach();
    decompressor?.dispose();
    if (opened?.owned) opened.model.dispose();
  }
}

/** What a .lmz file holds, without decoding it (`lmzip -l`). */
export interface ContainerInfo {
  header: FileHeader;
  compressedSize: number;
  originalSize: number;
  frames: number;
  chunks: { model: number; brotli: number; stored: number };
  /** Original bytes per method. */
  bytesByMethod: { model: number; brotli: number; stored: number };
  tokens: number;
  bitsPerByte: number;
  ratio: number;
}

/**
 * Describes a .lmz buffer from its header and chunk tables.
 * @example
 * const info = inspect(await readFile('notes.txt.lmz'));
 * console.log(info.header.modelReference, info.bitsPerByte);
 */
export function inspect(data: Uint8Array): ContainerInfo {
  const { header, frames, end } = parseContainer(data);
  const chunks = { model: 0, brotli: 0, stored: 0 };
  const bytesByMethod = { model: 0, brotli: 0, stored: 0 };
  let tokens = 0;
  for (const f of frames)
    for (const c of f.chunks) {
      const key = c.method === 1 ? 'model' : c.method === 2 ? 'brotli' : 'stored';
      chunks[key]++;
      bytesByMethod[key] += c.originalSize;
      tokens += c.tokenCount;
    }
  const originalSize = Number(end.totalSize);
  return { header, compressedSize: data.length, originalSize, frames: frames.length, chunks, bytesByMethod, tokens,
    bitsPerByte: originalSize > 0 ? (data.length * 8) / originalSize : 0, ratio: data.length > 0 ? originalSize / data.length : 0 };
}

/**
 * The model's raw speed: the same lane schedule and batch shapes as compression,
 * with no frequency tables and no coding (the benchmarks' reference).
 * @example
 * const { tokens, seconds } = await measureModelSpeed(model, text, { lanes: 16 });
 */
export async function measureModelSpeed(model: Model, data: Uint8Array | string, options: { lanes?: number; window?: number; overlap?: number; chunkSize?: number } = {}): Promise<{ tokens: number; seconds: number }> {
  const input = bytesArgument('data', data);
  const settings = await chooseSettings(model, options);
  const chunkSize = options.chunkSize ?? defaultChunkSize(input.length, settings.lanes);
  const session = await model.createSession({ ...settings, threads: model.threads });
  try {
    let tokens = 0;
    let seconds = 0;
    const frameSize = chunkSize * settings.lanes;
    for (let offset = 0; offset < input.length; offset += frameSize) {
      const frame = input.subarray(offset, offset + frameSize);
      const plans = [];
      let o = 0;
      for (const len of chunkLengths(frame, chunkSize)) {
        const plan = await model.planTokens(frame.subarray(o, o + len));
        o += len;
        if (plan.ok && plan.tokens.length > 0 && plan.byteCoded * 2 <= len) plans.push(plan.tokens);
      }
      const t0 = performance.now();
      await session.evaluate(plans, undefined, undefined);
      seconds += (performance.now() - t0) / 1000;
      tokens += plans.reduce((n, p) => n + p.length, 0);
    }
    return { tokens, seconds };
  } finally {
    session.dispose();
  }
}
