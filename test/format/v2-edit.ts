/**
 * Takes version-2 members apart into editable fields and writes them back, so a test
 * can change one field of a header, a block table or an index and still have every
 * other structure valid (header CRC, index and its CRC recomputed), and the damage
 * reaches the check meant for it. Field values are written as given, even when they
 * break the format's rules.
 */
import { crc32 } from '../../src/format/crc32.js';
import { MAGIC } from '../../src/format/constants.js';
import { FOOTER_MAGIC } from '../../src/format/v2/constants.js';
import { parseBlockTable } from '../../src/format/v2/block.js';
import { encodeProfile, parseHeaderV2 } from '../../src/format/v2/header.js';
import { ByteCursor, pushVarint } from '../../src/format/varint.js';

export interface EditChunk {
  method: number;
  strip: boolean;
  size: number;
  /** Brotli only: the payload size recorded. */
  payloadSize: number;
}
export interface EditBlock {
  chunks: EditChunk[];
  /** Marked as the member's last block. */
  last: boolean;
  /** The stream size recorded (undefined: none recorded, as for a block without model chunks). */
  streamSize: number | undefined;
  crc: number;
  /** Bytes after the table: the stream and the payloads, as they are. */
  body: Buffer;
}
export interface EditHeader {
  flags: number;
  blockSize: number;
  hash: Buffer;
  name: Buffer;
  lanes: number;
  window: number;
  overlap: number;
  ubatch: number;
  method: number;
  params: Buffer;
  profile: Buffer;
}
export interface EditMember {
  header: EditHeader;
  blocks: EditBlock[];
  /** Write an index (recomputed from the blocks as written). */
  index: boolean;
}

/**
 * The members of a file of well-formed version-2 members. (putTogether writes each
 * block's `last` flag as it is: a test that drops or moves blocks decides whether to
 * mark the new final one, see markLast.)
 */
export function takeApart(file: Buffer): EditMember[] {
  const members: EditMember[] = [];
  let pos = 0;
  while (pos < file.length) {
    const h = parseHeaderV2(file.subarray(pos));
    const c = new ByteCursor(file, pos + 10);
    c.varint('body');
    const header: EditHeader = { flags: file[pos + 9], blockSize: h.blockSize, hash: Buffer.from(h.modelHash, 'hex'), name: Buffer.from(h.modelName),
      lanes: h.lanes, window: h.window, overlap: h.overlap, ubatch: h.ubatch, method: h.codingMethod, params: Buffer.from(h.methodParams),
      profile: Buffer.from(encodeProfile(h.profile)) };
    let p = pos + h.size;
    const blocks: EditBlock[] = [];
    for (;;) {
      const parsed = parseBlockTable(new ByteCursor(file, p), h.blockSize, h.modelFree, 'edit');
      if (parsed.kind === 'end') {
        const end = parsed.withIndex ? footerAt(file, p) + 6 : p + 1;
        members.push({ header, blocks, index: parsed.withIndex });
        pos = end;
        break;
      }
      const t = parsed.table;
      blocks.push({ chunks: t.chunks.map((x) => ({ method: x.method, strip: x.stripLeadingSpace, size: x.originalSize, payloadSize: x.payloadSize })), last: t.last,
        streamSize: t.chunks.some((x) => x.method === 1) ? t.streamSize : undefined, crc: t.blockCrc,
        body: file.subarray(p + t.tableSize, p + t.encodedSize) });
      p += t.encodedSize;
    }
  }
  return members;
}

/** Where the footer of the index starting at `at` is (its index_size field). */
function footerAt(file: Buffer, at: number): number {
  for (let f = at; f + 6 <= file.length; f++)
    if (file[f + 4] === FOOTER_MAGIC[0] && file[f + 5] === FOOTER_MAGIC[1] && file.readUInt32LE(f) === f - at) return f;
  throw new Error('no footer');
}

export function headerBytes(h: EditHeader): Buffer {
  const body: number[] = [];
  pushVarint(body, Math.floor(h.blockSize / 1024));
  if (!(h.flags & 1)) {
    body.push(...h.hash);
    pushVarint(body, h.name.length);
    body.push(...h.name);
    for (const v of [h.lanes, h.window, h.overlap, h.ubatch, h.method]) pushVarint(body, v);
    pushVarint(body, h.params.length);
    body.push(...h.params, ...h.profile);
  }
  const head: number[] = [...MAGIC, 2, h.flags];
  pushVarint(head, body.length);
  const out = Buffer.from([...head, ...body, 0, 0, 0, 0]);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

export function blockBytes(b: EditBlock): Buffer {
  const table: number[] = [];
  pushVarint(table, 2 * b.chunks.length + (b.last ? 1 : 0));
  for (const c of b.chunks) {
    pushVarint(table, c.size * 8 + (c.strip ? 4 : 0) + c.method);
    if (c.method === 2) pushVarint(table, c.payloadSize);
  }
  if (b.streamSize !== undefined) pushVarint(table, b.streamSize);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(b.crc >>> 0);
  return Buffer.concat([Buffer.from(table), crc, b.body]);
}

export function putTogether(members: EditMember[]): Buffer {
  const out: Buffer[] = [];
  for (const m of members) {
    const header = headerBytes(m.header);
    const blocks = m.blocks.map(blockBytes);
    out.push(header, ...blocks);
    if (!m.index) {
      out.push(Buffer.of(0));
      continue;
    }
    const body: number[] = [1];
    pushVarint(body, header.length);
    pushVarint(body, blocks.length);
    m.blocks.forEach((b, i) => {
      pushVarint(body, b.chunks.reduce((n, c) => n + c.size, 0));
      pushVarint(body, blocks[i].length);
    });
    const end = Buffer.alloc(body.length + 10);
    end.set(body);
    end.writeUInt32LE(crc32(end.subarray(0, body.length)), body.length);
    end.writeUInt32LE(body.length + 4, body.length + 4);
    end.set(FOOTER_MAGIC, body.length + 8);
    out.push(end);
  }
  return Buffer.concat(out);
}


/** Marks the final block of each member as last and the others not (what a writer would do). */
export function markLast(members: EditMember[]): EditMember[] {
  for (const m of members) m.blocks = m.blocks.map((b, i) => ({ ...b, last: i === m.blocks.length - 1 }));
  return members;
}
