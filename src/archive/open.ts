/**
 * Random access to a .lmz file: its original size and blocks, and reads of any byte
 * range that decode only the blocks covering it (through the seek index, or a
 * forward scan where a member has none). Works on concatenated files.
 */
import { CancelFlag } from '../codec.js';
import { backendOption, type Backend } from '../backend.js';
import { ErrorCode, LmzipError } from '../errors.js';
import { booleanOption, integerOption, invalid, signalOption } from '../validate.js';
import { ArchiveDecoder } from './decoder.js';
import { scanArchive, type BlockLocation, type MemberLocation } from './scan.js';
import { bufferSource, fileSource, type RandomAccessSource } from './source.js';

export interface OpenOptions {
  /** A loaded Model (reused, not disposed), or a model path / name / URL; default: the model the file names, found when a block needs it. */
  model?: unknown;
  threads?: number;
  gpuLayers?: number;
  /** Backend when a block needs the model: "auto" (default), "cpu" or "cuda". */
  backend?: Backend;
  /** The most memory a llama.cpp context may take (RESOURCE_LIMIT). */
  memoryLimit?: number;
  /** Keep the most recently decoded block, so neighbouring reads do not decode it again (default true). */
  cacheBlock?: boolean;
  signal?: AbortSignal;
}

/** One block of an opened file, in original bytes and file bytes. */
export interface ArchiveBlock {
  /** Where its bytes start among the file's original bytes. */
  originalOffset: number;
  originalSize: number;
  /** Where it lies in the compressed file. */
  offset: number;
  compressedSize: number;
  /** 0-based member it belongs to. */
  member: number;
}

export class Archive {
  readonly members: readonly MemberLocation[];
  readonly blocks: readonly ArchiveBlock[];
  /** Original bytes in the file. */
  readonly size: number;
  #source: RandomAccessSource;
  #decoder: ArchiveDecoder;
  #cancel: CancelFlag;
  #cacheBlock: boolean;
  #cached: { index: number; bytes: Buffer } | undefined;
  #locations: { member: MemberLocation; block: BlockLocation }[];

  /** @internal use open() */
  constructor(source: RandomAccessSource, members: MemberLocation[], options: OpenOptions) {
    this.#source = source;
    this.members = members;
    this.#locations = members.flatMap((member) => member.blocks.map((block) => ({ member, block })));
    this.blocks = this.#locations.map(({ member, block }) => ({ originalOffset: block.originalOffset, originalSize: block.originalSize,
      offset: block.offset, compressedSize: block.compressedSize, member: member.index }));
    this.size = members.reduce((n, m) => n + m.originalSize, 0);
    this.#cancel = new CancelFlag(options.signal);
    this.#cacheBlock = options.cacheBlock ?? true;
    this.#decoder = new ArchiveDecoder({ model: options.model, threads: options.threads, gpuLayers: options.gpuLayers,
      memoryLimit: options.memoryLimit, backend: options.backend, cancel: this.#cancel, signal: options.signal });
  }

  /**
   * Original bytes [offset, offset + length), clipped to the file's size; decodes
   * only the blocks that overlap them.
   * @example
   * const archive = await open('corpus.jsonl.lmz', { model });
   * const record = await archive.read(1_000_000, 4096);
   */
  async read(offset: number, length: number): Promise<Buffer> {
    integerOption('offset', offset, 0, Number.MAX_SAFE_INTEGER);
    integerOption('length', length, 0, Number.MAX_SAFE_INTEGER);
    const end = Math.min(this.size, offset + length);
    const parts: Buffer[] = [];
    for (let i = this.#firstBlockAt(offset); i < this.blocks.length && this.blocks[i].originalOffset < end; i++) {
      const b = this.blocks[i];
      if (b.originalSize === 0) continue;
      const bytes = await this.#block(i);
      parts.push(bytes.subarray(Math.max(0, offset - b.originalOffset), Math.min(b.originalSize, end - b.originalOffset)));
    }
    return Buffer.concat(parts);
  }

  /** Closes the file and frees the model and context this archive loaded. */
  async close(): Promise<void> {
    this.#cached = undefined;
    this.#cancel.detach();
    await this.#decoder.dispose();
    await this.#source.close();
  }

  /** The first block whose bytes end after `offset` (binary search). */
  #firstBlockAt(offset: number): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const b = this.blocks[mid];
      if (b.originalOffset + b.originalSize <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  async #block(i: number): Promise<Buffer> {
    if (this.#cached?.index === i) return this.#cached.bytes;
    const { member, block } = this.#locations[i];
    const raw = await this.#source.read(block.offset, block.compressedSize);
    if (raw.length !== block.compressedSize) throw new LmzipError(ErrorCode.TRUNCATED, `the file is truncated inside the block at byte ${block.offset}`);
    const bytes = await this.#decoder.decodeAt(member, block, raw);
    if (this.#cacheBlock) this.#cached = { index: i, bytes };
    return bytes;
  }
}

/**
 * Opens a .lmz file (a path, or its bytes) for random access. Only the tables are
 * read now; blocks are decoded by read().
 * @example
 * const archive = await open('big.txt.lmz', { model });
 * console.log(archive.size, archive.blocks.length);
 * const slice = await archive.read(123_456_789, 4096);
 * await archive.close();
 */
export async function open(file: string | Uint8Array, options: OpenOptions = {}): Promise<Archive> {
  if (typeof file !== 'string' && !(file instanceof Uint8Array)) throw invalid('file', 'a path or a Uint8Array', file);
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  integerOption('threads', options.threads, 1, 1024);
  integerOption('gpuLayers', options.gpuLayers, -1, 100000);
  integerOption('memoryLimit', options.memoryLimit, 0, Number.MAX_SAFE_INTEGER);
  booleanOption('cacheBlock', options.cacheBlock);
  backendOption(options.backend);
  signalOption('signal', options.signal);
  const source = typeof file === 'string' ? await fileSource(file) : bufferSource(file);
  try {
    return new Archive(source, await scanArchive(source), options);
  } catch (e) {
    await source.close();
    throw e;
  }
}
