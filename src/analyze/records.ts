/**
 * Per-token records: what the model paid for every token, from the same native
 * encode call compression makes (same chunking, settings and lane schedule; the
 * records come back once per frame, never per token).
 */
import { CancelFlag, chunkBlock } from '../codec.js';
import { validateCompressOptions } from '../compress.js';
import { ErrorCode, LmzipError, toLmzipError } from '../errors.js';
import { MAX_CHUNKS_PER_BLOCK } from '../format/v2/constants.js';
import type { Model } from '../model.js';
import { openModel } from '../model-source.js';
import type { NativeAnalyzeResult, NativeSession } from '../native.js';
import { chooseSettings, chunkTarget, type CodecSettings } from '../settings.js';
import { bytesArgument, functionOption, integerOption, invalid } from '../validate.js';

export interface AnalyzeOptions {
  /** A loaded Model (reused, not disposed), or a model path / name / URL (loaded for this call). Default: LMZIP_MODEL. */
  model?: Model | string;
  /** Threads when this call loads the model. */
  threads?: number;
  /** GPU layers when this call loads the model. */
  gpuLayers?: number;
  /** Lanes, window, overlap, chunk size: as for compress (the same defaults). */
  lanes?: number;
  window?: number;
  overlap?: number;
  chunkSize?: number;
  /** Candidates kept per token, most likely first (0-32, default 5). */
  topK?: number;
  /** Also compute the float-softmax code length (slower); reported as idealBits. */
  measureIdeal?: boolean;
  /** Input size when the source is a stream (decides the chunk size, as for compression). */
  sizeHint?: number;
  /** Called a few times a second with tokens done and to do in the current frame. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export const DEFAULT_TOP_K = 5;
export const MAX_TOP_K = 32;

/** One model candidate at a step. */
export interface Candidate {
  token: number;
  /** The token's text (UTF-8; bytes that are not valid UTF-8 on their own show as U+FFFD). */
  text: string;
  probability: number;
}

/** One coded token, as an object (see TokenTable for the columnar form). */
export interface TokenRecord {
  /** Position of the token among all tokens of the input. */
  index: number;
  /** Byte offset of the token's bytes in the input. */
  offset: number;
  /** The input bytes the token stands for. */
  bytes: Uint8Array;
  /** Token id. */
  token: number;
  /** The bytes as text (lossy where a token holds part of a UTF-8 character). */
  text: string;
  /** Cost under the integer table the coder used: −log2 f(token)/total. */
  bits: number;
  /** Entropy of that table (the step's expected cost), bits. */
  entropy: number;
  /** 1 = the model's first choice. */
  rank: number;
  /** The model's most likely tokens at this step. */
  candidates: Candidate[];
}

/** The pieces (bytes) of token ids seen so far; filled from each native call. */
export class Vocabulary {
  readonly #pieces = new Map<number, Uint8Array>();
  readonly #texts = new Map<number, string>();
  static readonly #decoder = new TextDecoder();

  add(r: Pick<NativeAnalyzeResult, 'pieceIds' | 'pieceLengths' | 'pieceBytes'>): void {
    for (let i = 0, at = 0; i < r.pieceIds.length; at += r.pieceLengths[i++])
      if (!this.#pieces.has(r.pieceIds[i])) this.#pieces.set(r.pieceIds[i], r.pieceBytes.slice(at, at + r.pieceLengths[i]));
  }

  piece(token: number): Uint8Array {
    return this.#pieces.get(token) ?? new Uint8Array(0);
  }

  text(token: number): string {
    let t = this.#texts.get(token);
    if (t === undefined) this.#texts.set(token, (t = Vocabulary.#decoder.decode(this.piece(token))));
    return t;
  }

  /** Every id with a known piece. */
  ids(): number[] {
    return [...this.#pieces.keys()];
  }
}

/**
 * Per-token records in columns (typed arrays), cheap for a million tokens.
 * @example
 * for (let i = 0; i < table.length; i++) if (table.bits[i] > 12) console.log(table.record(i).text);
 */
export class TokenTable {
  constructor(
    /** The input bytes the offsets point into. */
    readonly data: Uint8Array,
    readonly vocabulary: Vocabulary,
    readonly topK: number,
    readonly token: Int32Array,
    readonly offset: Float64Array,
    readonly byteLength: Uint32Array,
    readonly bits: Float64Array,
    readonly entropy: Float32Array,
    readonly rank: Uint32Array,
    readonly topIds: Int32Array,
    readonly topProbs: Float32Array,
    /** Index of this table's first token among all tokens of the input. */
    readonly firstIndex = 0,
    /** Offset in the input of data[0]. */
    readonly dataOffset = 0,
  ) {}

  get length(): number {
    return this.token.length;
  }

  /** Token i as an object. */
  record(i: number): TokenRecord {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw invalid('i', `a token index from 0 to ${this.length - 1}`, i);
    const start = this.offset[i] - this.dataOffset;
    const bytes = this.data.subarray(start, start + this.byteLength[i]);
    const candidates: Candidate[] = [];
    for (let j = 0; j < this.topK; j++) {
      const id = this.topIds[i * this.topK + j];
      if (id >= 0) candidates.push({ token: id, text: this.vocabulary.text(id), probability: this.topProbs[i * this.topK + j] });
    }
    return { index: this.firstIndex + i, offset: this.offset[i], bytes, token: this.token[i], text: new TextDecoder().decode(bytes),
      bits: this.bits[i], entropy: this.entropy[i], rank: this.rank[i], candidates };
  }

  *[Symbol.iterator](): IterableIterator<TokenRecord> {
    for (let i = 0; i < this.length; i++) yield this.record(i);
  }

  /** One table over consecutive frames of the same input. */
  static concat(parts: TokenTable[], data: Uint8Array, vocabulary: Vocabulary, topK: number): TokenTable {
    const join = <T extends Float64Array | Float32Array | Int32Array | Uint32Array>(pick: (t: TokenTable) => T, make: new (n: number) => T): T => {
      const out = new make(parts.reduce((n, p) => n + pick(p).length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(pick(p), at);
        at += pick(p).length;
      }
      return out;
    };
    return new TokenTable(data, vocabulary, topK, join((t) => t.token, Int32Array), join((t) => t.offset, Float64Array),
      join((t) => t.byteLength, Uint32Array), join((t) => t.bits, Float64Array), join((t) => t.entropy, Float32Array),
      join((t) => t.rank, Uint32Array), join((t) => t.topIds, Int32Array), join((t) => t.topProbs, Float32Array));
  }
}

/** How one chunk went. */
export interface ChunkAnalysis {
  /** Byte offset of the chunk in the input. */
  offset: number;
  bytes: number;
  /** False: the model cannot spell these bytes (or they are mostly single-byte tokens); compression stores them with brotli or as they are. */
  modelCoded: boolean;
  tokens: number;
  /** Σ of the chunk's token bits: the compressor's tableBits for this chunk. */
  bits: number;
  /** The range coder's output for the chunk, bytes. */
  payloadBytes: number;
  /** Bytes spelled with single-byte fallback tokens. */
  byteCoded: number;
  /** Float-softmax code length, when measured. */
  idealBits?: number;
}

/** Sums over an input (or a document, or everything so far). */
export interface AnalysisTotals {
  /** Input bytes. */
  bytes: number;
  /** Bytes in chunks the model coded. */
  modelBytes: number;
  tokens: number;
  /** Σ per-token bits: equals compressWithStats(…, { measureIdeal: true }).stats.tableBits when compression codes every chunk with the model. */
  bits: number;
  /** Range-coder payload of the same chunks, bits (their blocks' streams: bits plus the flush of each). */
  payloadBits: number;
  /** Σ per-token entropy: what the model expected to pay. */
  entropyBits: number;
  /** Float-softmax code length, when measured (else 0). */
  idealBits: number;
  chunks: number;
  modelChunks: number;
}

export function emptyTotals(): AnalysisTotals {
  return { bytes: 0, modelBytes: 0, tokens: 0, bits: 0, payloadBits: 0, entropyBits: 0, idealBits: 0, chunks: 0, modelChunks: 0 };
}

/** One frame's analysis: its chunks, its tokens, its totals. */
export interface FrameAnalysis {
  /** Offset of the frame in the input. */
  offset: number;
  data: Uint8Array;
  chunks: ChunkAnalysis[];
  tokens: TokenTable;
  totals: AnalysisTotals;
}

/** A whole input's analysis. */
export interface Analysis {
  data: Uint8Array;
  settings: CodecSettings & { chunkSize: number };
  model: { path: string; name: string; vocabSize: number };
  chunks: ChunkAnalysis[];
  tokens: TokenTable;
  totals: AnalysisTotals;
}

function addTotals(into: AnalysisTotals, t: AnalysisTotals): void {
  for (const k of Object.keys(into) as (keyof AnalysisTotals)[]) into[k] += t[k];
}

/** Checks options as compression checks its own (the shared ones are the same), plus analysis's. */
export function validateAnalyzeOptions(options: AnalyzeOptions): void {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  validateCompressOptions({ ...options, onProgress: undefined }); // analysis's progress callback takes token counts
  functionOption('onProgress', options.onProgress);
  integerOption('topK', options.topK, 0, MAX_TOP_K);
  integerOption('sizeHint', options.sizeHint, 0, Number.MAX_SAFE_INTEGER);
}

/**
 * A model session that analyzes frames (or batches of documents) one native call
 * each. Reuse one for many inputs; dispose it at the end.
 * @example
 * const analyzer = await Analyzer.create(model, { lanes: 16 });
 * const frame = await analyzer.analyzeFrame(bytes, 0, 1024);
 * analyzer.dispose();
 */
export class Analyzer {
  readonly settings: CodecSettings;
  readonly vocabulary = new Vocabulary();
  readonly topK: number;
  readonly model: Model;
  #session: NativeSession | undefined;
  #cancel: CancelFlag;
  #measureIdeal: boolean;
  #onProgress?: (done: number, total: number) => void;

  private constructor(model: Model, session: NativeSession, settings: CodecSettings, options: AnalyzeOptions) {
    this.model = model;
    this.#session = session;
    this.settings = settings;
    this.topK = options.topK ?? DEFAULT_TOP_K;
    this.#measureIdeal = options.measureIdeal ?? false;
    this.#onProgress = options.onProgress;
    this.#cancel = new CancelFlag(options.signal);
  }

  /** `inputSize`: the one input this analyzer will see, if known (settings are fitted to it as compression fits them). */
  static async create(model: Model, options: AnalyzeOptions = {}, inputSize?: number): Promise<Analyzer> {
    validateAnalyzeOptions(options);
    if (model.facts.vocabOnly)
      throw new LmzipError(ErrorCode.MODEL_VOCAB_ONLY, `${model.facts.path} holds only a vocabulary, no weights: it cannot predict text`);
    // The model's own view: coding method 1 (the mixer's saving is compression's -v).
    const settings = await chooseSettings(model, { ...options, mix: false }, inputSize);
    const session = await model.createSession({ ...settings, threads: model.threads });
    return new Analyzer(model, session, settings, options);
  }

  /**
   * The chunk size compression would use for the first block of an input of this size
   * (undefined: a stream): the asked-for size, else the block spread over the lanes.
   */
  chunkSizeFor(inputSize: number | undefined, requested?: number): number {
    const block = Math.min(inputSize ?? this.settings.blockSize, this.settings.blockSize);
    return chunkTarget(block, this.settings.lanes, requested ?? this.settings.chunkSize);
  }

  /** Original bytes per block: compression's unit, and analysis's (one native call each). */
  frameSize(): number {
    return this.settings.blockSize;
  }

  /**
   * Analyzes one block cut as compression cuts it (blockChunkLengths). `offset`,
   * `firstIndex`: where the block starts in the input (bytes, tokens); `chunkSize`
   * overrides the settings' chunk size.
   */
  async analyzeFrame(data: Uint8Array, offset: number, chunkSize?: number, firstIndex = 0): Promise<FrameAnalysis> {
    const lengths = await chunkBlock(this.model, data, this.settings.lanes, chunkSize ?? this.settings.chunkSize);
    return this.analyzeChunks(data, lengths, offset, firstIndex);
  }

  /** Analyzes explicit chunks of `data` (consecutive lengths) in one lane schedule. */
  async analyzeChunks(data: Uint8Array, lengths: number[], offset = 0, firstIndex = 0): Promise<FrameAnalysis> {
    if (!this.#session) throw new LmzipError(ErrorCode.SESSION_DISPOSED, 'this analyzer has been disposed');
    if (lengths.length > MAX_CHUNKS_PER_BLOCK) throw new LmzipError(ErrorCode.INVALID_ARGUMENT, `at most ${MAX_CHUNKS_PER_BLOCK} chunks per call`);
    this.#cancel.check();
    let r: NativeAnalyzeResult;
    try {
      r = await this.#session.analyzeBlock(data, Uint32Array.from(lengths), undefined, this.#measureIdeal, this.#cancel.flag, this.#onProgress, this.topK);
    } catch (e) {
      throw toLmzipError(e);
    }
    this.vocabulary.add(r);
    const chunks: ChunkAnalysis[] = [];
    const totals = emptyTotals();
    const tokenOffsets = new Float64Array(r.tokens.length);
    let tokenAt = 0;
    for (let i = 0, at = 0; i < lengths.length; at += lengths[i++]) {
      const modelCoded = r.modelCoded[i] !== 0;
      const chunk: ChunkAnalysis = { offset: offset + at, bytes: lengths[i], modelCoded, tokens: r.chunkTokens[i], bits: r.chunkBits[i],
        // The block's model-coded chunks share one stream; a chunk's share is its code length.
        payloadBytes: modelCoded ? Math.ceil(r.chunkBits[i] / 8) : 0, byteCoded: r.byteCoded[i] };
      if (this.#measureIdeal) chunk.idealBits = r.idealBits[i];
      chunks.push(chunk);
      let byteAt = offset + at;
      for (let k = 0; k < chunk.tokens; k++, tokenAt++) {
        tokenOffsets[tokenAt] = byteAt;
        byteAt += r.byteLengths[tokenAt];
      }
      totals.bytes += chunk.bytes;
      totals.chunks++;
      if (!modelCoded) continue;
      totals.modelChunks++;
      totals.modelBytes += chunk.bytes;
      totals.tokens += chunk.tokens;
      totals.bits += chunk.bits; // chunk by chunk, as the compressor sums its tableBits
      totals.idealBits += chunk.idealBits ?? 0;
    }
    totals.payloadBits += r.stream.length * 8; // what the compressor writes for these tokens
    for (const e of r.entropy) totals.entropyBits += e;
    const tokens = new TokenTable(data, this.vocabulary, r.topK, r.tokens, tokenOffsets, r.byteLengths, r.bits, r.entropy, r.rank, r.topIds,
      r.topProbs, firstIndex, offset);
    return { offset, data, chunks, tokens, totals };
  }

  /** One input's frames (from frames()) as one Analysis. */
  collect(frames: FrameAnalysis[], data: Uint8Array, chunkSize: number): Analysis {
    const totals = emptyTotals();
    for (const f of frames) addTotals(totals, f.totals);
    // The bits again chunk by chunk over all frames: the compressor's running sum of its
    // tableBits. Frame subtotals added up round differently in the last bit.
    totals.bits = 0;
    for (const f of frames) for (const c of f.chunks) if (c.modelCoded) totals.bits += c.bits;
    const tokens = frames.length === 1 ? frames[0].tokens : TokenTable.concat(frames.map((f) => f.tokens), data, this.vocabulary, this.topK);
    const f = this.model.facts;
    return { data, settings: { ...this.settings, chunkSize }, model: { path: f.path, name: f.name, vocabSize: f.vocabSize },
      chunks: frames.flatMap((fr) => fr.chunks), tokens, totals };
  }

  /** An input's frames, cut as compression cuts them, each analyzed in one native call. */
  async *frames(input: Uint8Array | AsyncIterable<Uint8Array>, chunkSize?: number): AsyncGenerator<FrameAnalysis> {
    const frameSize = this.frameSize();
    const frames = input instanceof Uint8Array
      ? (function* () { for (let o = 0; o < input.length; o += frameSize) yield input.subarray(o, o + frameSize); })()
      : pieces(input, frameSize);
    let offset = 0;
    let index = 0;
    for await (const data of frames) {
      const frame = await this.analyzeFrame(data, offset, chunkSize, index);
      offset += data.length;
      index += frame.tokens.length;
      yield frame;
    }
  }

  dispose(): void {
    this.#cancel.detach();
    this.#session?.dispose();
    this.#session = undefined;
  }
}

type Source = Uint8Array | string | AsyncIterable<Uint8Array>;

function isAsyncIterable(x: unknown): x is AsyncIterable<Uint8Array> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}

/** Cuts a byte stream into pieces of exactly `size` bytes (the last may be shorter). */
async function* pieces(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const take = () => {
    const all = pending.length === 1 ? pending[0] : Buffer.concat(pending);
    const out = all.subarray(0, size);
    const rest = all.subarray(size);
    pending = rest.length ? [rest] : [];
    pendingBytes = rest.length;
    return out;
  };
  for await (const chunk of source) {
    if (!(chunk instanceof Uint8Array)) throw invalid('source chunk', 'a Uint8Array', chunk);
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= size) yield take();
  }
  if (pendingBytes > 0) yield take();
}

/**
 * Analyzes a large input frame by frame, in bounded memory: each frame's records
 * are yielded as soon as the model has coded it.
 * @example
 * for await (const frame of analyzeStream(createReadStream('big.txt'), { model, sizeHint: size }))
 *   console.log(frame.offset, frame.totals.bits / frame.totals.bytes);
 */
export async function* analyzeStream(source: Source, options: AnalyzeOptions = {}): AsyncGenerator<FrameAnalysis> {
  validateAnalyzeOptions(options);
  const input = isAsyncIterable(source) ? source : bytesArgument('data', source);
  const opened = await openModel(options.model, { threads: options.threads, gpuLayers: options.gpuLayers });
  let analyzer: Analyzer | undefined;
  try {
    const size = input instanceof Uint8Array ? input.length : options.sizeHint;
    analyzer = await Analyzer.create(opened.model, options, size);
    yield* analyzer.frames(input, options.chunkSize);
  } finally {
    analyzer?.dispose();
    if (opened.owned) opened.model.dispose();
  }
}

/**
 * Analyzes bytes with a model: every token's cost, entropy, rank and the model's
 * candidates, from the same coding loop as compression.
 * @example
 * const a = await analyze(await readFile('story.txt'), { model });
 * console.log(a.totals.bits / a.totals.bytes, 'bits/byte');
 * for (const t of a.tokens) if (t.bits > 10) console.log(t.offset, t.text, t.candidates[0]);
 */
export async function analyze(data: Uint8Array | string, options: AnalyzeOptions = {}): Promise<Analysis> {
  const input = bytesArgument('data', data);
  validateAnalyzeOptions(options);
  const opened = await openModel(options.model, { threads: options.threads, gpuLayers: options.gpuLayers });
  let analyzer: Analyzer | undefined;
  try {
    analyzer = await Analyzer.create(opened.model, options, input.length);
    const frames: FrameAnalysis[] = [];
    for await (const f of analyzer.frames(input, options.chunkSize)) frames.push(f);
    return analyzer.collect(frames, input, analyzer.chunkSizeFor(input.length, options.chunkSize));
  } finally {
    analyzer?.dispose();
    if (opened.owned) opened.model.dispose();
  }
}
