/**
 * One-shot compress/decompress, inspection, and the measurements the benchmarks
 * need. The bytes are written by src/archive/writer.ts and read by
 * src/archive/decoder.ts, the decode path the streams share.
 */
import { basename } from 'node:path';
import { backendOption, type Backend } from './backend.js';
import { CancelFlag, chunkBlock, DEFAULT_MEMORY_LIMIT, type CompressStats, type Progress } from './codec.js';
import { ArchiveDecoder } from './archive/decoder.js';
import { ArchiveReader, type ArchiveEvent, type MemberHeader } from './archive/reader.js';
import { MemberWriter } from './archive/writer.js';
import { ChunkMethod } from './format/constants.js';
import type { Model } from './model.js';
import { openModel, type OpenedModel } from './model-source.js';
import { findBuiltinBySha256 } from './models/builtin.js';
import { parseModelReference } from './models/references.js';
import { chooseSettings } from './settings.js';
import { booleanOption, bytesArgument, functionOption, integerOption, invalid, signalOption } from './validate.js';
import { MAX_BLOCK_SIZE, MIN_BLOCK_SIZE } from './format/v2/constants.js';

export interface CommonOptions {
  /** A loaded Model (reused, not disposed), or a model path / name / URL (loaded for this call). Default: LMZIP_MODEL. */
  model?: Model | string;
  /** Threads when this call loads the model. */
  threads?: number;
  /** GPU layers when this call loads the model. */
  gpuLayers?: number;
  /** Backend when this call loads the model: "auto" (default: LMZIP_BACKEND, else auto), "cpu" or "cuda". */
  backend?: Backend;
  /** The most memory one llama.cpp context may take, in bytes (RESOURCE_LIMIT beyond; default 4 GiB). */
  memoryLimit?: number;
  /** Called a few times a second. */
  onProgress?: (progress: Progress) => void;
  /** Cancels the call; it rejects with code CANCELLED. */
  signal?: AbortSignal;
}

export interface CompressOptions extends CommonOptions {
  /** Chunks coded in parallel (1-256, default 16; lowered to what the input can use). Recorded in the file. */
  lanes?: number;
  /** Context window per lane in tokens (default: measured per model, else min(trained, 1024)). */
  window?: number;
  /** Tokens carried over when a lane's window is full (default min(window/2, 256)). */
  overlap?: number;
  /**
   * A lane whose window is full keeps its last `overlap` tokens by shifting llama.cpp's
   * cache instead of feeding them again (docs/FORMAT.md, SHIFT_CONTEXT), moved to the
   * lowest cache cells first (COMPACT_SHIFT). Default: wherever the model allows it;
   * false restarts (one prefill of the kept tokens).
   */
  shiftContext?: boolean;
  /**
   * false: shift without first moving the kept cache cells down (SHIFT_CONTEXT alone),
   * as lmzip wrote before COMPACT_SHIFT: slower, for golden files and tests.
   * Default true (docs/FORMAT.md, COMPACT_SHIFT).
   */
  compactShift?: boolean;
  /** Original bytes per block, a multiple of 1024: the unit of random access and resumption (default 256 KiB). Recorded in the file. */
  blockSize?: number;
  /** Target chunk size in bytes (default: each block split evenly over the lanes, at least 16 KiB). */
  chunkSize?: number;
  /** Mix the model with adaptive context models (coding method 2, docs/MIXING.md; default true). false: the model alone (method 1). */
  mix?: boolean;
  /** Also compute the ideal code length (slower), reported by compressWithStats. */
  measureIdeal?: boolean;
  /** How the model was named (a path, hf: reference or URL): recorded unless it is a local path, whose file name is recorded instead. */
  modelReference?: string;
  /** Record the model file's full path instead of its name (gzip's -N; the path tells readers where you keep files). */
  recordModelPath?: boolean;
  /** Write a seek index: 'auto' (default: when there are two or more blocks), 'always' or 'never'. */
  index?: 'auto' | 'always' | 'never';
  /**
   * @internal Benchmarks only: code every chunk the model can spell with the model, even
   * where brotli or storing would be smaller (random-weight test models lose to brotli).
   */
  forceModel?: boolean;
}

export interface DecompressOptions extends CommonOptions {
  /** Refuse to produce more than this many bytes (decompress(): default 1 GiB; streams: no limit unless given). */
  maxOutputLength?: number;
}

/** decompress() holds its whole output in memory: it refuses more than this unless told otherwise. */
export const DEFAULT_MAX_OUTPUT_LENGTH = 1024 ** 3;

export function validateCompressOptions(options: CompressOptions): void {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  integerOption('lanes', options.lanes, 1, 256);
  integerOption('window', options.window, 8, 1 << 20);
  integerOption('overlap', options.overlap, 0, 1 << 20);
  if (integerOption('blockSize', options.blockSize, MIN_BLOCK_SIZE, MAX_BLOCK_SIZE) !== undefined && options.blockSize! % 1024 !== 0)
    throw invalid('blockSize', `a multiple of 1024 from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE}`, options.blockSize);
  integerOption('chunkSize', options.chunkSize, 64, 1 << 24);
  integerOption('threads', options.threads, 1, 1024);
  integerOption('gpuLayers', options.gpuLayers, -1, 100000);
  integerOption('memoryLimit', options.memoryLimit, 0, Number.MAX_SAFE_INTEGER);
  booleanOption('measureIdeal', options.measureIdeal);
  booleanOption('mix', options.mix);
  booleanOption('shiftContext', options.shiftContext);
  booleanOption('compactShift', options.compactShift);
  booleanOption('recordModelPath', options.recordModelPath);
  booleanOption('forceModel', options.forceModel);
  backendOption(options.backend);
  if (options.modelReference !== undefined && typeof options.modelReference !== 'string') throw invalid('modelReference', 'a string', options.modelReference);
  if (options.index !== undefined && !['auto', 'always', 'never'].includes(options.index)) throw invalid('index', "'auto', 'always' or 'never'", options.index);
  functionOption('onProgress', options.onProgress);
  signalOption('signal', options.signal);
}

export function validateDecompressOptions(options: DecompressOptions): void {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  integerOption('maxOutputLength', options.maxOutputLength, 0, Number.MAX_SAFE_INTEGER);
  integerOption('threads', options.threads, 1, 1024);
  integerOption('gpuLayers', options.gpuLayers, -1, 100000);
  integerOption('memoryLimit', options.memoryLimit, 0, Number.MAX_SAFE_INTEGER);
  backendOption(options.backend);
  functionOption('onProgress', options.onProgress);
  signalOption('signal', options.signal);
}

/**
 * The name a member records for its model: the built-in name; else the reference the
 * caller gave when it is no local path (an hf: reference or URL, which `lmzip models
 * pull` can fetch again); else the file name. A folder only when asked
 * (recordModelPath, gzip's -N: modelReference as given, else the model file's path): a
 * path tells every reader where its writer keeps files.
 */
export async function recordedModelName(model: Model, options: Pick<CompressOptions, 'modelReference' | 'recordModelPath'>): Promise<string> {
  // As named by the caller (the CLI passes the resolved, absolute path), else the file's path.
  if (options.recordModelPath) return options.modelReference ?? model.facts.path;
  const builtin = findBuiltinBySha256(await model.fingerprint());
  if (builtin) return builtin.name;
  const given = options.modelReference;
  if (given !== undefined) {
    let kind = 'path';
    try {
      kind = parseModelReference(given).kind;
    } catch {
      // not a reference lmzip can parse: recorded by its last path element below
    }
    if (kind !== 'path') return given;
    return basename(given);
  }
  return basename(model.facts.path);
}

/** A MemberWriter for `input` of `inputSize` bytes (undefined: a stream of unknown size). */
export async function createMemberWriter(opened: OpenedModel, options: CompressOptions, inputSize: number | undefined, cancel: CancelFlag,
  resume?: { blocks: { originalSize: number; compressedSize: number }[]; complete: boolean }): Promise<MemberWriter> {
  const settings = await chooseSettings(opened.model, options, inputSize);
  return new MemberWriter(opened.model, settings, {
    modelName: await recordedModelName(opened.model, options), cancel, measureIdeal: options.measureIdeal ?? false,
    memoryLimit: options.memoryLimit ?? DEFAULT_MEMORY_LIMIT, index: options.index, resume, forceModel: options.forceModel,
  });
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
  const opened = await openModel(options.model, { threads: options.threads, gpuLayers: options.gpuLayers, backend: options.backend, signal: options.signal });
  let writer: MemberWriter | undefined;
  try {
    writer = await createMemberWriter(opened, options, input.length, cancel);
    const blocks: Buffer[] = [];
    const size = writer.blockSize;
    for (let offset = 0; offset < input.length; offset += size) {
      const block = input.subarray(offset, offset + size);
      const bytesOut = blocks.reduce((n, b) => n + b.length, 0);
      blocks.push(...(await writer.block(block, offset + size >= input.length, options.onProgress &&
        ((f) => options.onProgress!({ bytesIn: offset + Math.round(f * block.length), bytesTotal: input.length, bytesOut })))).bytes);
    }
    // The header comes last here: a member that needs no model gets the short one.
    const output = Buffer.concat([await writer.header(writer.modelFree), ...blocks, writer.end()]);
    return { output, stats: { ...writer.stats } };
  } finally {
    cancel.detach();
    await writer?.dispose();
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

/**
 * Decompresses .lmz bytes (one member or several concatenated). Every block is
 * verified against its checksum. The output is held in memory, so it is bounded by
 * maxOutputLength (default 1 GiB); createDecompressStream has no such bound.
 * @example
 * const original = await decompress(packed, { model });
 */
export async function decompress(data: Uint8Array, options: DecompressOptions = {}): Promise<Buffer> {
  if (!(data instanceof Uint8Array)) throw invalid('data', 'a Uint8Array or Buffer', data);
  validateDecompressOptions(options);
  const cancel = new CancelFlag(options.signal);
  cancel.check(options.signal);
  const decoder = new ArchiveDecoder({ ...options, maxOutputLength: options.maxOutputLength ?? DEFAULT_MAX_OUTPUT_LENGTH, cancel });
  try {
    const parts = await decoder.push(data);
    decoder.finish();
    return Buffer.concat(parts);
  } finally {
    cancel.detach();
    await decoder.dispose();
  }
}

/** One member of a file, as `lmzip -l` shows it. */
export interface MemberInfo {
  version: 1 | 2;
  header: MemberHeader;
  /** Blocks (v2) or frames (v1). */
  blocks: number;
  /** The member ends with a seek index (v2). */
  indexed: boolean;
  compressedSize: number;
  originalSize: number;
}

/** What a .lmz file holds, without decoding it (`lmzip -l`). */
export interface ContainerInfo {
  /** The first member's header. */
  header: MemberHeader;
  members: MemberInfo[];
  compressedSize: number;
  originalSize: number;
  /** Blocks (v2) and frames (v1) in all members. */
  blocks: number;
  chunks: { model: number; brotli: number; stored: number };
  /** Original bytes per method. */
  bytesByMethod: { model: number; brotli: number; stored: number };
  /** Model-coded tokens (recorded by version 1 only; 0 for version 2). */
  tokens: number;
  bitsPerByte: number;
  ratio: number;
}

/** Tallies a file's structures as they are read. */
class Inspector {
  #reader = new ArchiveReader();
  #members: MemberInfo[] = [];
  #chunks = { model: 0, brotli: 0, stored: 0 };
  #bytes = { model: 0, brotli: 0, stored: 0 };
  #tokens = 0;
  #compressed = 0;

  push(bytes: Uint8Array): void {
    this.#compressed += bytes.length;
    for (const e of this.#reader.push(bytes)) this.#add(e);
  }

  #add(e: ArchiveEvent): void {
    const key = (m: ChunkMethod) => (m === ChunkMethod.Model ? 'model' : m === ChunkMethod.Brotli ? 'brotli' : 'stored');
    if (e.type === 'header') {
      this.#members.push({ version: e.header.version, header: e.header, blocks: 0, indexed: false, compressedSize: 0, originalSize: 0 });
      return;
    }
    const m = this.#members[this.#members.length - 1];
    const chunks = e.type === 'block' ? e.block.table.chunks : e.type === 'frame' ? e.frame.chunks : [];
    for (const c of chunks) {
      this.#chunks[key(c.method)]++;
      this.#bytes[key(c.method)] += c.originalSize;
      m.originalSize += c.originalSize;
    }
    if (e.type === 'frame') this.#tokens += e.frame.chunks.reduce((n, c) => n + c.tokenCount, 0);
    if (e.type === 'block' || e.type === 'frame') m.blocks++;
    if (e.type === 'end') {
      m.indexed = e.index !== undefined;
      m.compressedSize = e.compressedSize;
    }
  }

  finish(): ContainerInfo {
    this.#reader.finish();
    const originalSize = this.#members.reduce((n, m) => n + m.originalSize, 0);
    const compressedSize = this.#compressed;
    return { header: this.#members[0].header, members: this.#members, compressedSize, originalSize,
      blocks: this.#members.reduce((n, m) => n + m.blocks, 0), chunks: this.#chunks, bytesByMethod: this.#bytes, tokens: this.#tokens,
      bitsPerByte: originalSize > 0 ? (compressedSize * 8) / originalSize : 0, ratio: compressedSize > 0 ? originalSize / compressedSize : 0 };
  }
}

/**
 * Describes .lmz bytes from their headers and block tables.
 * @example
 * const info = inspect(await readFile('notes.txt.lmz'));
 * console.log(info.members.length, info.bitsPerByte);
 */
export function inspect(data: Uint8Array): ContainerInfo {
  if (!(data instanceof Uint8Array)) throw invalid('data', 'a Uint8Array or Buffer', data);
  const inspector = new Inspector();
  inspector.push(data);
  return inspector.finish();
}

/**
 * Describes a .lmz stream (a file read in pieces) without holding it whole.
 * @example
 * const info = await inspectStream(createReadStream('big.txt.lmz'));
 */
export async function inspectStream(source: AsyncIterable<Uint8Array>): Promise<ContainerInfo> {
  const inspector = new Inspector();
  for await (const piece of source) inspector.push(piece);
  return inspector.finish();
}

/**
 * The model's raw speed: the same lane schedule and batch shapes as compression,
 * with no frequency tables and no coding (the benchmarks' reference).
 * @example
 * const { tokens, seconds } = await measureModelSpeed(model, text, { lanes: 16 });
 */
export async function measureModelSpeed(model: Model, data: Uint8Array | string,
  options: { lanes?: number; window?: number; overlap?: number; shiftContext?: boolean; compactShift?: boolean;
    chunkSize?: number; blockSize?: number } = {}): Promise<{ tokens: number; seconds: number }> {
  const input = bytesArgument('data', data);
  const settings = await chooseSettings(model, options, input.length);
  const session = await model.createSession({ ...settings, threads: model.threads });
  try {
    let tokens = 0;
    let seconds = 0;
    for (let offset = 0; offset < input.length; offset += settings.blockSize) {
      const block = input.subarray(offset, offset + settings.blockSize);
      const plans = [];
      let o = 0;
      for (const len of await chunkBlock(model, block, settings.lanes, settings.chunkSize)) {
        const plan = await model.planTokens(block.subarray(o, o + len));
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

