/**
 * Reading model files safely: a path may name a FIFO, a device or /proc file (a
 * model reference in a .lmz header is untrusted), so files are opened without
 * blocking, anything but a regular file is refused, and hashing reads a bounded
 * number of bytes in chunks, stopping when its AbortSignal fires.
 *
 * @example
 * const sha = await sha256OfFile('/models/stories260K.gguf', { signal });
 */
import { constants, type BigIntStats } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { ErrorCode, LmzipError } from '../errors.js';

const { O_RDONLY, O_NONBLOCK = 0, O_NOCTTY = 0 } = constants;
/** Hashing reads this much at a time: each read is short, so a signal is seen at once. */
const HASH_CHUNK = 1 << 20;

export interface RegularFile {
  handle: FileHandle;
  stat: BigIntStats;
}

/**
 * Opens `path` for reading without waiting on a FIFO or terminal, and refuses it
 * unless it is a regular file. Errors keep Node's `code` (ENOENT, EACCES, …); a
 * file of another kind throws an LmzipError(IO_ERROR) with `notRegular: true`.
 *
 * @example
 * const { handle, stat } = await openRegularFile(path);
 * try { … } finally { await handle.close(); }
 */
export async function openRegularFile(path: string): Promise<RegularFile> {
  const handle = await open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  try {
    const stat = await handle.stat({ bigint: true });
    if (!stat.isFile()) {
      const what = stat.isDirectory() ? 'a directory' : 'not a regular file';
      throw Object.assign(new LmzipError(ErrorCode.IO_ERROR, `${path} is ${what}`), { notRegular: true, isDirectory: stat.isDirectory() });
    }
    return { handle, stat };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * Feeds bytes [0, length) of an open file into `hash`, a chunk at a time.
 * Throws CANCELLED when `signal` aborts, IO_ERROR when the file is shorter.
 *
 * @example
 * await hashInto(hash, handle, Number(stat.size), signal);
 */
export async function hashInto(hash: Hash, handle: FileHandle, length: number, signal?: AbortSignal): Promise<void> {
  const buffer = Buffer.allocUnsafe(Math.min(HASH_CHUNK, Math.max(length, 1)));
  for (let position = 0; position < length; ) {
    if (signal?.aborted) throw new LmzipError(ErrorCode.CANCELLED, 'cancelled while hashing a model file');
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - position), position);
    if (bytesRead === 0) throw new LmzipError(ErrorCode.IO_ERROR, `the file got shorter while it was hashed (${position} of ${length} bytes)`);
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/**
 * Hex SHA-256 of a regular file, read as its size was when opened.
 *
 * @example
 * const sha = await sha256OfFile('model.gguf');
 */
export async function sha256OfFile(path: string, options: { signal?: AbortSignal } = {}): Promise<{ sha256: string; stat: BigIntStats }> {
  const { handle, stat } = await openRegularFile(path);
  try {
    const hash = createHash('sha256');
    await hashInto(hash, handle, Number(stat.size), options.signal);
    return { sha256: hash.digest('hex'), stat };
  } finally {
    await handle.close();
  }
}

/** The smallest GGUF: magic, version, tensor count, metadata count. */
const GGUF_HEADER = 24;
const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
/** Counts beyond these are no model's: a header claiming them is not worth hashing. */
const MAX_GGUF_COUNT = 1n << 24n;

/**
 * Whether `path` is worth hashing as a candidate model named by an untrusted
 * reference: a regular file (opened without blocking) that starts with a plausible
 * GGUF header (magic, version 2 or 3, sane counts). Never throws.
 *
 * @example
 * if (await looksLikeGguf(headerReference)) candidates.push(headerReference);
 */
export async function looksLikeGguf(path: string): Promise<boolean> {
  let file: RegularFile;
  try {
    file = await openRegularFile(path);
  } catch {
    return false;
  }
  try {
    if (file.stat.size < BigInt(GGUF_HEADER)) return false;
    const head = Buffer.alloc(GGUF_HEADER);
    const { bytesRead } = await file.handle.read(head, 0, GGUF_HEADER, 0);
    if (bytesRead < GGUF_HEADER || head.readUInt32LE(0) !== GGUF_MAGIC) return false;
    const version = head.readUInt32LE(4);
    return (version === 2 || version === 3) && head.readBigUInt64LE(8) < MAX_GGUF_COUNT && head.readBigUInt64LE(16) < MAX_GGUF_COUNT;
  } catch {
    return false;
  } finally {
    await file.handle.close();
  }
}
