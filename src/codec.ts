/**
 * Compressor and Decompressor: where the engine (llama.cpp lanes, native) meets the
 * container (src/format). One-shot functions and streams are both built on these.
 */
import * as zlib from 'node:zlib';
import { ErrorCode, LmzipError, toLmzipError } from './errors.js';
import { chunkLengths } from './chunker.js';
import { CHUNK_ENTRY_SIZE, ChunkMethod, FREQ_ALGORITHM, MAX_CHUNKS_PER_FRAME, MAX_CHUNK_SIZE, MAX_FRAME_SIZE } from './format/constants.js';
import { crc32 } from './format/crc32.js';
import type { ChunkEntry, FileHeader, Frame } from './format/types.js';
import { writeEndBlock, writeFileHeader, writeFrameHeader, writeModelFreeHeader } from './format/writer.js';
import type { Model } from './model.js';
import type { NativeSession } from './native.js';
import { describeProfileDifference, numericProfile } from './profile.js';
import type { CodecSettings } from './settings.js';

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
  /** Bytes of range-coder payload for model-coded chunks. */
  payloadBytes: number;
  /** Original bytes coded with the model. */
  modelBytes: number;
  /** Ideal code length of the model-coded tokens (−Σ log2 p), when measured; else 0. */
  idealBits: number;
  /** Code length under the integer frequency tables (−Σ log2 f/total), when measured; payloadBytes·8 minus this is the range coder's own cost. */
  tableBits: number;
  tokens: number;
  modelChunks: number;
  brotliChunks: number;
  storedChunks: number;
  frames: number;
  seconds: number;
}

export function emptyStats(): CompressStats {
  return { inputBytes: 0, outputBytes: 0, payloadBytes: 0, modelBytes: 0, idealBits: 0, tableBits: 0, tokens: 0, modelChunks: 0,
    brotliChunks: 0, storedChunks: 0, frames: 0, seconds: 0 };
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

/** Bytes of input one frame holds: a chunk per lane. */
export function frameSizeFor(chunkSize: number, lanes: number): number {
  return Math.min(chunkSize * lanes, MAX_FRAME_SIZE);
}

/** How a frame is cut into chunks, one lane's work each (lmzip analyze cuts the same way). */
export function frameChunkLengths(frame: Uint8Array, chunkSize: number): number[] {
  return chunkLengths(frame, Math.min(chunkSize, MAX_CHUNK_SIZE));
}

export class Compressor {
  readonly settings: CodecSettings;
  readonly stats = emptyStats();
  #model: Model;
  #session: NativeSession | undefined;
  #cancel: CancelFlag;
  #contentCrc = 0;
  #measureIdeal: boolean;
  #chunkSize: number;

  private constructor(model: Model, session: NativeSession, settings: CodecSettings, chunkSize: number, cancel: CancelFlag, measureIdeal: boolean) {
    this.#model = model;
    this.#session = session;
    this.settings = settings;
    this.#chunkSize = chunkSize;
    this.#cancel = cancel;
    this.#measureIdeal = measureIdeal;
  }

  static async create(model: Model, settings: CodecSettings, options: { chunkSize: number; cancel: CancelFlag; measureIdeal: boolean }): Promise<Compressor> {
    if (model.facts.vocabOnly)
      throw new LmzipError(ErrorCode.MODEL_VOCAB_ONLY, `${model.facts.path} holds only a vocabulary, no weights: it cannot compress`);
    const session = await model.createSession({ ...settings, threads: model.threads });
    return new Compressor(model, session, settings, options.chunkSize, options.cancel, options.measureIdeal);
  }

  /** Bytes of input one frame holds: a chunk per lane. */
  get frameSize(): number {
    return frameSizeFor(this.#chunkSize, this.settings.lanes);
  }

  /** The file header; `modelFree` when no chunk of the file was coded with the model. */
  async header(modelReference: string, originalSize: number | undefined, modelFree = false): Promise<Buffer> {
    const out = modelFree ? writeModelFreeHeader() : writeFileHeader({
      modelSha256: await this.#model.fingerprint(),
      tokenizerFingerprint: this.#model.facts.tokenizerFingerprint,
      vocabSize: this.#model.facts.vocabSize,
      modelReference,
      profile: numericProfile(this.#model),
      ...this.settings,
      freqAlgorithm: FREQ_ALGORITHM,
      originalSize: originalSize === undefined ? undefined : BigInt(originalSize),
    });
    this.stats.outputBytes += out.length;
    return out;
  }

  /** Compresses one frame (at most frameSize bytes); returns its bytes in file order. */
  async frame(data: Uint8Array, onTokens?: (fraction: number) => void): Promise<Buffer[]> {
    if (!this.#session) throw new LmzipError(ErrorCode.SESSION_DISPOSED, 'this compressor has finished');
    if (data.length === 0) return [];
    const started = performance.now();
    this.#cancel.check();
    const lengths = frameChunkLengths(data, this.#chunkSize);
    if (lengths.length > MAX_CHUNKS_PER_FRAME) throw new Error('internal: too many chunks for one frame');
    const pieces: Uint8Array[] = [];
    for (let i = 0, offset = 0; i < lengths.length; offset += lengths[i++]) pieces.push(data.subarray(offset, offset + lengths[i]));
    // Brotli at quality 11 costs about as much time as the model on small text, so it is
    // only tried where it could win: chunks the model did not code, and model payloads
    // above 1.5 bits per byte (brotli rarely beats that on text; it does on data the
    // model cannot predict).
    const plainCache = new Map<number, { method: ChunkMethod; payload: Uint8Array }>();
    const plainFor = (i: number) => {
      let p = plainCache.get(i);
      if (!p) plainCache.set(i, (p = withoutModel(pieces[i])));
      return p;
    };
    const beatsPlain = (payload: Uint8Array, i: number) =>
      payload.length * 8 <= 1.5 * pieces[i].length || payload.length < plainFor(i).payload.length;
    const encode = async (allowModel?: Uint8Array) => {
      try {
        return await this.#session!.encode(data, Uint32Array.from(lengths), allowModel, this.#measureIdeal, this.#cancel.flag,
          onTokens ? (done, total) => onTokens(total > 0 ? done / total : 1) : undefined);
      } catch (e) {
        throw toLmzipError(e);
      }
    };

    // Pass 1 codes every chunk the model can spell. A chunk whose payload loses to
    // brotli/stored must leave the schedule, and leaving changes the other lanes'
    // batches, so the survivors are coded again (pass 2) with the same schedule the
    // decoder will run.
    let encoded = await encode(undefined);
    const wins = (e: typeof encoded, i: number) => e.modelCoded[i] !== 0 && beatsPlain(e.payloads[i], i);
    const losers = pieces.filter((_, i) => encoded.modelCoded[i] && !wins(encoded, i)).length;
    if (losers > 0) {
      const allow = Uint8Array.from(pieces, (_, i) => (wins(encoded, i) ? 1 : 0));
      encoded = allow.some((a) => a) ? await encode(allow) : { ...encoded, modelCoded: new Uint8Array(pieces.length) };
    }
    // Pass-2 payloads differ slightly from pass 1; never let the frame end up larger
    // than storing it.
    const size = (e: typeof encoded) => pieces.reduce((n, _, i) => n + (e.modelCoded[i] ? e.payloads[i].length : plainFor(i).payload.length), 0);
    if (size(encoded) > data.length) encoded = { ...encoded, modelCoded: new Uint8Array(pieces.length) };

    const chunks: ChunkEntry[] = [];
    const payloads: Uint8Array[] = [];
    // Out of the model's domain (logs, other languages, binaries), brotli over the whole
    // frame beats brotli per chunk (it sees more context): then the frame becomes one
    // brotli chunk with no lanes. Brotli costs seconds per frame where the model spends
    // minutes, so it is always tried.
    const chunkedSize = size(encoded) + CHUNK_ENTRY_SIZE * pieces.length;
    const whole = data.length <= MAX_CHUNK_SIZE ? withoutModel(data) : undefined;
    if (whole && whole.payload.length + CHUNK_ENTRY_SIZE < chunkedSize) {
      pieces.length = 1;
      pieces[0] = data;
      plainCache.clear();
      plainCache.set(0, whole);
      encoded = { ...encoded, modelCoded: new Uint8Array(1) };
    }
    for (let i = 0; i < pieces.length; i++) {
      const crc = crc32(pieces[i]);
      this.#contentCrc = crc32(pieces[i], this.#contentCrc);
      if (encoded.modelCoded[i]) {
        chunks.push({ method: ChunkMethod.Model, stripLeadingSpace: encoded.stripLeadingSpace[i] !== 0, originalSize: pieces[i].length,
          tokenCount: encoded.tokenCounts[i], payloadSize: encoded.payloads[i].length, crc32: crc });
        payloads.push(encoded.payloads[i]);
      } else {
        const plain = plainFor(i);
        chunks.push({ method: plain.method, stripLeadingSpace: false, originalSize: pieces[i].length, tokenCount: 0,
          payloadSize: plain.payload.length, crc32: crc });
        payloads.push(plain.payload);
      }
    }

    const s = this.stats;
    for (let i = 0; i < chunks.length; i++) {
      if (chunks[i].method === ChunkMethod.Model) {
        s.modelChunks++;
        s.payloadBytes += chunks[i].payloadSize;
        s.modelBytes += chunks[i].originalSize;
        s.tokens += chunks[i].tokenCount;
        s.idealBits += encoded.idealBits[i];
        s.tableBits += encoded.tableBits[i];
      } else if (chunks[i].method === ChunkMethod.Brotli) s.brotliChunks++;
      else s.storedChunks++;
    }
    const header = writeFrameHeader(chunks);
    const out = [header, ...payloads.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))];
    s.frames++;
    s.inputBytes += data.length;
    s.outputBytes += out.reduce((n, b) => n + b.length, 0);
    s.seconds += (performance.now() - started) / 1000;
    return out;
  }

  end(): Buffer {
    const out = writeEndBlock({ totalSize: BigInt(this.stats.inputBytes), frameCount: this.stats.frames, contentCrc32: this.#contentCrc });
    this.stats.outputBytes += out.length;
    return out;
  }

  dispose(): void {
    this.#session?.dispose();
    this.#session = undefined;
  }
}

/** Throws MODEL_MISMATCH or PROFILE_MISMATCH when `model` cannot decode a file with `header`. */
export async function checkDecodable(header: FileHeader, model: Model): Promise<void> {
  const ours = await model.fingerprint();
  if (ours !== header.modelSha256)
    throw new LmzipError(ErrorCode.MODEL_MISMATCH,
      `this file was compressed with model ${header.modelReference || '(unnamed)'} (sha256 ${header.modelSha256.slice(0, 16)}…), ` +
      `but the model given is ${model.facts.path} (sha256 ${ours.slice(0, 16)}…)`);
  if (header.freqAlgorithm !== FREQ_ALGORITHM)
    throw new LmzipError(ErrorCode.UNSUPPORTED_VERSION, `this file uses frequency algorithm ${header.freqAlgorithm}; this build knows ${FREQ_ALGORITHM}`);
  const profile = numericProfile(model);
  if (profile !== header.profile)
    throw new LmzipError(ErrorCode.PROFILE_MISMATCH,
      `this file was written by a build with different numerics, so its probabilities cannot be reproduced here ` +
      `(${describeProfileDifference(header.profile, profile)}); decompress it with a build whose profile is ${header.profile}`);
}

export class Decompressor {
  #session: NativeSession | undefined;
  #cancel: CancelFlag;
  #maxOutputLength: number;
  #produced = 0;
  #contentCrc = 0;
  #frames = 0;
  readonly header: FileHeader;

  private constructor(header: FileHeader, session: NativeSession | undefined, cancel: CancelFlag, maxOutputLength: number) {
    this.header = header;
    this.#session = session;
    this.#cancel = cancel;
    this.#maxOutputLength = maxOutputLength;
  }

  /** `model` may be undefined only if no frame needs it (checked per frame). */
  static async create(header: FileHeader, model: Model | undefined, options: { cancel: CancelFlag; maxOutputLength: number }): Promise<Decompressor> {
    if (header.originalSize !== undefined && header.originalSize > BigInt(options.maxOutputLength))
      throw new LmzipError(ErrorCode.OUTPUT_TOO_LARGE, `the file holds ${header.originalSize} bytes, more than maxOutputLength (${options.maxOutputLength})`);
    let session: NativeSession | undefined;
    if (model && !header.modelFree) {
      await checkDecodable(header, model);
      if (model.facts.vocabOnly) throw new LmzipError(ErrorCode.MODEL_VOCAB_ONLY, `${model.facts.path} holds only a vocabulary, no weights`);
      session = await model.createSession({ lanes: header.lanes, window: header.window, overlap: header.overlap,
        ubatch: header.ubatch, flashAttention: header.flashAttention, threads: model.threads });
    }
    return new Decompressor(header, session, options.cancel, options.maxOutputLength);
  }

  /** Decodes one frame; every chunk is checked against its CRC before it is returned. */
  async frame(frame: Frame, onTokens?: (fraction: number) => void): Promise<Buffer[]> {
    this.#cancel.check();
    const frameSize = frame.chunks.reduce((n, c) => n + c.originalSize, 0);
    if (this.#produced + frameSize > this.#maxOutputLength)
      throw new LmzipError(ErrorCode.OUTPUT_TOO_LARGE, `decompressed data would exceed maxOutputLength (${this.#maxOutputLength} bytes)`);
    const modelIndexes = frame.chunks.flatMap((c, i) => (c.method === ChunkMethod.Model ? [i] : []));
    const out: Buffer[] = new Array(frame.chunks.length);
    if (modelIndexes.length > 0) {
      if (!this.#session) throw new LmzipError(ErrorCode.INVALID_ARGUMENT, 'this file needs its model to decompress');
      let decoded: Uint8Array[];
      try {
        decoded = await this.#session.decode(
          modelIndexes.map((i) => frame.payloads[i]),
          Uint32Array.from(modelIndexes, (i) => frame.chunks[i].tokenCount),
          Uint32Array.from(modelIndexes, (i) => frame.chunks[i].originalSize),
          Uint8Array.from(modelIndexes, (i) => (frame.chunks[i].stripLeadingSpace ? 1 : 0)),
          this.#cancel.flag,
          onTokens ? (done, total) => onTokens(total > 0 ? done / total : 1) : undefined);
      } catch (e) {
        throw toLmzipError(e);
      }
      modelIndexes.forEach((chunkIndex, k) => {
        out[chunkIndex] = Buffer.from(decoded[k].buffer, decoded[k].byteOffset, decoded[k].byteLength);
      });
    }
    frame.chunks.forEach((c, i) => {
      if (c.method === ChunkMethod.Stored) out[i] = Buffer.from(frame.payloads[i]);
      else if (c.method === ChunkMethod.Brotli) {
        try {
          out[i] = zlib.brotliDecompressSync(frame.payloads[i], { maxOutputLength: c.originalSize });
        } catch (e) {
          throw new LmzipError(ErrorCode.CORRUPT_DATA, `compressed data is damaged: chunk ${i} of frame ${this.#frames} does not decode (${(e as Error).message})`);
        }
      }
      if (out[i].length !== c.originalSize)
        throw new LmzipError(ErrorCode.CORRUPT_DATA, `compressed data is damaged: chunk ${i} of frame ${this.#frames} decodes to ${out[i].length} bytes instead of ${c.originalSize}`);
      if (crc32(out[i]) !== c.crc32)
        throw new LmzipError(ErrorCode.CHECKSUM_MISMATCH, `chunk ${i} of frame ${this.#frames} does not match its checksum: the file is damaged, or was decoded with different numerics`);
      this.#contentCrc = crc32(out[i], this.#contentCrc);
    });
    this.#produced += frameSize;
    this.#frames++;
    return out;
  }

  /** Checks the end block against what was decoded. */
  end(totalSize: bigint, contentCrc32: number): void {
    if (totalSize !== BigInt(this.#produced) || (this.header.originalSize !== undefined && this.header.originalSize !== totalSize))
      throw new LmzipError(ErrorCode.CORRUPT_DATA, `the file records ${totalSize} bytes but its frames hold ${this.#produced}`);
    if (contentCrc32 !== this.#contentCrc) throw new LmzipError(ErrorCode.CHECKSUM_MISMATCH, 'the whole-content checksum does not match');
  }

  get bytesProduced(): number {
    return this.#produced;
  }

  dispose(): void {
    this.#session?.dispose();
    this.#session = undefined;
  }
}
