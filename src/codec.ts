/**
 * Where the engine (llama.cpp lanes, native) meets the container (src/format):
 * BlockEncoder turns a block of input into a version-2 block; BlockDecoder turns a
 * v2 block or a v1 frame back into verified bytes. Both sides create their llama.cpp
 * context only when a block needs it, after checking its memory against a budget.
 * src/archive/ strings blocks into members and files.
 */
import * as zlib from 'node:zlib';
import { chunkLengths, chunkLimit } from './chunker.js';
import { ErrorCode, LmzipError, toLmzipError } from './errors.js';
import { ChunkMethod, FREQ_ALGORITHM } from './format/constants.js';
import { crc32 } from './format/crc32.js';
import type { FileHeader, Frame } from './format/types.js';
import { blockCrc, writeBlock } from './format/v2/block.js';
import { MAX_CHUNK_SIZE } from './format/v2/constants.js';
import type { BlockV2, ChunkEntryV2, HeaderV2 } from './format/v2/types.js';
import type { Model } from './model.js';
import type { NativeSession, NativeSessionParams } from './native.js';
import { describeProfileDifference, howToDecode, numericProfile } from './profile.js';
import { chunkTarget, type CodecSettings } from './settings.js';

/** Progress of a job, reported a few times a second. */
export interface Progress {
  /** Input bytes fully or partly processed. */
  bytesIn: number;
  /** Total input bytes, when known. */
  bytesTotal?: number;
  /** Output bytes produced so far. */
  bytesOut: number;
}

/** Numbers about one compression, for benchmarks and `lmzip -v`. */
export interface CompressStats {
  inputBytes: number;
  outputBytes: number;
  /** Bytes of the blocks' model streams (the range coder's output). */
  payloadBytes: number;
  /** Original bytes coded with the model. */
  modelBytes: number;
  /** Ideal code length of the model-coded tokens (−Σ log2 p), when measured; else 0. */
  idealBits: number;
  /** Code length under the integer frequency tables (−Σ log2 f/total); payloadBytes·8 minus this is the range coder's own cost. */
  tableBits: number;
  /** Code length under the model's tables alone: the mixer (coding method 2) saved modelBits − tableBits; equal for method 1. */
  modelBits: number;
  tokens: number;
  modelChunks: number;
  brotliChunks: number;
  storedChunks: number;
  blocks: number;
  seconds: number;
}

export function emptyStats(): CompressStats {
  return { inputBytes: 0, outputBytes: 0, payloadBytes: 0, modelBytes: 0, idealBits: 0, tableBits: 0, modelBits: 0, tokens: 0, modelChunks: 0,
    brotliChunks: 0, storedChunks: 0, blocks: 0, seconds: 0 };
}

/** A cancel flag the native loop polls, wired to an AbortSignal. */
export class CancelFlag {
  readonly flag = new Int32Array(1);
  #detach?: () => void;
  constructor(signal?: AbortSignal) {
    if (!signal) return;
    const onAbort = () => {
      this.flag[0] = 1;
    };
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.#detach = () => signal.removeEventListener('abort', onAbort);
  }
  check(signal?: AbortSignal): void {
    if (this.flag[0] !== 0 || signal?.aborted) throw new LmzipError(ErrorCode.CANCELLED, 'the operation was cancelled');
  }
  detach(): void {
    this.#detach?.();
  }
}

/** The llama.cpp context a job may create at most (KV cache, compute buffers), unless the caller says otherwise. */
export const DEFAULT_MEMORY_LIMIT = 4 * 1024 ** 3;

const mib = (n: number) => `${Math.ceil(n / 1024 ** 2)} MiB`;

/**
 * A llama.cpp context for `params`, after checking its estimated memory against
 * `memoryLimit` (RESOURCE_LIMIT, naming what to change, when over).
 */
export async function openSession(model: Model, params: NativeSessionParams, memoryLimit: number, remedy: string): Promise<NativeSession> {
  const need = model.estimateSessionMemory(params);
  if (need > memoryLimit)
    throw new LmzipError(ErrorCode.RESOURCE_LIMIT,
      `${params.lanes} lane(s) with a window of ${params.window} tokens need about ${mib(need)} for ${model.facts.name || 'this model'}, ` +
      `more than the memory limit of ${mib(memoryLimit)}; ${remedy}`);
  return model.createSession(params);
}

function brotli(data: Uint8Array): Buffer {
  return zlib.brotliCompressSync(data, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
}

/** The cheaper of brotli and stored for a chunk the model does not code. */
function withoutModel(data: Uint8Array): { method: ChunkMethod; payload: Uint8Array } {
  const packed = data.length >= 16 ? brotli(data) : undefined;
  return packed && packed.length < data.length ? { method: ChunkMethod.Brotli, payload: packed } : { method: ChunkMethod.Stored, payload: data };
}

/** A block as it goes into the file, and what the index records of it. */
export interface EncodedBlock {
  bytes: Buffer[];
  originalSize: number;
  compressedSize: number;
  usesModel: boolean;
}

/** Compresses blocks (docs/FORMAT.md, "Blocks" and "Writers"). */
/**
 * How a block is cut into chunks, one lane's work each: evenly over the lanes unless a
 * chunk size is asked for. lmzip analyze cuts the same way, so its numbers are the
 * compressor's.
 */
export function blockChunkLengths(block: Uint8Array, lanes: number, chunkSize: number | undefined, tokenEnds?: ArrayLike<number>): number[] {
  const target = Math.min(chunkTarget(block.length, lanes, chunkSize), MAX_CHUNK_SIZE);
  return chunkLengths(block, target, Math.min(chunkLimit(target), MAX_CHUNK_SIZE), tokenEnds);
}

/**
 * Blocks shorter than this are cut by bytes: they run few steps, so one more tokenization
 * of the block costs more than balancing saves (and, with many small jobs at once,
 * churned the allocator: the concurrency test's RSS growth 34-77 MiB against 33-37).
 */
export const MIN_TOKEN_BALANCED_BLOCK = 16 * 1024;

/**
 * blockChunkLengths with the chunks balanced by `model`'s token counts (each lane then
 * runs about as many steps), where the model spells the block mostly without byte
 * tokens and the block is at least MIN_TOKEN_BALANCED_BLOCK long; else by bytes.
 * The chunk table records the lengths, so how they were chosen is the writer's affair.
 */
export async function chunkBlock(model: Model, block: Uint8Array, lanes: number, chunkSize: number | undefined): Promise<number[]> {
  const byBytes = blockChunkLengths(block, lanes, chunkSize);
  if (byBytes.length <= 1 || block.length < MIN_TOKEN_BALANCED_BLOCK) return byBytes;
  const plan = await model.planTokens(block);
  if (!plan.ok || plan.tokens.length < byBytes.length) return byBytes;
  // Mostly one-byte tokens (binary data, or a vocabulary's byte tokens): such chunks
  // rarely take a lane, so their tokens are no measure of lane time; cut by bytes.
  let oneByteTokens = 0;
  for (const length of plan.pieceLengths) if (length === 1) oneByteTokens++;
  if (oneByteTokens * 2 > block.length) return byBytes;
  const ends = new Float64Array(plan.pieceLengths.length);
  let end = plan.stripLeadingSpace ? -1 : 0;
  plan.pieceLengths.forEach((length, i) => (ends[i] = end += length));
  return blockChunkLengths(block, lanes, chunkSize, ends);
}

export class BlockEncoder {
  readonly stats = emptyStats();
  #model: Model;
  #settings: CodecSettings;
  #cancel: CancelFlag;
  #measureIdeal: boolean;
  #memoryLimit: number;
  #forceModel: boolean;
  #session: Promise<NativeSession> | undefined;
  #disposed = false;

  /** `forceModel` (benchmarks only): every chunk the model can spell is model-coded, even where brotli or storing would be smaller. */
  constructor(model: Model, settings: CodecSettings, options: { cancel: CancelFlag; measureIdeal: boolean; memoryLimit: number; forceModel?: boolean }) {
    if (model.facts.vocabOnly)
      throw new LmzipError(ErrorCode.MODEL_VOCAB_ONLY, `${model.facts.path} holds only a vocabulary, no weights: it cannot compress`);
    this.#model = model;
    this.#settings = settings;
    this.#cancel = options.cancel;
    this.#measureIdeal = options.measureIdeal;
    this.#memoryLimit = options.memoryLimit;
    this.#forceModel = options.forceModel ?? false;
  }

  /** The session, created at the first block (checked against the memory limit). */
  #openSession(): Promise<NativeSession> {
    const s = this.#settings;
    this.#session ??= openSession(this.#model, { lanes: s.lanes, window: s.window, overlap: s.overlap, ubatch: s.ubatch,
      flashAttention: s.flashAttention, shiftContext: s.shiftContext, compactShift: s.compactShift, threads: this.#model.threads, codingMethod: s.codingMethod, methodParams: s.methodParams },
    this.#memoryLimit, 'use fewer lanes or a smaller window (--lanes, --ctx), or raise memoryLimit');
    return this.#session;
  }

  /** Checks now what the first block would find out: a context the memory limit refuses. */
  async prepare(): Promise<void> {
    await this.#openSession();
  }

  /**
   * Compresses one block (at most blockSize bytes) that starts `originalOffset`
   * bytes into its member (`last`: the member's final block); returns its bytes in
   * file order.
   */
  async encode(data: Uint8Array, originalOffset: number, last: boolean, onTokens?: (fraction: number) => void): Promise<EncodedBlock> {
    if (this.#disposed) throw new LmzipError(ErrorCode.SESSION_DISPOSED, 'this compressor has finished');
    if (data.length === 0 || data.length > this.#settings.blockSize) throw new Error('internal: block of the wrong size');
    const started = performance.now();
    this.#cancel.check();
    const session = await this.#openSession();
    const s = this.#settings;
    const lengths = await chunkBlock(this.#model, data, s.lanes, s.chunkSize);
    const pieces: Uint8Array[] = [];
    for (let i = 0, offset = 0; i < lengths.length; offset += lengths[i++]) pieces.push(data.subarray(offset, offset + lengths[i]));
    // Brotli at quality 11 costs about as much time as the model on small text, so it is
    // only tried where it could win: chunks the model did not code, and chunks whose
    // tokens cost above 1.5 bits per byte (brotli rarely beats that on text; it does on
    // data the model cannot predict).
    const plainCache = new Map<number, { method: ChunkMethod; payload: Uint8Array }>();
    const plainFor = (i: number) => {
      let p = plainCache.get(i);
      if (!p) plainCache.set(i, (p = withoutModel(pieces[i])));
      return p;
    };
    const encode = async (allowModel?: Uint8Array) => {
      try {
        return await session.encodeBlock(data, Uint32Array.from(lengths), allowModel, this.#measureIdeal, this.#cancel.flag,
          onTokens ? (done, total) => onTokens(total > 0 ? done / total : 1) : undefined);
      } catch (e) {
        throw toLmzipError(e);
      }
    };
    // A chunk's share of the one stream is its code length under the tables it was coded with.
    const wins = (e: Awaited<ReturnType<typeof encode>>, i: number) => e.modelCoded[i] !== 0 && (this.#forceModel ||
      e.tableBits[i] <= 1.5 * pieces[i].length || Math.ceil(e.tableBits[i] / 8) < plainFor(i).payload.length);

    // Pass 1 codes every chunk the model can spell. A chunk that loses to brotli/stored
    // must leave the schedule, and leaving changes the other lanes' batches, so the
    // survivors are coded again (pass 2) with the same schedule the decoder will run.
    let encoded = await encode(undefined);
    const none = () => ({ ...encoded, modelCoded: new Uint8Array(pieces.length), stream: new Uint8Array(0) });
    if (pieces.some((_, i) => encoded.modelCoded[i] && !wins(encoded, i))) {
      const allow = Uint8Array.from(pieces, (_, i) => (wins(encoded, i) ? 1 : 0));
      encoded = allow.some((a) => a) ? await encode(allow) : none();
    }
    const crc = blockCrc(originalOffset, [data]);
    const build = (e: typeof encoded, chunkPieces: Uint8Array[]) => {
      const chunks: ChunkEntryV2[] = [];
      const payloads: Uint8Array[] = [];
      chunkPieces.forEach((piece, i) => {
        if (e.modelCoded[i]) {
          chunks.push({ method: ChunkMethod.Model, stripLeadingSpace: e.stripLeadingSpace[i] !== 0, originalSize: piece.length, payloadSize: 0 });
          payloads.push(new Uint8Array(0));
        } else {
          const plain = chunkPieces === pieces ? plainFor(i) : withoutModel(piece);
          chunks.push({ method: plain.method, stripLeadingSpace: false, originalSize: piece.length, payloadSize: plain.payload.length });
          payloads.push(plain.payload);
        }
      });
      return { chunks, bytes: writeBlock(chunks, e.modelCoded.some((m) => m) ? e.stream : new Uint8Array(0), payloads, crc, last) };
    };
    const size = (b: { bytes: Buffer[] }) => b.bytes.reduce((n, x) => n + x.length, 0);
    let block = build(encoded, pieces);
    // Pass-2 streams differ from pass 1; never let the block end up larger than storing it.
    if (!this.#forceModel && size(block) > data.length + 16) block = build(none(), pieces);
    // Out of the model's domain (logs, other languages, binaries), brotli over the whole
    // block beats brotli per chunk (it sees more context): then the block becomes one
    // brotli chunk with no lanes. Brotli costs seconds per block where the model spends
    // minutes, so it is always tried.
    if (!this.#forceModel && data.length <= MAX_CHUNK_SIZE && block.chunks.length > 1) {
      const whole = build(none(), [data]);
      if (size(whole) < size(block)) {
        block = whole;
        encoded = none();
      }
    }

    const st = this.stats;
    const usesModel = block.chunks.some((c) => c.method === ChunkMethod.Model);
    block.chunks.forEach((c, i) => {
      if (c.method === ChunkMethod.Model) {
        st.modelChunks++;
        st.modelBytes += c.originalSize;
        st.tokens += encoded.tokenCounts[i];
        st.idealBits += encoded.idealBits[i];
        st.tableBits += encoded.tableBits[i];
        st.modelBits += encoded.modelBits[i];
      } else if (c.method === ChunkMethod.Brotli) st.brotliChunks++;
      else st.storedChunks++;
    });
    if (usesModel) st.payloadBytes += encoded.stream.length;
    const compressedSize = size(block);
    st.blocks++;
    st.inputBytes += data.length;
    st.outputBytes += compressedSize;
    st.seconds += (performance.now() - started) / 1000;
    return { bytes: block.bytes, originalSize: data.length, compressedSize, usesModel };
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    const session = this.#session;
    this.#session = undefined;
    if (session) (await session.catch(() => undefined))?.dispose();
  }
}

/** The model and numeric profile a member that uses the model was written with. */
export interface ModelIdentity {
  /** Hex SHA-256 (v1) or its first 16 hex digits (v2). */
  sha256: string;
  name: string;
  profile: string;
}

export function modelIdentity(header: FileHeader | HeaderV2): ModelIdentity {
  return 'blockSize' in header
    ? { sha256: header.modelHash, name: header.modelName, profile: header.profile }
    : { sha256: header.modelSha256, name: header.modelReference, profile: header.profile };
}

/** Throws MODEL_MISMATCH or PROFILE_MISMATCH when `model` cannot decode blocks written with `want`. */
export async function checkDecodable(want: ModelIdentity, model: Model): Promise<void> {
  const ours = await model.fingerprint();
  if (!ours.startsWith(want.sha256))
    throw new LmzipError(ErrorCode.MODEL_MISMATCH,
      `this file was compressed with model ${want.name || '(unnamed)'} (sha256 ${want.sha256.slice(0, 16)}…), ` +
      `but the model given is ${model.facts.path} (sha256 ${ours.slice(0, 16)}…)`);
  const profile = numericProfile(model);
  if (profile !== want.profile)
    throw new LmzipError(ErrorCode.PROFILE_MISMATCH,
      `this file was written by a build with different numerics, so its probabilities cannot be reproduced here ` +
      `(${describeProfileDifference(want.profile, profile)}); ${howToDecode(want.profile)}`);
  if (model.facts.vocabOnly) throw new LmzipError(ErrorCode.MODEL_VOCAB_ONLY, `${model.facts.path} holds only a vocabulary, no weights`);
}

/** The session settings a member's header records. */
export function sessionParams(header: FileHeader | HeaderV2, threads: number): NativeSessionParams {
  const method = 'blockSize' in header
    ? { codingMethod: header.codingMethod, methodParams: header.methodParams, shiftContext: header.shiftContext, compactShift: header.compactShift }
    : { codingMethod: 1 };
  return { lanes: header.lanes, window: header.window, overlap: header.overlap, ubatch: header.ubatch, flashAttention: header.flashAttention,
    threads, ...method };
}

/** Version 1 names its frequency algorithm in the header; only 1 exists. */
export function checkFreqAlgorithm(header: FileHeader): void {
  if (!header.modelFree && header.freqAlgorithm !== FREQ_ALGORITHM)
    throw new LmzipError(ErrorCode.UNSUPPORTED_VERSION, `this file uses frequency algorithm ${header.freqAlgorithm}; this build knows ${FREQ_ALGORITHM}`);
}

const damaged = (message: string) => new LmzipError(ErrorCode.CORRUPT_DATA, `compressed data is damaged: ${message}`);

function unbrotli(payload: Uint8Array, size: number, where: string): Buffer {
  let out: Buffer;
  try {
    out = zlib.brotliDecompressSync(payload, { maxOutputLength: size });
  } catch (e) {
    throw damaged(`${where} does not decode (${(e as Error).message})`);
  }
  if (out.length !== size) throw damaged(`${where} decodes to ${out.length} bytes instead of ${size}`);
  return out;
}

/**
 * Decodes blocks (v2) and frames (v1) of one member, verifying each before it is
 * returned. `session` is called only for a block that uses the model.
 */
export class BlockDecoder {
  #session: () => Promise<NativeSession>;
  #cancel: CancelFlag;
  // Version 1 checks the whole content at its end block.
  #v1Produced = 0;
  #v1Crc = 0;
  #v1Frames = 0;

  constructor(session: () => Promise<NativeSession>, cancel: CancelFlag) {
    this.#session = session;
    this.#cancel = cancel;
  }

  /** A version-2 block starting `originalOffset` bytes into its member. */
  async block(block: BlockV2, originalOffset: number, where: string, onTokens?: (fraction: number) => void): Promise<Buffer[]> {
    this.#cancel.check();
    const { chunks } = block.table;
    const out: Buffer[] = new Array(chunks.length);
    const model = chunks.flatMap((c, i) => (c.method === ChunkMethod.Model ? [i] : []));
    if (model.length > 0) {
      const session = await this.#session();
      let decoded: Uint8Array[];
      try {
        decoded = await session.decodeBlock(block.stream, Uint32Array.from(model, (i) => chunks[i].originalSize),
          Uint8Array.from(model, (i) => (chunks[i].stripLeadingSpace ? 1 : 0)), this.#cancel.flag,
          onTokens ? (done, total) => onTokens(total > 0 ? done / total : 1) : undefined);
      } catch (e) {
        throw toLmzipError(e);
      }
      model.forEach((chunk, k) => (out[chunk] = Buffer.from(decoded[k].buffer, decoded[k].byteOffset, decoded[k].byteLength)));
    }
    chunks.forEach((c, i) => {
      if (c.method === ChunkMethod.Stored) out[i] = Buffer.from(block.payloads[i]);
      else if (c.method === ChunkMethod.Brotli) out[i] = unbrotli(block.payloads[i], c.originalSize, `chunk ${i} of ${where}`);
      if (out[i].length !== c.originalSize) throw damaged(`chunk ${i} of ${where} decodes to ${out[i].length} bytes instead of ${c.originalSize}`);
    });
    if (blockCrc(originalOffset, out) !== block.table.blockCrc)
      throw new LmzipError(ErrorCode.CHECKSUM_MISMATCH, `${where} does not match its checksum: the file is damaged, or was decoded with different numerics`);
    return out;
  }

  /** A version-1 frame: every chunk is checked against its CRC before it is returned. */
  async frame(frame: Frame, onTokens?: (fraction: number) => void): Promise<Buffer[]> {
    this.#cancel.check();
    const where = (i: number) => `chunk ${i} of frame ${this.#v1Frames}`;
    const model = frame.chunks.flatMap((c, i) => (c.method === ChunkMethod.Model ? [i] : []));
    const out: Buffer[] = new Array(frame.chunks.length);
    if (model.length > 0) {
      const session = await this.#session();
      let decoded: Uint8Array[];
      try {
        decoded = await session.decode(model.map((i) => frame.payloads[i]), Uint32Array.from(model, (i) => frame.chunks[i].tokenCount),
          Uint32Array.from(model, (i) => frame.chunks[i].originalSize), Uint8Array.from(model, (i) => (frame.chunks[i].stripLeadingSpace ? 1 : 0)),
          this.#cancel.flag, onTokens ? (done, total) => onTokens(total > 0 ? done / total : 1) : undefined);
      } catch (e) {
        throw toLmzipError(e);
      }
      model.forEach((chunk, k) => (out[chunk] = Buffer.from(decoded[k].buffer, decoded[k].byteOffset, decoded[k].byteLength)));
    }
    frame.chunks.forEach((c, i) => {
      if (c.method === ChunkMethod.Stored) out[i] = Buffer.from(frame.payloads[i]);
      else if (c.method === ChunkMethod.Brotli) out[i] = unbrotli(frame.payloads[i], c.originalSize, where(i));
      if (out[i].length !== c.originalSize) throw damaged(`${where(i)} decodes to ${out[i].length} bytes instead of ${c.originalSize}`);
      if (crc32(out[i]) !== c.crc32)
        throw new LmzipError(ErrorCode.CHECKSUM_MISMATCH, `${where(i)} does not match its checksum: the file is damaged, or was decoded with different numerics`);
    });
    for (const b of out) {
      this.#v1Crc = crc32(b, this.#v1Crc);
      this.#v1Produced += b.length;
    }
    this.#v1Frames++;
    return out;
  }

  /** Checks a version-1 end block against what was decoded. */
  endV1(header: FileHeader, totalSize: bigint, contentCrc32: number): void {
    if (totalSize !== BigInt(this.#v1Produced) || (header.originalSize !== undefined && header.originalSize !== totalSize))
      throw damaged(`the file records ${totalSize} bytes but its frames hold ${this.#v1Produced}`);
    if (contentCrc32 !== this.#v1Crc) throw new LmzipError(ErrorCode.CHECKSUM_MISMATCH, 'the whole-content checksum does not match');
  }
}
