/**
 * Adds a seek index to every version-2 member that has none (written to a pipe with
 * `index: 'never'`, or by a writer that skips one for a single block), so random
 * access finds every member from the end of the file. Version-1 members cannot have
 * one and stay as they are. Nothing is decoded: the block tables give the index.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, open as openFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, LmzipError } from '../errors.js';
import { writeEnd } from '../format/v2/block.js';
import type { HeaderV2 } from '../format/v2/types.js';
import { invalid } from '../validate.js';
import { scanArchive, type MemberLocation } from './scan.js';
import { bufferSource, fileSource } from './source.js';

/** The bytes that end `m` with an index (its end tag 0 is replaced). */
function indexedEnd(m: MemberLocation): Buffer {
  return writeEnd({ headerSize: (m.header as HeaderV2).size, blocks: m.blocks.map((b) => ({ originalSize: b.originalSize, compressedSize: b.compressedSize })) });
}

const needsIndex = (m: MemberLocation) => m.version === 2 && !m.indexed;

/**
 * A copy of .lmz bytes in which every version-2 member has a seek index.
 * @example
 * const indexed = reindex(await readFile('piped.lmz'));
 */
export async function reindex(data: Uint8Array): Promise<Buffer> {
  if (!(data instanceof Uint8Array)) throw invalid('data', 'a Uint8Array or Buffer', data);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const members = await scanArchive(bufferSource(buf));
  return Buffer.concat(members.flatMap((m) => needsIndex(m)
    ? [buf.subarray(m.offset, m.offset + m.size - 1), indexedEnd(m)]
    : [buf.subarray(m.offset, m.offset + m.size)]));
}

/**
 * Adds seek indexes to a .lmz file in place. When only its last member lacks one
 * (the usual case), the index is appended; otherwise the file is rewritten through a
 * temporary file beside it and renamed over it. Returns how many members got one.
 * @example
 * await reindexFile('piped.lmz');
 */
export async function reindexFile(path: string): Promise<{ indexed: number }> {
  if (typeof path !== 'string') throw invalid('path', 'a path', path);
  const source = await fileSource(path);
  let members: MemberLocation[];
  try {
    members = await scanArchive(source);
  } finally {
    await source.close();
  }
  const missing = members.filter(needsIndex);
  if (missing.length === 0) return { indexed: 0 };
  const last = members[members.length - 1];
  try {
    if (missing.length === 1 && missing[0] === last) {
      const handle = await openFile(path, 'r+');
      try {
        const end = indexedEnd(last);
        await handle.write(end, 0, end.length, last.offset + last.size - 1);
      } finally {
        await handle.close();
      }
      return { indexed: 1 };
    }
    const tmp = join(dirname(path), `.${basename(path)}.reindex-${process.pid}`);
    try {
      const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
      await pipeline(async function* () {
        for (const m of members) {
          const size = needsIndex(m) ? m.size - 1 : m.size;
          if (size > 0) for await (const piece of createReadStream(path, { start: m.offset, end: m.offset + size - 1 })) yield piece as Buffer;
          if (needsIndex(m)) yield indexedEnd(m);
        }
      }, out);
      await chmod(tmp, (await stat(path)).mode & 0o7777);
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return { indexed: missing.length };
  } catch (e) {
    if (e instanceof LmzipError) throw e;
    throw new LmzipError(ErrorCode.IO_ERROR, `${path}: cannot add the index (${(e as Error).message})`, { cause: e });
  }
}
