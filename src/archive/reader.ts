/**
 * Reads a .lmz byte stream as members (docs/FORMAT.md, "Files and members"): push
 * bytes in, take headers, blocks (v2) or frames (v1) and member ends out, member
 * after member. Version-1 members go to their own parser (src/format/reader.ts);
 * version-2 members are parsed here with src/format/v2/. Every size is checked
 * against the format's limits before it is trusted. Knows nothing of llama.cpp.
 */
import { ErrorCode, LmzipError } from '../errors.js';
import { MAGIC } from '../format/constants.js';
import { ByteQueue } from '../format/queue.js';
import { LmzReader } from '../format/reader.js';
import type { EndBlock, FileHeader, Frame } from '../format/types.js';
import { checkBlockOrder, parseBlockTable, parseIndex } from '../format/v2/block.js';
import { FORMAT_VERSION_2, MAX_CHUNKS_PER_BLOCK } from '../format/v2/constants.js';
import { parseHeaderV2 } from '../format/v2/header.js';
import type { BlockTable, BlockV2, HeaderV2, IndexV2 } from '../format/v2/types.js';
import { ByteCursor, NEED_MORE, corruptHeader } from '../format/varint.js';

export type HeaderV1 = FileHeader & { version: 1 };
export type MemberHeader = HeaderV1 | HeaderV2;

export type ArchiveEvent =
  | { type: 'header'; member: number; offset: number; header: MemberHeader }
  /** A version-1 frame. */
  | { type: 'frame'; member: number; frame: Frame }
  /** A version-2 block; `originalOffset` is where its bytes start in the member. */
  | { type: 'block'; member: number; block: BlockV2; originalOffset: number; offset: number }
  | { type: 'end'; member: number; end?: EndBlock; index?: IndexV2; compressedSize: number };

/** Bytes a block table can take at most (4096 chunk entries of two varints, the tag, sizes, CRC). */
const MAX_TABLE_BYTES = 8 + MAX_CHUNKS_PER_BLOCK * 16 + 8 + 4;

export class ArchiveReader {
  #queue = new ByteQueue();
  #state: 'magic' | 'v1' | 'v2-header' | 'v2-blocks' | 'v2-index' = 'magic';
  #member = -1;
  #memberStart = 0;
  #v1: LmzReader | undefined;
  #v1Events: ArchiveEvent[] = [];
  #header: HeaderV2 | undefined;
  #table: BlockTable | undefined;
  #blocks: { originalSize: number; compressedSize: number }[] = [];
  #originalOffset = 0;
  #lastSeen: boolean | undefined;

  /** Members that started so far. */
  get members(): number {
    return this.#member + 1;
  }

  /** Adds bytes; returns every structure they complete. */
  push(bytes: Uint8Array): ArchiveEvent[] {
    this.feed(bytes);
    const events: ArchiveEvent[] = [];
    for (let e = this.next(); e; e = this.next()) events.push(e);
    return events;
  }

  /** Adds bytes without parsing them yet. */
  feed(bytes: Uint8Array): void {
    this.#queue.push(bytes);
  }

  /**
   * The next complete structure, or undefined until more bytes arrive. A decoder
   * handles each before it asks for the next, so a damaged block is found before a
   * damaged structure after it, however the bytes were split.
   */
  next(): ArchiveEvent | undefined {
    return this.#next();
  }

  /** Call at the end of the input: throws TRUNCATED unless it ended between members. */
  finish(): void {
    if (this.#state === 'magic' && this.#queue.length === 0 && this.#member >= 0) return;
    const at = this.#queue.consumed + this.#queue.length;
    if (this.#member < 0 && at === 0) throw new LmzipError(ErrorCode.TRUNCATED, 'the input is empty, not an lmzip file');
    if (this.#state === 'magic')
      throw new LmzipError(ErrorCode.TRUNCATED, this.#member < 0 ? 'the file is truncated in its magic number' : `the file is truncated in the magic number of member ${this.#member + 1}`);
    const where = this.#state === 'v1' || this.#state === 'v2-header' ? 'a member header or frame' : this.#state === 'v2-blocks' ? 'a block' : 'a seek index';
    throw new LmzipError(ErrorCode.TRUNCATED, `the file is truncated inside ${where} (${at} bytes read)`);
  }

  #next(): ArchiveEvent | undefined {
    switch (this.#state) {
      case 'magic': return this.#readMagic();
      case 'v1': return this.#readV1();
      case 'v2-header': return this.#readHeader();
      case 'v2-blocks': return this.#readBlock();
      case 'v2-index': return this.#readIndex();
    }
  }

  #readMagic(): ArchiveEvent | undefined {
    const q = this.#queue;
    if (q.length === 0) return undefined;
    const head = q.view(Math.min(q.length, MAGIC.length + 1));
    for (let i = 0; i < Math.min(head.length, MAGIC.length); i++)
      if (head[i] !== MAGIC[i]) {
        if (this.#member < 0) throw new LmzipError(ErrorCode.NOT_LMZ, 'not an lmzip file (unknown magic number)');
        throw corruptHeader(`unexpected data after member ${this.#member + 1} (at byte ${q.consumed})`);
      }
    if (head.length <= MAGIC.length) return undefined;
    const version = head[MAGIC.length];
    this.#member++;
    this.#memberStart = q.consumed;
    if (version === 1) {
      this.#state = 'v1';
      this.#v1 = new LmzReader({ member: true });
      return this.#readV1();
    }
    if (version !== FORMAT_VERSION_2)
      throw new LmzipError(ErrorCode.UNSUPPORTED_VERSION,
        `this file uses lmzip format version ${version}; this build reads versions 1 and 2${version > 2 ? ' (upgrade lmzip)' : ''}`);
    this.#state = 'v2-header';
    return this.#readHeader();
  }

  #readV1(): ArchiveEvent | undefined {
    const v1 = this.#v1!;
    if (this.#v1Events.length === 0 && this.#queue.length > 0) {
      for (const e of v1.push(Buffer.concat(this.#queue.takeAll()))) {
        const member = this.#member;
        if (e.type === 'header') this.#v1Events.push({ type: 'header', member, offset: this.#memberStart, header: e.header as HeaderV1 });
        else if (e.type === 'frame') this.#v1Events.push({ type: 'frame', member, frame: e.frame });
        else {
          const rest = v1.rest();
          this.#queue.unshift(rest);
          this.#v1Events.push({ type: 'end', member, end: e.end, compressedSize: this.#queue.consumed - this.#memberStart });
        }
      }
    }
    const event = this.#v1Events.shift();
    if (event?.type === 'end') {
      this.#v1 = undefined;
      this.#state = 'magic';
    }
    return event;
  }

  /** Runs a parse over the queued bytes; undefined while they are not enough. */
  #tryParse<T>(limit: number, parse: (bytes: Buffer) => T): T | undefined {
    const bytes = this.#queue.view(Math.min(this.#queue.length, limit));
    try {
      return parse(bytes.subarray(0, Math.min(bytes.length, this.#queue.length)));
    } catch (e) {
      if (e === NEED_MORE) return undefined;
      throw e;
    }
  }

  #readHeader(): ArchiveEvent | undefined {
    const header = this.#tryParse(Infinity, parseHeaderV2);
    if (!header) return undefined;
    this.#queue.take(header.size);
    this.#header = header;
    this.#blocks = [];
    this.#originalOffset = 0;
    this.#lastSeen = undefined;
    this.#state = 'v2-blocks';
    return { type: 'header', member: this.#member, offset: this.#memberStart, header };
  }

  #readBlock(): ArchiveEvent | undefined {
    const h = this.#header!;
    if (!this.#table) {
      const where = `block ${this.#blocks.length} of member ${this.#member + 1}`;
      const parsed = this.#tryParse(MAX_TABLE_BYTES, (b) => parseBlockTable(new ByteCursor(b), h.blockSize, h.modelFree, where));
      if (!parsed) return undefined;
      checkBlockOrder(this.#lastSeen, parsed.kind, where);
      if (parsed.kind === 'end') {
        if (!parsed.withIndex) {
          this.#queue.take(1);
          return this.#endMember(undefined);
        }
        this.#state = 'v2-index';
        return this.#readIndex();
      }
      this.#table = parsed.table;
      this.#lastSeen = parsed.table.last;
    }
    const table = this.#table;
    if (this.#queue.length < table.encodedSize) return undefined;
    const offset = this.#queue.consumed;
    const bytes = this.#queue.take(table.encodedSize);
    this.#table = undefined;
    let p = table.tableSize;
    const stream = bytes.subarray(p, p + table.streamSize);
    p += table.streamSize;
    const payloads = table.chunks.map((c) => {
      const payload = bytes.subarray(p, p + c.payloadSize);
      p += c.payloadSize;
      return payload;
    });
    const originalOffset = this.#originalOffset;
    this.#originalOffset += table.originalSize;
    this.#blocks.push({ originalSize: table.originalSize, compressedSize: table.encodedSize });
    return { type: 'block', member: this.#member, block: { table, stream, payloads }, originalOffset, offset };
  }

  #readIndex(): ArchiveEvent | undefined {
    // The index grows with the block count, so it is parsed once the queue holds what its varints promise.
    const parsed = this.#tryParse(Infinity, (b) => {
      const c = new ByteCursor(b, 1);
      return parseIndex(c, 0);
    });
    if (!parsed) return undefined;
    const { index, size } = parsed;
    const h = this.#header!;
    const blocks = this.#blocks;
    if (index.headerSize !== h.size || index.blocks.length !== blocks.length ||
        index.blocks.some((b, i) => b.originalSize !== blocks[i].originalSize || b.compressedSize !== blocks[i].compressedSize))
      throw corruptHeader(`the seek index of member ${this.#member + 1} does not match its blocks`);
    this.#queue.take(size);
    return this.#endMember(index);
  }

  #endMember(index: IndexV2 | undefined): ArchiveEvent {
    this.#state = 'magic';
    this.#header = undefined;
    return { type: 'end', member: this.#member, index, compressedSize: this.#queue.consumed - this.#memberStart };
  }
}
