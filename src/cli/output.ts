/**
 * How the CLI talks: one line per error ending in a stable code, names made safe
 * to print, file-system failures turned into messages a person understands, and
 * standard output that fails the way gzip's does.
 *
 * @example
 * io.stderr.write(`lmzip: ${printable(file)}: ${describeError(e)}\n`);
 */
import { Writable } from 'node:stream';
import { ErrorCode, LmzipError, toLmzipError } from '../errors.js';

/**
 * A string safe to print on one terminal line: control characters (C0, DEL, C1),
 * line and paragraph separators and bidirectional overrides become escapes
 * (`\n`, `\t`, `\x1b`, `\u202e`); everything else is kept.
 *
 * @example
 * printable('a\nb\x1b[2J') // 'a\\nb\\x1b[2J'
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * One line: the message and the stable code in brackets. A message's own
 * continuation lines (a line break followed by indentation) are folded into
 * spaces; any other line break (inside a file name, say) and anything else
 * unprintable is escaped.
 *
 * @example
 * describeError(new LmzipError('NOT_LMZ', 'not an lmzip file')) // 'not an lmzip file [NOT_LMZ]'
 */
export function describeError(e: unknown): string {
  const err = toLmzipError(fileSystemError(e));
  return `${printable(err.message.replace(/[ \t]*\n[ \t]+/g, ' ').trimEnd())} [${err.code}]`;
}

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EFBIG: 'file too large',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error',
  EXDEV: 'not on the same file system',
  EBUSY: 'device or resource busy',
  ETXTBSY: 'text file busy',
  EAGAIN: 'resource temporarily unavailable',
  EEXIST: 'file exists',
  EPIPE: 'broken pipe',
};

/**
 * An LmzipError for a Node file-system error, with a plain reason; other errors pass
 * through. ENOENT becomes FILE_NOT_FOUND, every other errno IO_ERROR — never
 * NATIVE_ERROR.
 *
 * @example
 * try { await open(p) } catch (e) { throw fileSystemError(e, p, 'cannot read') }
 */
export function fileSystemError(e: unknown, path?: string, doing = 'cannot access'): unknown {
  if (e instanceof LmzipError) return e;
  const errno = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof errno !== 'string' || !/^E[A-Z0-9]+$/.test(errno)) return e;
  const where = path ?? (e as NodeJS.ErrnoException).path;
  if (errno === 'ENOENT') return new LmzipError(ErrorCode.FILE_NOT_FOUND, where ? `no such file: ${where}` : 'no such file', { cause: e });
  const reason = REASONS[errno] ?? `${(e as Error).message.replace(/^E[A-Z0-9]+: /, '').replace(/, \w+ '.*'$/, '')} (${errno})`;
  return new LmzipError(ErrorCode.IO_ERROR, where ? `${doing} ${where}: ${reason}` : reason, { cause: e });
}

/** A write to standard output failed; EPIPE means the reader went away. */
export class StdoutError extends LmzipError {
  readonly errno: string | undefined;
  constructor(cause: unknown) {
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(ErrorCode.IO_ERROR, `write error on standard output: ${REASONS[errno ?? ''] ?? String((cause as Error)?.message ?? cause)}`, { cause });
    this.errno = errno;
  }
  get brokenPipe(): boolean {
    return this.errno === 'EPIPE';
  }
}

/**
 * A Writable that passes data to `out` (standard output) without ending it, waiting
 * for each write to be accepted and failing with a StdoutError when it is not.
 *
 * @example
 * await pipeline(source, createDecompressStream(), stdoutSink(process.stdout));
 */
export function stdoutSink(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk, _encoding, callback) {
      out.write(chunk, (e?: Error | null) => callback(e ? new StdoutError(e) : null));
    },
  });
}

/** A Writable that drops what it is given (for -t and verification). */
export function discardSink(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}
