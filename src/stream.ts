/**
 * Transform streams shaped like node:zlib's. Memory stays bounded: the compressor
 * holds at most two blocks of input and output (a block is coded once it is known
 * whether it is the last), the decompressor one block of
 * compressed data plus its output. The decompressor has no output limit unless
 * maxOutputLength is given (it does not hold its output).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { CancelFlag, type CompressStats } from './codec.js';
import { createMemberWriter, validateCompressOptions, validateDecompressOptions, type CompressOptions, type DecompressOptions } from './compress.js';
import { ArchiveDecoder } from './archive/decoder.js';
import type { ResumePoint } from './archive/resume.js';
import type { MemberWriter } from './archive/writer.js';
import { ErrorCode, LmzipError, toLmzipError } from './errors.js';
import { openModel, type OpenedModel } from './model-source.js';
import { integerOption, invalid } from './validate.js';

export interface CompressStreamOptions extends CompressOptions {
  /** The input's size, if known: fits the settings to it (as compress() does) and is checked at the end. */
  sizeHint?: number;
  /**
   * Continue an interrupted compression (findResumePoint): the output already holds
   * `resume.keepBytes` bytes and the stream is fed the input from `resume.inputOffset`.
   */
  resume?: ResumePoint;
}

export class CompressStream extends Transform {
  #options: CompressStreamOptions;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #ready: Promise<void> | undefined;
  #opened: OpenedModel | undefined;
  #writer: MemberWriter | undefined;
  #cancel: CancelFlag;
  #bytesIn = 0;
  #bytesOut = 0;
  #stats: CompressStats | undefined;
  // The header waits for a second block: a member of one block that uses no model gets
  // the short model-free header.
  #headerWritten = false;
  #held: Buffer[] | undefined;

  constructor(options: CompressStreamOptions = {}) {
    super();
    validateCompressOptions(options);
    integerOption('sizeHint', options.sizeHint, 0, Number.MAX_SAFE_INTEGER);
    if (options.resume !== undefined && (typeof options.resume !== 'object' || !Array.isArray(options.resume.blocks)))
      throw invalid('resume', 'a ResumePoint from findResumePoint()', options.resume);
    this.#options = options;
    this.#cancel = new CancelFlag(options.signal);
    this.#bytesIn = options.resume?.inputOffset ?? 0;
  }

  /** Statistics so far (complete after 'end'). */
  get stats(): CompressStats | undefined {
    return this.#stats;
  }

  async #start(): Promise<void> {
    const o = this.#options;
    this.#opened = await openModel(o.model, { threads: o.threads, gpuLayers: o.gpuLayers, backend: o.backend, signal: o.signal });
    const resume = o.resume && o.resume.keepBytes > 0 ? o.resume : undefined;
    this.#writer = await createMemberWriter(this.#opened, o, o.sizeHint, this.#cancel, resume && { blocks: resume.blocks, complete: resume.complete });
    if (resume) {
      this.#writer.resumeAfterHeader(resume.headerSize);
      this.#headerWritten = true;
    }
    this.#stats = this.#writer.stats;
  }

  #emit(b: Buffer): void {
    this.#bytesOut += b.length;
    this.push(b);
  }

  async #writeHeader(modelFree: boolean): Promise<void> {
    if (this.#headerWritten) return;
    this.#headerWritten = true;
    this.#emit(await this.#writer!.header(modelFree));
    for (const b of this.#held ?? []) this.#emit(b);
    this.#held = undefined;
  }

  async #compressBlocks(final: boolean): Promise<void> {
    this.#ready ??= this.#start();
    await this.#ready;
    const w = this.#writer!;
    // A block is coded once a byte after it has arrived, or the input has ended: only
    // then is it known whether it is the member's last.
    while (this.#pendingBytes > w.blockSize || (final && this.#pendingBytes > 0)) {
      const all = Buffer.concat(this.#pending);
      const block = all.subarray(0, w.blockSize);
      const rest = all.subarray(block.length);
      this.#pending = rest.length ? [rest] : [];
      this.#pendingBytes = rest.length;
      // More input follows the held first block: the member has two blocks, so the full header.
      if (this.#held) await this.#writeHeader(false);
      const before = this.#bytesIn;
      const onProgress = this.#options.onProgress;
      const last = final && rest.length === 0;
      const out = await w.block(block, last, onProgress && ((f) => onProgress({ bytesIn: before + Math.round(f * block.length), bytesTotal: this.#options.sizeHint, bytesOut: this.#bytesOut })));
      this.#bytesIn += block.length;
      if (this.#headerWritten) for (const b of out.bytes) this.#emit(b);
      else this.#held = out.bytes;
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    const blockSize = this.#writer?.blockSize ?? 0;
    if (this.#writer && this.#pendingBytes <= blockSize) return callback();
    this.#compressBlocks(false).then(() => callback(), (e) => callback(toLmzipError(e)));
  }

  override _flush(callback: TransformCallback): void {
    this.#compressBlocks(true)
      .then(async () => {
        const hint = this.#options.sizeHint;
        if (hint !== undefined && hint !== this.#bytesIn)
          throw new LmzipError(ErrorCode.IO_ERROR, `the input changed while it was read: expected ${hint} bytes, read ${this.#bytesIn}`);
        await this.#writeHeader(this.#writer!.modelFree);
        this.#emit(this.#writer!.end());
        await this.#release();
        callback();
      })
      .catch((e) => callback(toLmzipError(e)));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#cancel.flag[0] = 1;
    // Wait for a running block to stop before freeing what it uses.
    (this.#ready ?? Promise.resolve()).catch(() => {}).finally(() => {
      this.#release().finally(() => callback(error));
    });
  }

  async #release(): Promise<void> {
    this.#cancel.detach();
    const writer = this.#writer;
    this.#writer = undefined;
    await writer?.dispose();
    if (this.#opened?.owned) this.#opened.model.dispose();
    this.#opened = undefined;
  }
}

export class DecompressStream extends Transform {
  #decoder: ArchiveDecoder;
  #cancel: CancelFlag;
  #busy: Promise<void> = Promise.resolve();

  constructor(options: DecompressOptions = {}) {
    super();
    validateDecompressOptions(options);
    this.#cancel = new CancelFlag(options.signal);
    this.#decoder = new ArchiveDecoder({ ...options, cancel: this.#cancel });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#busy = this.#decoder.push(chunk).then((out) => {
      for (const b of out) this.push(b);
    });
    this.#busy.then(() => callback(), (e) => callback(toLmzipError(e)));
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#decoder.finish();
    } catch (e) {
      callback(toLmzipError(e));
      return;
    }
    this.#release().then(() => callback(), (e) => callback(toLmzipError(e)));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#cancel.flag[0] = 1;
    this.#busy.catch(() => {}).finally(() => {
      this.#release().finally(() => callback(error));
    });
  }

  #release(): Promise<void> {
    this.#cancel.detach();
    return this.#decoder.dispose();
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
 * A Transform stream that decompresses .lmz data (concatenated members too). It has
 * no output limit unless `maxOutputLength` is given.
 * @example
 * await pipeline(createReadStream('a.txt.lmz'), createDecompressStream({ model }), createWriteStream('a.txt'));
 */
export function createDecompressStream(options: DecompressOptions = {}): DecompressStream {
  return new DecompressStream(options);
}
