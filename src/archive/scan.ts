/**
 * Where every member and block of a file lies, without decoding anything
 * (docs/FORMAT.md, "Reading"): members with a seek index are found from the end of
 * the file, one footer after another; what precedes them (members without an index,
 * version-1 members) is scanned forward, reading only block tables.
 */
import { ErrorCode, LmzipError } from '../errors.js';
import { MAGIC } from '../format/constants.js';
import { LmzReader } from '../format/reader.js';
import { checkBlockOrder, footerIndexStart, parseBlockTable, parseIndex } from '../format/v2/block.js';
import { FOOTER_SIZE, FORMAT_VERSION_2, MAX_CHUNKS_PER_BLOCK, MAX_HEADER_BODY } from '../format/v2/constants.js';
import { parseHeaderV2 } from '../format/v2/header.js';
import type { IndexV2 } from '../format/v2/types.js';
import { ByteCursor, NEED_MORE, corruptHeader } from '../format/varint.js';
import type { HeaderV1, MemberHeader } from './reader.js';
import type { RandomAccessSource } from './source.js';

export interface BlockLocation {
  /** File offset of the block (v2: its tag; v1: its frame's type byte). */
  offset: number;
  compressedSize: number;
  /** Where its original bytes start among the whole file's original bytes. */
  originalOffset: number;
  /** Where they start within its member (a v2 block's CRC includes it). */
  memberOffset: number;
  originalSize: number;
}

export interface MemberLocation {
  /** 0-based position among the file's members. */
  index: number;
  version: 1 | 2;
  offset: number;
  size: number;
  header: MemberHeader;
  /** The member's header bytes (a block is decoded with them). */
  headerBytes: Buffer;
  blocks: BlockLocation[];
  /** Found through its seek index (else by a forward scan). */
  indexed: boolean;
  originalOffset: number;
  originalSize: number;
}

const truncated = (what: string) => new LmzipError(ErrorCode.TRUNCATED, `the file is truncated inside ${what}`);
const MAX_TABLE_BYTES = 8 + MAX_CHUNKS_PER_BLOCK * 16 + 8 + 4;
const MAX_HEADER_BYTES = MAGIC.length + 2 + 3 + MAX_HEADER_BODY + 4;

/** Runs a parse over bytes read at `offset`; NEED_MORE means the file ended first (TRUNCATED). */
async function parseAt<T>(source: RandomAccessSource, offset: number, length: number, what: string, parse: (b: Buffer) => T): Promise<T> {
  const bytes = await source.read(offset, length);
  try {
    return parse(bytes);
  } catch (e) {
    if (e === NEED_MORE) throw truncated(what);
    throw e;
  }
}

/** Members and blocks of the whole file. */
export async function scanArchive(source: RandomAccessSource): Promise<MemberLocation[]> {
  if (source.size === 0) throw new LmzipError(ErrorCode.TRUNCATED, 'the input is empty, not an lmzip file');
  const suffix: MemberLocation[] = [];
  let end = source.size;
  while (end > 0) {
    const m = await memberFromEnd(source, end);
    if (!m) break;
    suffix.unshift(m);
    end = m.offset;
  }
  let prefix = await scanForward(source, 0, end);
  let members = [...prefix, ...suffix];
  if (prefix.length > 0 && prefix[prefix.length - 1].offset + prefix[prefix.length - 1].size !== end) {
    // A forward scan ran past what looked like an indexed member: trust the forward scan alone.
    prefix = await scanForward(source, 0, source.size);
    members = prefix;
  }
  let original = 0;
  members.forEach((m, i) => {
    m.index = i;
    m.originalOffset = original;
    for (const b of m.blocks) b.originalOffset = original + b.memberOffset;
    original += m.originalSize;
  });
  return members;
}

/** Members from `start` up to `end`, read forward. */
async function scanForward(source: RandomAccessSource, start: number, end: number): Promise<MemberLocation[]> {
  const members: MemberLocation[] = [];
  let pos = start;
  while (pos < end) {
    const head = await source.read(pos, MAGIC.length + 1);
    for (let i = 0; i < head.length && i < MAGIC.length; i++)
      if (head[i] !== MAGIC[i]) {
        if (pos === 0) throw new LmzipError(ErrorCode.NOT_LMZ, 'not an lmzip file (unknown magic number)');
        throw corruptHeader(`unexpected data after member ${members.length} (at byte ${pos})`);
      }
    if (head.length <= MAGIC.length) throw new LmzipError(ErrorCode.TRUNCATED, 'the file is truncated in a magic number');
    const version = head[MAGIC.length];
    let member: MemberLocation;
    if (version === 1) member = await memberV1(source, pos);
    else if (version === FORMAT_VERSION_2) member = await memberV2(source, pos);
    else throw new LmzipError(ErrorCode.UNSUPPORTED_VERSION, `this file uses lmzip format version ${version}; this build reads versions 1 and 2`);
    members.push(member);
    pos += member.size;
  }
  return members;
}

/** A version-2 member read forward: its header, each block's table, its end. */
async function memberV2(source: RandomAccessSource, offset: number): Promise<MemberLocation> {
  const header = await parseAt(source, offset, MAX_HEADER_BYTES, 'a member header', parseHeaderV2);
  const headerBytes = await source.read(offset, header.size);
  const blocks: BlockLocation[] = [];
  let pos = offset + header.size;
  let original = 0;
  let indexed = false;
  let last: boolean | undefined;
  for (;;) {
    const where = `block ${blocks.length} of the member at byte ${offset}`;
    const parsed = await parseAt(source, pos, MAX_TABLE_BYTES, where, (b) => parseBlockTable(new ByteCursor(b), header.blockSize, header.modelFree, where));
    checkBlockOrder(last, parsed.kind, where);
    if (parsed.kind === 'end') {
      if (!parsed.withIndex) {
        pos += 1;
        break;
      }
      const { index, size } = await readIndex(source, pos);
      checkIndex(index, header.size, blocks);
      indexed = true;
      pos += size;
      break;
    }
    const t = parsed.table;
    last = t.last;
    if (pos + t.encodedSize > source.size) throw truncated(where);
    blocks.push({ offset: pos, compressedSize: t.encodedSize, originalOffset: 0, memberOffset: original, originalSize: t.originalSize });
    original += t.originalSize;
    pos += t.encodedSize;
  }
  return { index: 0, version: 2, offset, size: pos - offset, header, headerBytes, blocks, indexed, originalOffset: 0, originalSize: original };
}

/** An index whose end tag is at `at`: read with growing windows until it parses. */
async function readIndex(source: RandomAccessSource, at: number): Promise<{ index: IndexV2; size: number }> {
  for (let length = 4096; ; length *= 4) {
    const bytes = await source.read(at, length);
    try {
      return parseIndex(new ByteCursor(bytes, 1), 0);
    } catch (e) {
      if (e !== NEED_MORE) throw e;
      if (at + length >= source.size) throw truncated('a seek index');
    }
  }
}

function checkIndex(index: IndexV2, headerSize: number, blocks: BlockLocation[]): void {
  if (index.headerSize !== headerSize || index.blocks.length !== blocks.length ||
      index.blocks.some((b, i) => b.originalSize !== blocks[i].originalSize || b.compressedSize !== blocks[i].compressedSize))
    throw corruptHeader('a seek index does not match its blocks');
}

/** A version-2 member that ends at `end` with a seek index, or undefined when no valid footer is there. */
async function memberFromEnd(source: RandomAccessSource, end: number): Promise<MemberLocation | undefined> {
  if (end < FOOTER_SIZE) return undefined;
  const start = footerIndexStart(await source.read(end - FOOTER_SIZE, FOOTER_SIZE), end);
  if (start === undefined) return undefined;
  const bytes = await source.read(start, end - start);
  if (bytes[0] !== 1) return undefined;
  let index: IndexV2;
  try {
    const parsed = parseIndex(new ByteCursor(bytes, 1), 0);
    if (parsed.size !== bytes.length) return undefined;
    index = parsed.index;
  } catch {
    return undefined;
  }
  const blocksSize = index.blocks.reduce((n, b) => n + b.compressedSize, 0);
  const offset = start - blocksSize - index.headerSize;
  if (offset < 0) return undefined;
  const headerBytes = await source.read(offset, index.headerSize);
  if (headerBytes.length !== index.headerSize || headerBytes[MAGIC.length] !== FORMAT_VERSION_2 ||
      MAGIC.some((m, i) => headerBytes[i] !== m)) return undefined;
  let header;
  try {
    header = parseHeaderV2(headerBytes);
  } catch {
    return undefined;
  }
  if (header.size !== index.headerSize) return undefined;
  const blocks: BlockLocation[] = [];
  let pos = offset + header.size;
  let original = 0;
  for (const b of index.blocks) {
    blocks.push({ offset: pos, compressedSize: b.compressedSize, originalOffset: 0, memberOffset: original, originalSize: b.originalSize });
    pos += b.compressedSize;
    original += b.originalSize;
  }
  return { index: 0, version: 2, offset, size: end - offset, header, headerBytes, blocks, indexed: true, originalOffset: 0, originalSize: original };
}

/** A version-1 member read forward through its own parser; each frame is a block. */
async function memberV1(source: RandomAccessSource, offset: number): Promise<MemberLocation> {
  const reader = new LmzReader({ member: true });
  const headerSize = (await source.read(offset, 16)).readUInt32LE(12) + 20;
  const blocks: BlockLocation[] = [];
  let header: HeaderV1 | undefined;
  let read = 0;
  let framePos = offset + headerSize;
  let original = 0;
  for (;;) {
    const piece = await source.read(offset + read, 1 << 20);
    if (piece.length === 0) reader.finish();
    read += piece.length;
    for (const e of reader.push(piece)) {
      if (e.type === 'header') header = e.header as HeaderV1;
      else if (e.type === 'frame') {
        const size = e.frame.chunks.reduce((n, c) => n + c.originalSize, 0);
        blocks.push({ offset: framePos, compressedSize: e.frame.encodedSize, originalOffset: 0, memberOffset: original, originalSize: size });
        framePos += e.frame.encodedSize;
        original += size;
      } else {
        const rest = reader.rest().reduce((n, b) => n + b.length, 0);
        const headerBytes = await source.read(offset, headerSize);
        return { index: 0, version: 1, offset, size: read - rest, header: header!, headerBytes, blocks, indexed: false, originalOffset: 0,
          originalSize: original };
      }
    }
  }
}
