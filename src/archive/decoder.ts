/**
 * The one decode path: bytes in, verified original bytes out, member after member.
 * decompress(), the decompress stream and random access all use it, so they accept
 * and refuse exactly the same files.
 *
 * The model is found and the llama.cpp context created only when the first block
 * that needs them arrives (a file of brotli and stored blocks needs neither), after
 * the context's memory is checked against the limit.
 */
import { BlockDecoder, CancelFlag, DEFAULT_MEMORY_LIMIT, checkDecodable, checkFreqAlgorithm, modelIdentity, openSession, sessionParams, type Progress } from '../codec.js';
import type { Backend } from '../backend.js';
import { ErrorCode, LmzipError } from '../errors.js';
import type { FileHeader } from '../format/types.js';
import type { HeaderV2 } from '../format/v2/types.js';
import { openModelForFile, type OpenedModel } from '../model-source.js';
import type { NativeSession } from '../native.js';
import { ChunkMethod } from '../format/constants.js';
import { LmzReader } from '../format/reader.js';
import { parseBlockTable } from '../format/v2/block.js';
import { ByteCursor, NEED_MORE, corruptHeader } from '../format/varint.js';
import { ArchiveReader, type ArchiveEvent, type MemberHeader } from './reader.js';
import type { BlockLocation, MemberLocation } from './scan.js';

export interface DecoderOptions {
  /** A loaded Model (reused, not disposed), or a model path / name / URL; default: the model the file names. */
  model?: unknown;
  threads?: number;
  gpuLayers?: number;
  backend?: Backend;
  /** Refuse to produce more than this many bytes in all (OUTPUT_TOO_LARGE); default: no limit. */
  maxOutputLength?: number;
  /** The most memory a llama.cpp context may take (RESOURCE_LIMIT); default DEFAULT_MEMORY_LIMIT. */
  memoryLimit?: number;
  cancel: CancelFlag;
  /** Stops a model load or a model search (hashing the cache) as well as the decoding. */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export class ArchiveDecoder {
  #reader = new ArchiveReader();
  #options: DecoderOptions;
  #produced = 0;
  #bytesIn = 0;
  #header: MemberHeader | undefined;
  #blocks: BlockDecoder | undefined;
  #blockIndex = 0;
  #opened: OpenedModel | undefined;
  #session: { key: string; session: Promise<NativeSession> } | undefined;

  constructor(options: DecoderOptions) {
    this.#options = options;
  }

  /** Original bytes produced so far. */
  get bytesProduced(): number {
    return this.#produced;
  }

  /** Decodes what `bytes` complete; returns verified original bytes. */
  async push(bytes: Uint8Array): Promise<Buffer[]> {
    this.#bytesIn += bytes.length;
    this.#reader.feed(bytes);
    const out: Buffer[] = [];
    for (let event = this.#reader.next(); event; event = this.#reader.next()) out.push(...(await this.#handle(event)));
    return out;
  }

  /** The end of the input: TRUNCATED unless the last member was complete. */
  finish(): void {
    this.#reader.finish();
  }

  async #handle(event: ArchiveEvent): Promise<Buffer[]> {
    const o = this.#options;
    if (event.type === 'header') {
      this.#header = event.header;
      this.#blockIndex = 0;
      const header = event.header;
      if (header.version === 1) {
        checkFreqAlgorithm(header);
        if (header.originalSize !== undefined) this.#reserve(Number(header.originalSize));
      }
      this.#blocks = new BlockDecoder(() => this.#sessionFor(header), o.cancel);
      return [];
    }
    const where = `block ${this.#blockIndex} of member ${event.member + 1}`;
    if (event.type === 'block') {
      this.#reserve(event.block.table.originalSize);
      const out = await this.#blocks!.block(event.block, event.originalOffset, where, this.#tick(event.block.table.originalSize));
      return this.#emit(out);
    }
    if (event.type === 'frame') {
      this.#reserve(event.frame.chunks.reduce((n, c) => n + c.originalSize, 0));
      const size = event.frame.chunks.reduce((n, c) => n + c.originalSize, 0);
      return this.#emit(await this.#blocks!.frame(event.frame, this.#tick(size)));
    }
    if (event.end) this.#blocks!.endV1(this.#header as FileHeader, event.end.totalSize, event.end.contentCrc32);
    this.#header = undefined;
    this.#blocks = undefined;
    return [];
  }

  /** Refuses output beyond maxOutputLength before the bytes are decoded. */
  #reserve(size: number): void {
    const limit = this.#options.maxOutputLength;
    if (limit !== undefined && this.#produced + size > limit)
      throw new LmzipError(ErrorCode.OUTPUT_TOO_LARGE,
        `decompressed data would exceed maxOutputLength (${limit} bytes); to decode large files, use createDecompressStream, which needs no limit`);
  }

  #emit(out: Buffer[]): Buffer[] {
    this.#blockIndex++;
    for (const b of out) this.#produced += b.length;
    return out;
  }

  #tick(size: number): ((fraction: number) => void) | undefined {
    const onProgress = this.#options.onProgress;
    if (!onProgress) return undefined;
    const before = this.#produced;
    return (f) => onProgress({ bytesIn: this.#bytesIn, bytesOut: before + Math.round(f * size) });
  }

  /**
   * Random access: decodes one block (v2) or frame (v1) whose bytes were read from
   * where `block` says, with the same checks as push().
   */
  async decodeAt(member: MemberLocation, block: BlockLocation, bytes: Buffer): Promise<Buffer> {
    const header = member.header;
    const decoder = new BlockDecoder(() => this.#sessionFor(header), this.#options.cancel);
    const where = `the block at byte ${block.offset} (member ${member.index + 1})`;
    if (header.version === 1) {
      checkFreqAlgorithm(header);
      const reader = new LmzReader({ member: true });
      const frame = [...reader.push(member.headerBytes), ...reader.push(bytes)].find((e) => e.type === 'frame');
      if (frame?.type !== 'frame') throw corruptHeader(`${where} is not a frame`);
      return Buffer.concat(await decoder.frame(frame.frame, this.#tick(block.originalSize)));
    }
    let parsed;
    try {
      parsed = parseBlockTable(new ByteCursor(bytes), header.blockSize, header.modelFree, where);
    } catch (e) {
      throw e === NEED_MORE ? new LmzipError(ErrorCode.TRUNCATED, `the file is truncated inside ${where}`) : e;
    }
    const isLast = member.blocks[member.blocks.length - 1] === block;
    if (parsed.kind !== 'block' || parsed.table.encodedSize !== block.compressedSize || parsed.table.originalSize !== block.originalSize ||
        parsed.table.last !== isLast)
      throw corruptHeader(`${where} does not match the seek index`);
    const t = parsed.table;
    let p = t.tableSize;
    const stream = bytes.subarray(p, (p += t.streamSize));
    const payloads = t.chunks.map((c) => (c.method === ChunkMethod.Model ? bytes.subarray(0, 0) : bytes.subarray(p, (p += c.payloadSize))));
    return Buffer.concat(await decoder.block({ table: t, stream, payloads }, block.memberOffset, where, this.#tick(block.originalSize)));
  }

  /** The session for a member's model blocks: the model found and checked, the context within the memory limit. */
  async #sessionFor(header: FileHeader | HeaderV2): Promise<NativeSession> {
    const o = this.#options;
    const want = modelIdentity(header);
    if (this.#opened && !(await this.#opened.model.fingerprint()).startsWith(want.sha256) && this.#opened.owned) await this.#release();
    this.#opened ??= await openModelForFile({ modelSha256: want.sha256, modelReference: want.name, profile: header.profile }, o.model,
      { threads: o.threads, gpuLayers: o.gpuLayers, backend: o.backend, signal: o.signal });
    const model = this.#opened.model;
    await checkDecodable(want, model);
    const params = sessionParams(header, model.threads);
    const key = JSON.stringify({ ...params, methodParams: [...(params.methodParams ?? [])] });
    if (this.#session?.key !== key) {
      await this.#disposeSession();
      this.#session = { key, session: openSession(model, params, o.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
        'the file asks for more than this machine allows; raise memoryLimit if it is trusted') };
    }
    return this.#session.session;
  }

  async #disposeSession(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (s) (await s.session.catch(() => undefined))?.dispose();
  }

  async #release(): Promise<void> {
    await this.#disposeSession();
    if (this.#opened?.owned) this.#opened.model.dispose();
    this.#opened = undefined;
  }

  /** Frees the context and any model this decoder loaded. */
  dispose(): Promise<void> {
    return this.#release();
  }
}
