/**
 * Compressed bytes that can be read at any offset: a file (read with pread, never
 * loaded whole) or a buffer.
 */
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { ErrorCode, LmzipError } from '../errors.js';

export interface RandomAccessSource {
  readonly size: number;
  /** Up to `length` bytes at `offset` (fewer only at the end). */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export function bufferSource(data: Uint8Array): RandomAccessSource {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return {
    size: buf.length,
    read: async (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + length)),
    close: async () => {},
  };
}

export async function fileSource(path: string): Promise<RandomAccessSource> {
  let handle: FileHandle;
  try {
    handle = await openFile(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LmzipError(code === 'ENOENT' ? ErrorCode.FILE_NOT_FOUND : ErrorCode.IO_ERROR, `${path}: cannot open (${(e as Error).message})`, { cause: e });
  }
  const { size } = await handle.stat();
  return {
    size,
    async read(offset, length) {
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.alloc(n);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await handle.read(buf, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf.subarray(0, done);
    },
    close: () => handle.close(),
  };
}
