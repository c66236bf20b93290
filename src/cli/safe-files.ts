/**
 * The file mechanics behind "never lose a file" (docs/RELIABILITY.md), shared by every
 * command that turns one file into another (compress, decompress, and later -r).
 *
 *  - An input is opened once, without following a final symbolic link (unless -f) and
 *    without blocking; its descriptor is fstat'ed and read, so the file checked is the
 *    file read. Hard-linked inputs that would be removed are refused without -f.
 *  - The target is compared with the input by device and inode, never by name; an
 *    existing target, a dangling symbolic link included, is replaced only with -f.
 *  - Output goes to a temporary file beside the target: mode 0600 while written, a
 *    name that fits NAME_MAX whatever the target's, removed on failure or signal.
 *  - Publishing never clobbers without -f: link() then unlink(), so a target that
 *    appeared meanwhile makes link() fail (a checked rename where the file system has
 *    no hard links: a small window remains there).
 *  - Before an input is removed, its descriptor is fstat'ed again (size, mtime, ctime,
 *    inode) and its path must still name it; otherwise it is kept and the change reported.
 *
 * @example
 * const input = await InputFile.open('a.txt', { followSymlinks: false, allowHardLinks: false });
 * await checkTarget('a.txt.lmz', input, { force: false });
 * const out = await TemporaryOutput.create('a.txt.lmz');
 * await pipeline(input.readStream(), compressor, out.writeStream());
 * await out.finish(input.stat);
 * await out.publish({ force: false });
 * await removeInput(input, out);
 */
import { randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream, type BigIntStats, unlinkSync, type WriteStream } from 'node:fs';
import { link, lstat, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { ErrorCode, LmzipError } from '../errors.js';
import { fileSystemError } from './output.js';
import { pauseAt, type PauseIo } from './test-hook.js';

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW = 0, O_NONBLOCK = 0, O_NOCTTY = 0 } = constants;

/** The longest file name most file systems allow, in bytes (NAME_MAX). */
const NAME_MAX = 255;

// ---- Temporary files, removed on failure and on signals --------------------------------

const temporaryFiles = new Set<string>();

/**
 * Removes every temporary file still being written, synchronously (for signal
 * handlers, which must not wait for anything).
 *
 * @example
 * process.on('SIGTERM', () => { removeTemporaryFilesNow(); process.exit(143); });
 */
export function removeTemporaryFilesNow(): void {
  for (const path of temporaryFiles) {
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
  }
  temporaryFiles.clear();
}

// ---- Inputs ------------------------------------------------------------------------------

export interface InputOptions {
  /** Read through a symbolic link given as the input (gzip: only with -f when it writes a file). */
  followSymlinks: boolean;
  /** Accept an input with other hard links (gzip: only with -f when the input is removed). */
  allowHardLinks: boolean;
}

/** An input file, open for reading: the checks and the reads use this one descriptor. */
export class InputFile {
  private constructor(
    readonly path: string,
    readonly handle: FileHandle,
    readonly stat: BigIntStats,
    /** Opened through a symbolic link (-f): removing the input removes the link, as gzip does. */
    readonly followsSymlinks: boolean,
  ) {}

  /**
   * Opens `path` for reading (see the module comment for what is refused).
   * @example
   * const input = await InputFile.open('a.txt', { followSymlinks: false, allowHardLinks: true });
   */
  static async open(path: string, options: InputOptions): Promise<InputFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | (options.followSymlinks ? 0 : O_NOFOLLOW));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new LmzipError(ErrorCode.FILE_NOT_FOUND, 'no such file');
      if (code === 'ELOOP' && !options.followSymlinks && (await isSymlink(path)))
        throw new LmzipError(ErrorCode.UNSAFE_INPUT, 'is a symbolic link -- ignored (use -f to follow it)');
      throw fileSystemError(e, path, 'cannot read');
    }
    try {
      const st = await handle.stat({ bigint: true });
      if (st.isDirectory()) throw new LmzipError(ErrorCode.IO_ERROR, 'is a directory -- ignored');
      if (!st.isFile()) throw new LmzipError(ErrorCode.IO_ERROR, 'is not a regular file -- ignored');
      if (st.nlink > 1n && !options.allowHardLinks) {
        const others = st.nlink - 1n;
        throw new LmzipError(ErrorCode.UNSAFE_INPUT, `has ${others} other link${others === 1n ? '' : 's'} -- unchanged (use -f to process it anyway)`);
      }
      return new InputFile(path, handle, st, options.followSymlinks);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  get size(): number {
    return Number(this.stat.size);
  }

  /** A stream of the file's bytes [start, end) (default: all of it), through this descriptor. */
  readStream(start = 0, end?: number): Readable {
    return readFrom(this.handle, start, end);
  }

  /** Up to `length` bytes at `offset` (fewer at the end), through this descriptor. */
  async read(offset: number, length: number): Promise<Buffer> {
    const buffer = Buffer.alloc(Math.max(0, Math.min(length, this.size - offset)));
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await this.handle.read(buffer, done, buffer.length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buffer.subarray(0, done);
  }

  /**
   * Throws INPUT_CHANGED when the file was written, truncated, replaced or had its
   * metadata changed since it was opened (fstat on the open descriptor).
   */
  async checkUnchanged(): Promise<void> {
    const now = await this.handle.stat({ bigint: true });
    const was = this.stat;
    const changed: string[] = [];
    if (now.size !== was.size) changed.push(`size ${was.size} -> ${now.size} bytes`);
    if (now.mtimeNs !== was.mtimeNs) changed.push('modification time');
    if (now.ctimeNs !== was.ctimeNs && now.mtimeNs === was.mtimeNs) changed.push('status change time');
    if (now.ino !== was.ino || now.dev !== was.dev) changed.push('inode');
    if (changed.length)
      throw new LmzipError(ErrorCode.INPUT_CHANGED, `the input changed while lmzip worked (${changed.join(', ')}); it was kept`);
  }

  close(): Promise<void> {
    return this.handle.close().catch(() => undefined);
  }
}

/**
 * Reads a whole open file from its start by descriptor number: a stream made from the
 * FileHandle itself would hold the handle's close() until the stream is destroyed.
 */
function readFrom(handle: FileHandle, start = 0, end?: number): Readable {
  if (end !== undefined && end <= start) return Readable.from([]); // an empty range
  return createReadStream('', { fd: handle.fd, start, end: end === undefined ? undefined : end - 1, autoClose: false, highWaterMark: 1 << 16 });
}

async function isSymlink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}

function sameFile(a: { dev: bigint; ino: bigint }, b: { dev: bigint; ino: bigint }): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

// ---- Targets -----------------------------------------------------------------------------

/**
 * Refuses a target that is the input itself (by device and inode, through links),
 * a directory, or — without `force` — any existing entry, a dangling symbolic link
 * included.
 *
 * @example
 * await checkTarget('a.txt.lmz', input, { force: false });
 */
export async function checkTarget(target: string, input: InputFile | undefined, options: { force: boolean }): Promise<void> {
  let entry: BigIntStats;
  try {
    entry = await lstat(target, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fileSystemError(e, target, 'cannot write');
  }
  const pointee = entry.isSymbolicLink() ? await stat(target, { bigint: true }).catch(() => undefined) : entry;
  if (input && pointee && sameFile(pointee, input.stat))
    throw new LmzipError(ErrorCode.SAME_FILE, `${target} is the input file itself; refusing to overwrite it`);
  if (entry.isDirectory()) throw new LmzipError(ErrorCode.IO_ERROR, `${target} is a directory`);
  if (!options.force) throw new LmzipError(ErrorCode.OUTPUT_EXISTS, `${target} already exists; use -f to overwrite`);
}

// ---- Temporary outputs -----------------------------------------------------------------

/**
 * `.NAME.PID-RAND.tmp` beside the target, NAME cut (at a character boundary) so the
 * whole name fits NAME_MAX bytes for any legal target name.
 */
export function temporaryPathFor(target: string): string {
  const suffix = `.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const room = NAME_MAX - 1 - Buffer.byteLength(suffix);
  let name = basename(target);
  while (Buffer.byteLength(name) > room) name = Array.from(name).slice(0, -1).join('');
  return join(dirname(target), `.${name}${suffix}`);
}

/** Errors of link() that mean "this file system has no hard links", not "the target exists". */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/**
 * The partial output of a resumable compression (--resume): `TARGET.partial`, a name
 * any later run finds again. Unlike a temporary file it survives failures and signals;
 * it carries the final name only once complete and checked.
 */
export function partialPathFor(target: string): string {
  return `${target}.partial`;
}

/** An output being written beside its target; published only when complete. */
export class TemporaryOutput {
  #published = false;

  private constructor(readonly target: string, readonly path: string, public handle: FileHandle, readonly keptOnFailure = false) {}

  /**
   * Opens (or creates) the resumable partial output of `target` (partialPathFor): not
   * through a symbolic link, mode 0600, and kept when the run fails or is interrupted.
   * A directory or anything but a regular file there is refused.
   */
  static async openPartial(target: string): Promise<TemporaryOutput> {
    const path = partialPathFor(target);
    let handle: FileHandle;
    try {
      handle = await open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
    } catch (e) {
      throw fileSystemError(e, path, 'cannot write');
    }
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw new LmzipError(ErrorCode.IO_ERROR, `${path} is not a regular file`);
    }
    return new TemporaryOutput(target, path, handle, true);
  }

  /** The file now at this.path, after a library call wrote a new one and renamed it there. */
  async reopen(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    try {
      this.handle = await open(this.path, O_RDWR | O_NOFOLLOW);
    } catch (e) {
      throw fileSystemError(e, this.target, 'cannot write');
    }
  }

  /**
   * Creates the temporary file: exclusive, not through a symbolic link, mode 0600
   * (nobody else can read the plaintext while it is written).
   */
  static async create(target: string): Promise<TemporaryOutput> {
    const path = temporaryPathFor(target);
    let handle: FileHandle;
    try {
      handle = await open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    } catch (e) {
      throw fileSystemError(e, target, 'cannot write');
    }
    temporaryFiles.add(path);
    return new TemporaryOutput(target, path, handle);
  }

  /** A stream that writes the file from `start` (default its start; the descriptor stays open). */
  writeStream(start = 0): WriteStream {
    return createWriteStream('', { fd: this.handle.fd, start, autoClose: false });
  }

  /** A stream that reads back what was written (for verification), through the same descriptor. */
  readStream(): Readable {
    return readFrom(this.handle);
  }

  /**
   * Flushes the data to disk and gives the file the input's permissions, times and —
   * when running as root — owner and group, as gzip does.
   */
  async finish(from: BigIntStats | undefined): Promise<void> {
    try {
      await this.handle.sync();
      if (!from) return;
      const mode = Number(from.mode) & 0o777; // as gzip: no setuid, setgid or sticky bit
      if (process.getuid?.() === 0) {
        await this.handle.chown(Number(from.uid), Number(from.gid)).catch(() => undefined);
      } else {
        // Keep the group when we belong to it; otherwise the file stays ours.
        await this.handle.chown(-1, Number(from.gid)).catch(() => undefined);
      }
      await this.handle.chmod(mode);
      await this.handle.utimes(Number(from.atimeNs) / 1e9, Number(from.mtimeNs) / 1e9);
    } catch (e) {
      throw fileSystemError(e, this.target, 'cannot write');
    }
  }

  /**
   * Moves the file to its target. Without `force`, never replaces anything: link()
   * fails when the target appeared meanwhile (OUTPUT_EXISTS). With `force`, rename()
   * replaces an existing file atomically.
   */
  async publish(options: { force: boolean }): Promise<void> {
    try {
      if (options.force) {
        await rename(this.path, this.target);
      } else {
        try {
          await link(this.path, this.target);
          await unlink(this.path);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? '';
          if (code === 'EEXIST') throw new LmzipError(ErrorCode.OUTPUT_EXISTS, `${this.target} already exists; use -f to overwrite`);
          if (!NO_HARD_LINKS.has(code)) throw e;
          // No hard links here (e.g. FAT, some FUSE file systems): check, then rename.
          await checkTarget(this.target, undefined, { force: false });
          await rename(this.path, this.target);
        }
      }
    } catch (e) {
      throw fileSystemError(e, this.target, 'cannot write');
    }
    temporaryFiles.delete(this.path);
    this.#published = true;
    // What now carries the target's name must be the file written here.
    const mine = await this.handle.stat({ bigint: true });
    const there = await lstat(this.target, { bigint: true }).catch(() => undefined);
    if (!there || !sameFile(there, mine))
      throw new LmzipError(ErrorCode.IO_ERROR, `${this.target} was replaced by another file while it was published`);
  }

  /** The identity of the written file (for removeInput). */
  async identity(): Promise<BigIntStats> {
    return this.handle.stat({ bigint: true });
  }

  /** Closes the descriptor; removes the file unless it was published (or is a resumable partial output). */
  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    if (!this.#published && !this.keptOnFailure) {
      await unlink(this.path).catch(() => undefined);
      temporaryFiles.delete(this.path);
    }
  }
}

// ---- Removing the input --------------------------------------------------------------

/**
 * Removes the input after its output was published — only if the input is unchanged
 * since it was opened, its path still names it, and it is not the published output.
 * Otherwise throws INPUT_CHANGED (the input is kept).
 */
export async function removeInput(input: InputFile, output: TemporaryOutput): Promise<void> {
  await input.checkUnchanged();
  const look = input.followsSymlinks ? stat : lstat;
  const now = await look(input.path, { bigint: true }).catch(() => undefined);
  if (!now || !sameFile(now, input.stat))
    throw new LmzipError(ErrorCode.INPUT_CHANGED, `${input.path} was replaced while lmzip worked; it was kept`);
  if (sameFile(now, await output.identity()))
    throw new LmzipError(ErrorCode.SAME_FILE, `${input.path} is the output file itself; it was kept`);
  try {
    await unlink(input.path);
  } catch (e) {
    throw fileSystemError(e, input.path, 'cannot remove');
  }
}

/**
 * The end of every command that replaces a file, in the one safe order: the output
 * gets the input's mode and times and is flushed, the input is checked unchanged, the
 * output is published (never over an existing file without `force`), then, if asked,
 * the input is removed (removeInput's checks). `afterPublish` runs between the last two
 * (the -v report). The test hook can pause before publishing and before removing.
 * @example
 * await publishAndRemoveInput(run.io, input, out, { force: o.force, removeInput: !o.keep });
 */
export async function publishAndRemoveInput(io: PauseIo, input: InputFile, output: TemporaryOutput,
  options: { force: boolean; removeInput: boolean; afterPublish?: () => void }): Promise<void> {
  await output.finish(input.stat);
  await pauseAt('before-publish', io);
  await input.checkUnchanged();
  await output.publish({ force: options.force });
  options.afterPublish?.();
  if (options.removeInput) {
    await pauseAt('before-remove', io);
    await removeInput(input, output);
  }
}
