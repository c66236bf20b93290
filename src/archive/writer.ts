/**
 * Writes one version-2 member: header, blocks, end (with a seek index when the member
 * has two or more blocks). Blocks are cut at exact multiples of the block size, so
 * the output is a function of the input and the settings alone, and a member can be
 * continued from any complete block (resume.ts).
 *
 * The header's MODEL_FREE flag needs to know whether the member is a single block
 * that uses no model; the writer's user decides when to write it (compress() at the
 * end, the stream as soon as a second block exists).
 */
import { BlockEncoder, type CancelFlag, type CompressStats, type EncodedBlock } from '../codec.js';
import { writeEnd } from '../format/v2/block.js';
import { writeHeaderV2 } from '../format/v2/header.js';
import type { IndexEntry } from '../format/v2/types.js';
import type { Model } from '../model.js';
import { numericProfile } from '../profile.js';
import type { CodecSettings } from '../settings.js';

export interface MemberWriterOptions {
  /** The name the header records for the model (built-in name or file name). */
  modelName: string;
  cancel: CancelFlag;
  measureIdeal: boolean;
  memoryLimit: number;
  /** Write a seek index: always, never, or (default) when the member has two or more blocks. */
  index?: 'auto' | 'always' | 'never';
  /** Continue a member whose header and these blocks are already written (resume.ts); `complete`: the last among them. */
  resume?: { blocks: IndexEntry[]; complete: boolean };
  /** Benchmarks only: model-code every chunk the model can spell (CompressOptions.forceModel). */
  forceModel?: boolean;
}

export class MemberWriter {
  readonly settings: CodecSettings;
  #model: Model;
  #options: MemberWriterOptions;
  #encoder: BlockEncoder;
  #blocks: IndexEntry[];
  #originalOffset: number;
  #anyModel = false;
  #headerSize = 0;
  #ended: boolean;

  constructor(model: Model, settings: CodecSettings, options: MemberWriterOptions) {
    this.#model = model;
    this.settings = settings;
    this.#options = options;
    this.#encoder = new BlockEncoder(model, settings, options);
    this.#blocks = [...(options.resume?.blocks ?? [])];
    this.#originalOffset = this.#blocks.reduce((n, b) => n + b.originalSize, 0);
    // A resumed member has more than one block, so its header was the full one.
    this.#anyModel = this.#blocks.length > 0;
    this.#ended = options.resume?.complete ?? false;
  }

  get stats(): CompressStats {
    return this.#encoder.stats;
  }

  get blockSize(): number {
    return this.settings.blockSize;
  }

  /** Original bytes in the member's blocks so far (where the next block starts). */
  get originalOffset(): number {
    return this.#originalOffset;
  }

  /** Blocks so far, as the index records them. */
  get blocks(): readonly IndexEntry[] {
    return this.#blocks;
  }

  /** Creates the llama.cpp context now, so that a memory refusal comes before any output. */
  prepare(): Promise<void> {
    return this.#encoder.prepare();
  }

  /**
   * The header. `modelFree` is allowed only for a member of at most one block that
   * uses no model (the decoder then needs none).
   */
  async header(modelFree: boolean): Promise<Buffer> {
    if (modelFree && (this.#blocks.length > 1 || this.#anyModel)) throw new Error('internal: a model-free header for blocks that need more');
    const s = this.settings;
    const out = modelFree ? writeHeaderV2({ modelFree: true, blockSize: s.blockSize }) : writeHeaderV2({
      modelFree: false, blockSize: s.blockSize, modelSha256: await this.#model.fingerprint(), modelName: this.#options.modelName,
      lanes: s.lanes, window: s.window, overlap: s.overlap, ubatch: s.ubatch, flashAttention: s.flashAttention, shiftContext: s.shiftContext,
      compactShift: s.compactShift,
      codingMethod: s.codingMethod, methodParams: s.methodParams, profile: numericProfile(this.#model),
    });
    this.#headerSize = out.length;
    this.stats.outputBytes += out.length;
    return out;
  }

  /** True when the header may be the short model-free one (so far). */
  get modelFree(): boolean {
    return this.#blocks.length <= 1 && !this.#anyModel;
  }

  /**
   * Compresses the next block: exactly blockSize bytes, or fewer for the member's
   * last; `last` marks the final one (every member with blocks has one).
   */
  async block(data: Uint8Array, last: boolean, onTokens?: (fraction: number) => void): Promise<EncodedBlock> {
    if (this.#ended) throw new Error('internal: a block after the last one');
    if (!last && data.length !== this.settings.blockSize) throw new Error('internal: only the last block may be short');
    const block = await this.#encoder.encode(data, this.#originalOffset, last, onTokens);
    this.#ended = last;
    this.#originalOffset += data.length;
    this.#anyModel ||= block.usesModel;
    this.#blocks.push({ originalSize: block.originalSize, compressedSize: block.compressedSize });
    return block;
  }

  /** The end of the member (and its index), after header() and every block, the last marked so. */
  end(): Buffer {
    if (this.#blocks.length > 0 && !this.#ended) throw new Error('internal: the member ends without its last block');
    const policy = this.#options.index ?? 'auto';
    const indexed = policy === 'always' || (policy === 'auto' && this.#blocks.length >= 2);
    if (indexed && this.#headerSize === 0) throw new Error('internal: end() before header()');
    const out = writeEnd(indexed ? { headerSize: this.#headerSize, blocks: this.#blocks } : undefined);
    this.stats.outputBytes += out.length;
    return out;
  }

  /** A resumed member's header is already in the file: its size is needed for the index. */
  resumeAfterHeader(headerSize: number): void {
    this.#headerSize = headerSize;
  }

  dispose(): Promise<void> {
    return this.#encoder.dispose();
  }
}
