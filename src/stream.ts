/**
 * Transform streams shaped like node:zlib's. Memory stays bounded: the compressor
 * holds at most one frame of input (lanes × chunk size), the decompressor one frame
 * of compressed data plus its output.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { CancelFlag, Compressor, Decompressor, type CompressStats } from './codec.js';
import { DEFAULT_MAX_OUTPUT_LENGTH, defaultChunkSize, validateCompressOptions, validateDecompressOptions, type CompressOptions, type DecompressOptions } from './compress.js';
import { ErrorCode, LmzipError, toLmzipError } from './errors.js';
import { LmzReader } from './format/reader.js';
import { openModel, openModelForFile, type OpenedModel } from './model-source.js';
import { chooseSettings } from './settings.js';
import { integerOption } from './validate.js';

export interface CompressStreamOptions extends CompressOptions {
  /** The input's size, if known: recorded in the header and checked at the end. */
  sizeHint?: number;
}

export class CompressStream extends Transform {
  #options: CompressStreamOptions;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #ready: Promise<void> | undefined;
  #opened: OpenedModel | undefined;
  #compressor: Compressor | undefined;
  #cancel: CancelFlag;
  #bytesIn = 0;
  #bytesOut = 0;
  #stats: CompressStats | undefined;

  constructor(options: CompressStreamOptions = {}) {
    super();
    validateCompressOptions(options);
    integerOption('sizeHint', options.sizeHint, 0, Number.MAX_SAFE_INTEGER);
    this.#options = options;
    this.#cancel = new CancelFlag(options.signal);
  }

  /** Statistics so far (complete after 'end'). */
  get stats(): CompressStats | undefined {
    return this.#stats;
  }

  async #start(): Promise<void> {
    const o = this.#options;
    this.#opened = await openModel(o.model, { threads: o.threads, gpuLayers: o.gpuLayers, backend: o.backend }, {}, o.modelReference);
    const settings = await chooseSettings(this.#opened.model, o);
    this.#compressor = await Compressor.create(this.#opened.model, settings, {
      chunkSize: o.chunkSize ?? defaultChunkSize(o.sizeHint, settings.lanes), cancel: this.#cancel, measureIdeal: o.measureIdeal ?? false });
    this.#stats = this.#compressor.stats;
  }

  /**
   * The header waits for the first frame: if the stream ends after it and no chunk
   * used the model, the file gets the short model-free header.
   */
  #heldFirstFrame: Buffer[] | undefined;
  #headerWritten = false;

  async #writeHeader(modelFree: boolean): Promise<void> {
    if (this.#headerWritten) return;
    this.#headerWritten = true;
    this.#emit(await this.#compressor!.header(this.#opened!.reference, this.#options.sizeHint, modelFree));
    for (const b of this.#heldFirstFrame ?? []) this.#emit(b);
    this.#heldFirstFrame = undefined;
  }

  #emit(b: Buffer): void {
    this.#bytesOut += b.length;
    this.push(b);
  }

  async #compressFrames(final: boolean): Promise<void> {
    this.#ready ??= this.#start();
    await this.#ready;
    const c = this.#compressor!;
    while (this.#pendingBytes >= c.frameSize || (final && this.#pendingBytes > 0)) {
      const all = Buffer.concat(this.#pending);
      const frame = all.subarray(0, c.frameSize);
      const rest = all.subarray(frame.length);
      this.#pending = rest.length ? [rest] : [];
      this.#pendingBytes = rest.length;
      const before = this.#bytesIn;
      const onProgress = this.#options.onProgress;
      const out = await c.frame(frame, onProgress && ((f) => onProgress({ bytesIn: before + Math.round(f * frame.length), bytesTotal: this.#options.sizeHint, bytesOut: this.#bytesOut })));
      this.#bytesIn += frame.length;
      if (!this.#headerWritten && this.#heldFirstFrame === undefined) this.#heldFirstFrame = out;
      else {
        await this.#writeHeader(false);
        for (const b of out) this.#emit(b);
      }
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    const frameSize = this.#compressor?.frameSize ?? 0;
    if (this.#compressor && this.#pendingBytes < frameSize) return callback();
    this.#compressFrames(false).then(() => callback(), (e) => callback(toLmzipError(e)));
  }

  override _flush(callback: TransformCallback): void {
    this.#compressFrames(true)
      .then(async () => {
        const hint = this.#options.sizeHint;
        if (hint !== undefined && hint !== this.#bytesIn)
          throw new LmzipError(ErrorCode.IO_ERROR, `the input changed while it was read: expected ${hint} bytes, read ${this.#bytesIn}`);
        await this.#writeHeader(this.#compressor!.stats.modelChunks === 0);
        this.#emit(this.#compressor!.end());
        this.#release();
        callback();
      })
      .catch((e) => callback(toLmzipError(e)));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#cancel.flag[0] = 1;
    // Wait for a running frame to stop before freeing what it uses.
    (this.#ready ?? Promise.resolve()).catch(() => {}).finally(() => {
      this.#release();
      callback(error);
    });
  }

  #release(): void {
    this.#cancel.detach();
    this.#compressor?.dispose();
    this.#compressor = undefined;
    if (this.#opened?.owned) this.#opened.model.dispose();
    this.#opened = undefined;
  }
}

export class DecompressStream extends Transform {
  #options: DecompressOptions;
  #reader = new LmzReader();
  #opened: OpenedModel | undefined;
  #decompressor: Decompressor | undefined;
  #cancel: CancelFlag;
  #busy: Promise<void> = Promise.resolve();

  constructor(options: DecompressOptions = {}) {
    super();
    validateDecompressOptions(options);
    this.#options = options;
    this.#cancel = new CancelFlag(options.signal);
  }

  async #handle(chunk: Buffer): Promise<void> {
    for (const event of this.#reader.push(chunk)) {
      if (event.type === 'header') {
        const o = this.#options;
        if (!event.header.modelFree) this.#opened = await openModelForFile(event.header, o.model, { threads: o.threads, gpuLayers: o.gpuLayers, backend: o.backend });
        this.#decompressor = await Decompressor.create(event.header, this.#opened?.model, {
          cancel: this.#cancel, maxOutputLength: o.maxOutputLength ?? DEFAULT_MAX_OUTPUT_LENGTH });
      } else if (event.type === 'frame') {
        const d = this.#decompressor!;
        const before = d.bytesProduced;
        const size = event.frame.chunks.reduce((n, c) => n + c.originalSize, 0);
        const onProgress = this.#options.onProgress;
        const total = d.header.originalSize === undefined ? undefined : Number(d.header.originalSize);
        for (const b of await d.frame(event.frame, onProgress && ((f) => onProgress({ bytesIn: 0, bytesTotal: total, bytesOut: before + Math.round(f * size) }))))
          this.push(b);
      } else {
        this.#decompressor!.end(event.end.totalSize, event.end.contentCrc32);
      }
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#busy = this.#handle(chunk);
    this.#busy.then(() => callback(), (e) => callback(toLmzipError(e)));
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#reader.finish();
      this.#release();
      callback();
    } catch (e) {
      callback(toLmzipError(e));
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#cancel.flag[0] = 1;
    this.#busy.catch(() => {}).finally(() => {
      this.#release();
      callback(error);
    });
  }

  #release(): void {
    this.#cancel.detach();
    this.#decompressor?.dispose();
    this.#decompressor = undefined;
    if (this.#opened?.owned) this.#opened.model.dispose();
    this.#opened = undefined;
  }
}

/**
 * A Transform stream that compresses what is written to it.
 * @example
 * await pipeline(createReadStream('a.txt'), createCompressStream({ model }), createWriteStream('a.txt.lmz'));
 */
export function createCompressStream(options: CompressStreamOptions = {}): CompressStream {
  return new CompressStream(options);
}

/**
 * A Transform stream that decompresses .lmz data; `maxOutputLength` guards against bombs.
 * @example
 * await pipeline(createReadStream('a.txt.lmz'), createDecompressStream({ model }), createWriteStream('a.txt'));
 */
export function createDecompressStream(options: DecompressOptions = {}): DecompressStream {
  return new DecompressStream(options);
}
