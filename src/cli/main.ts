#!/usr/bin/env node
/**
 * The lmzip command: gzip-like file handling around the library.
 *
 * Safety rules: output goes to a temporary file beside the target and is renamed
 * into place only after it is complete and flushed; before an input is removed, the
 * new .lmz file is decoded again and compared (unless --no-verify); a failure or a
 * signal removes the temporary file and leaves the input as it was.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, realpathSync, unlinkSync } from 'node:fs';
import { chmod, open, rename, stat, unlink, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { CompressStats } from '../codec.js';
import { ErrorCode, LmzipError, toLmzipError } from '../errors.js';
import { LmzReader } from '../format/reader.js';
import type { FileHeader } from '../format/types.js';
import { Model } from '../model.js';
import { defaultModelReference, resolveModel } from '../models/index.js';
import { native, nativeBindingPath } from '../native.js';
import { createCompressStream, createDecompressStream } from '../stream.js';
import { HELP, parseArgs, UsageError, type CliOptions } from './args.js';
import { ProgressBar } from './progress.js';

const SUFFIX = '.lmz';

interface Io {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

/** Temporary files to remove if the process is interrupted. */
const temporaryFiles = new Set<string>();

/** One line: the message (folded if it has several) and the stable code. */
function describeError(e: unknown): string {
  const err = toLmzipError(e);
  return `${err.message.replace(/\s*\n\s*/g, ' ')} [${err.code}]`;
}

function fsError(e: unknown, path: string, doing: string): LmzipError {
  const code = (e as NodeJS.ErrnoException).code;
  if (e instanceof LmzipError) return e;
  if (code === 'ENOENT') return new LmzipError(ErrorCode.FILE_NOT_FOUND, `no such file: ${path}`);
  if (code === 'ENOSPC') return new LmzipError(ErrorCode.IO_ERROR, `${doing} ${path}: no space left on the device`);
  if (code === 'EACCES' || code === 'EPERM') return new LmzipError(ErrorCode.IO_ERROR, `${doing} ${path}: permission denied`);
  if (code === 'EROFS') return new LmzipError(ErrorCode.IO_ERROR, `${doing} ${path}: read-only file system`);
  if (code === 'EISDIR') return new LmzipError(ErrorCode.IO_ERROR, `${doing} ${path}: is a directory`);
  if (code === 'EFBIG') return new LmzipError(ErrorCode.IO_ERROR, `${doing} ${path}: file too large`);
  return toLmzipError(e);
}

function temporaryPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** A pass-through that hashes what flows through it. */
function hashTap(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
}

async function flushToDisk(path: string): Promise<void> {
  const h = await open(path, 'r+');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

class Cli {
  #o: CliOptions;
  #io: Io;
  #signal: AbortSignal;
  #models = new Map<string, Promise<Model>>();
  /** The canonical reference each loaded model was resolved from (recorded in files). */
  #references = new WeakMap<Model, string>();

  constructor(options: CliOptions, io: Io, signal: AbortSignal) {
    this.#o = options;
    this.#io = io;
    this.#signal = signal;
  }

  #warn(message: string): void {
    if (!this.#o.quiet) this.#io.stderr.write(`lmzip: ${message}\n`);
  }

  #info(message: string): void {
    this.#io.stderr.write(`${message}\n`);
  }

  /** Loads a model once per reference for all files of this run. */
  #model(reference: string): Promise<Model> {
    let p = this.#models.get(reference);
    if (!p) {
      p = (async () => {
        const bar = this.#progressBar(`model ${reference}`, undefined);
        const resolved = await resolveModel(reference, {
          offline: this.#o.offline || undefined, env: this.#io.env, signal: this.#signal,
          onProgress: bar ? (received, total) => bar.update(received, total) : undefined,
          onDownloadStart: (info) => this.#warn(`downloading ${info.reference} from ${info.url}`),
        });
        bar?.finish();
        const model = await Model.load(resolved.path, { threads: this.#o.threads, gpuLayers: this.#o.gpuLayers });
        this.#references.set(model, resolved.reference);
        return model;
      })();
      this.#models.set(reference, p);
    }
    return p;
  }

  #progressBar(label: string, total: number | undefined): ProgressBar | undefined {
    if (this.#o.quiet || !this.#io.stderr.isTTY) return undefined;
    return new ProgressBar({ stream: this.#io.stderr, label, total, unit: 'bytes' });
  }

  dispose(): void {
    for (const p of this.#models.values()) p.then((m) => m.dispose(), () => {});
  }

  async #compressOptions(sizeHint: number | undefined) {
    const reference = this.#o.model ?? defaultModelReference(this.#io.env);
    const model = await this.#model(reference);
    return { model, modelReference: this.#references.get(model) ?? reference, sizeHint, lanes: this.#o.lanes,
      window: this.#o.ctx, overlap: this.#o.overlap, chunkSize: this.#o.chunkSize, signal: this.#signal };
  }

  async run(): Promise<number> {
    const files = this.#o.files.length ? this.#o.files : ['-'];
    let status = 0;
    for (const file of files) {
      if (this.#signal.aborted) break;
      try {
        if (this.#o.mode === 'list') await this.#list(file);
        else if (file === '-') await this.#stdio();
        else if (this.#o.mode === 'compress') await this.#compressFile(file);
        else await this.#decompressFile(file);
      } catch (e) {
        if (this.#signal.aborted) throw e;
        this.#io.stderr.write(`lmzip: ${file === '-' ? '(stdin)' : file}: ${describeError(e)}\n`);
        status = 1;
      }
    }
    return status;
  }

  async #stdio(): Promise<void> {
    const o = this.#o;
    if (o.mode === 'compress') {
      if (this.#io.stdout.isTTY && !o.force)
        throw new LmzipError(ErrorCode.INVALID_ARGUMENT, 'compressed data not written to a terminal (use -f to force)');
      const options = await this.#compressOptions(undefined);
      await pipeline(this.#io.stdin, createCompressStream(options), this.#stdoutSink());
    } else {
      const model = this.#o.model ? await this.#model(this.#o.model) : undefined;
      const sink = o.mode === 'test' ? discard() : this.#stdoutSink();
      await pipeline(this.#io.stdin, createDecompressStream({ model, signal: this.#signal }), sink);
      if (o.mode === 'test' && o.verbose) this.#info('(stdin): OK');
    }
  }

  #stdoutSink(): Writable {
    // Write to stdout without ending it (several files may follow).
    const out = this.#io.stdout;
    return new Writable({
      write(chunk, _e, cb) {
        if (out.write(chunk)) cb();
        else out.once('drain', () => cb());
      },
    });
  }

  async #inputFile(path: string): Promise<{ size: number; mode: number; atime: Date; mtime: Date }> {
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new LmzipError(ErrorCode.FILE_NOT_FOUND, 'no such file');
      throw fsError(e, path, 'cannot read');
    }
    if (st.isDirectory()) throw new LmzipError(ErrorCode.IO_ERROR, 'is a directory -- ignored');
    if (!st.isFile()) throw new LmzipError(ErrorCode.IO_ERROR, 'is not a regular file -- ignored');
    return st;
  }

  async #checkOutput(path: string): Promise<void> {
    try {
      const st = await stat(path);
      if (st.isDirectory()) throw new LmzipError(ErrorCode.IO_ERROR, `${path} is a directory`);
      if (!this.#o.force) throw new LmzipError(ErrorCode.OUTPUT_EXISTS, `${path} already exists; use -f to overwrite`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Writes through a temporary file beside `target`, renamed into place only on success. */
  async #writeAtomically(target: string, write: (tmp: string) => Promise<void>, input: { mode: number; atime: Date; mtime: Date }): Promise<void> {
    const tmp = temporaryPathFor(target);
    temporaryFiles.add(tmp);
    try {
      await write(tmp);
      await flushToDisk(tmp);
      await chmod(tmp, input.mode & 0o7777);
      await utimes(tmp, input.atime, input.mtime);
      await rename(tmp, target);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    } finally {
      temporaryFiles.delete(tmp);
    }
  }

  async #compressFile(path: string): Promise<void> {
    const o = this.#o;
    if (path.endsWith(SUFFIX) && !o.force && !o.stdout)
      throw new LmzipError(ErrorCode.INVALID_ARGUMENT, `already has ${SUFFIX} suffix -- unchanged`);
    const input = await this.#inputFile(path);
    const options = await this.#compressOptions(input.size);
    const bar = this.#progressBar(basename(path), input.size);
    const stream = createCompressStream({ ...options, onProgress: bar && ((p) => bar.update(p.bytesIn, p.bytesTotal)) });
    const started = performance.now();
    if (o.stdout) {
      await pipeline(createReadStream(path), stream, this.#stdoutSink());
      bar?.finish();
      this.#report(path, stream.stats, started);
      return;
    }
    const target = o.output ?? path + SUFFIX;
    await this.#checkOutput(target);
    const inputHash = createHash('sha256');
    await this.#writeAtomically(target, async (tmp) => {
      try {
        await pipeline(createReadStream(path), hashTap(inputHash), stream, createWriteStream(tmp, { flags: 'wx' }));
      } catch (e) {
        throw fsError(e, tmp, 'cannot write');
      }
      bar?.finish();
      if (o.verify && !o.keep) await this.#verify(tmp, inputHash.digest('hex'), options.model);
    }, input);
    this.#report(path, stream.stats, started);
    if (!o.keep) await unlink(path).catch((e) => this.#warn(`${path}: compressed, but the input could not be removed: ${(e as Error).message}`));
  }

  /** Decodes a freshly written file and compares it with the input's hash. */
  async #verify(path: string, expectedSha256: string, model: Model): Promise<void> {
    const hash = createHash('sha256');
    await pipeline(createReadStream(path), createDecompressStream({ model, signal: this.#signal }), hashTap(hash), discard());
    if (hash.digest('hex') !== expectedSha256)
      throw new LmzipError(ErrorCode.CORRUPT_DATA, 'verification failed: the compressed file does not decode to the input; the input was kept (please report this)');
  }

  #report(path: string, stats: CompressStats | undefined, started: number): void {
    if (!this.#o.verbose || !stats) return;
    const seconds = (performance.now() - started) / 1000;
    const bpb = stats.inputBytes ? ((stats.outputBytes * 8) / stats.inputBytes).toFixed(3) : '0';
    const saved = stats.inputBytes ? (100 * (1 - stats.outputBytes / stats.inputBytes)).toFixed(1) : '0.0';
    this.#info(`${path}: ${stats.inputBytes} -> ${stats.outputBytes} bytes, ${bpb} bits/byte, ${saved}% saved, ` +
      `${stats.tokens} tokens in ${seconds.toFixed(2)} s (${Math.round(stats.tokens / Math.max(seconds, 1e-9))} tokens/s), ` +
      `chunks: ${stats.modelChunks} model, ${stats.brotliChunks} brotli, ${stats.storedChunks} stored`);
  }

  async #decompressFile(path: string): Promise<void> {
    const o = this.#o;
    const testing = o.mode === 'test';
    if (!testing && !o.stdout && o.output === undefined && !path.endsWith(SUFFIX))
      throw new LmzipError(ErrorCode.INVALID_ARGUMENT, `unknown suffix -- ignored (expected ${SUFFIX}; use -o or -c)`);
    const input = await this.#inputFile(path);
    const model = this.#o.model ? await this.#model(this.#o.model) : undefined;
    const bar = this.#progressBar(basename(path), input.size);
    let read = 0;
    const source = createReadStream(path).on('data', (c) => {
      read += c.length;
      bar?.update(read, input.size);
    });
    const stream = createDecompressStream({ model, signal: this.#signal });
    if (testing || o.stdout) {
      await pipeline(source, stream, testing ? discard() : this.#stdoutSink());
      bar?.finish();
      if (testing && o.verbose) this.#info(`${path}: OK`);
      return;
    }
    const target = o.output ?? path.slice(0, -SUFFIX.length);
    await this.#checkOutput(target);
    await this.#writeAtomically(target, async (tmp) => {
      try {
        await pipeline(source, stream, createWriteStream(tmp, { flags: 'wx' }));
      } catch (e) {
        throw fsError(e, tmp, 'cannot write');
      }
    }, input);
    bar?.finish();
    if (!o.keep) await unlink(path).catch((e) => this.#warn(`${path}: decompressed, but the input could not be removed: ${(e as Error).message}`));
  }

  async #list(path: string): Promise<void> {
    const reader = new LmzReader();
    let header: FileHeader | undefined;
    const chunks = { model: 0, brotli: 0, stored: 0 };
    const bytes = { model: 0, brotli: 0, stored: 0 };
    let tokens = 0, frames = 0, compressed = 0, original = 0n;
    const source = path === '-' ? this.#io.stdin : createReadStream(path);
    try {
      for await (const chunk of source) {
        compressed += (chunk as Buffer).length;
        for (const e of reader.push(chunk as Buffer)) {
          if (e.type === 'header') header = e.header;
          else if (e.type === 'frame') {
            frames++;
            for (const c of e.frame.chunks) {
              const key = c.method === 1 ? 'model' : c.method === 2 ? 'brotli' : 'stored';
              chunks[key]++;
              bytes[key] += c.originalSize;
              tokens += c.tokenCount;
            }
          } else original = e.end.totalSize;
        }
      }
      reader.finish();
    } catch (e) {
      throw fsError(e, path, 'cannot read');
    }
    const h = header!;
    const n = Number(original);
    const pct = (k: keyof typeof bytes) => (n ? ((100 * bytes[k]) / n).toFixed(1) : '0.0');
    this.#io.stdout.write(
      `${path}\n` +
      `  compressed      ${compressed} bytes\n` +
      `  uncompressed    ${n} bytes\n` +
      `  ratio           ${compressed ? (n / compressed).toFixed(3) : '0'} (${n ? ((compressed * 8) / n).toFixed(3) : '0'} bits per byte)\n` +
      `  model           ${h.modelReference || '(unnamed)'}\n` +
      `  model sha256    ${h.modelSha256}\n` +
      `  profile         ${h.profile}\n` +
      `  lanes/ctx       ${h.lanes} lanes, window ${h.window}, overlap ${h.overlap}\n` +
      `  frames          ${frames}, ${tokens} tokens\n` +
      `  methods         model ${pct('model')}% (${chunks.model} chunks), brotli ${pct('brotli')}% (${chunks.brotli}), stored ${pct('stored')}% (${chunks.stored})\n`);
  }
}

function discard(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

function version(): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  let nativeLine: string;
  try {
    const info = native().backendInfo();
    nativeLine = `llama.cpp ${info.llamaCommit}\nbuild ${info.isa}${info.gpuOffload ? ' +gpu' : ''} (${nativeBindingPath})`;
  } catch (e) {
    nativeLine = `native addon: not loaded (${(e as Error).message})`;
  }
  return `lmzip ${pkg.version}\n${nativeLine}\nnode ${process.version}`;
}

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv[0] === 'models') {
    const { runModelsCommand } = await import('./models-command.js');
    return runModelsCommand(argv.slice(1), io);
  }
  if (argv[0] === 'analyze') return (await import('./commands/analyze.js')).runAnalyzeCommand(argv.slice(1), io);
  if (argv[0] === 'bench') {
    const { runBenchCommand } = await import('../bench/index.js');
    return runBenchCommand(argv.slice(1), io);
  }
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`lmzip: ${e.message}\nTry 'lmzip --help' for more information.\n`);
    return 2;
  }
  if (options.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (options.version) {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy) {
      // A second signal: remove temporary files now and leave at once.
      for (const f of temporaryFiles) try { unlinkSync(f); } catch { /* already gone */ }
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stoppedBy = signal;
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const cli = new Cli(options, io, controller.signal);
  try {
    return await cli.run();
  } catch (e) {
    if (stoppedBy) {
      io.stderr.write(`lmzip: interrupted by ${stoppedBy}; partial output removed, inputs unchanged\n`);
      return stoppedBy === 'SIGINT' ? 130 : 143;
    }
    io.stderr.write(`lmzip: ${describeError(e)}\n`);
    return 1;
  } finally {
    cli.dispose();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const invokedDirectly = process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`lmzip: ${describeError(e)}\n`);
      process.exitCode = 1;
    },
  );
}
