/**
 * The gzip-like command: `lmzip [OPTION]... [FILE]...` compresses, decompresses (-d),
 * tests (-t) or lists (-l) each FILE, or standard input to standard output. Returns
 * the exit status: 0 ok, 1 when some file failed, 2 for a usage error.
 */
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, nativeBindingPath } from '../../native.js';
import { HELP, parseArgs, UsageError, type CliOptions } from '../args.js';
import { FileRun, type Io } from '../file-run.js';
import { describeError, fileSystemError, printable, StdoutError } from '../output.js';
import type { Shutdown } from '../signals.js';
import { compressFile, compressStdio } from './compress.js';
import { decompressFile, decompressRange, decompressStdio } from './decompress.js';
import { reindexCommand } from './reindex.js';
import { operands, type Operand } from '../walk.js';
import { RunProgress } from '../progress.js';
import { listFile } from './list.js';

/**
 * @example
 * process.exitCode = await runFileCommand(['-d', 'notes.txt.lmz'], io, shutdown);
 */
export async function runFileCommand(argv: string[], io: Io, shutdown: Shutdown): Promise<number> {
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`lmzip: ${printable(e.message)}\nTry 'lmzip --help' for more information.\n`);
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
  if (options.resume) shutdown.interruptMessage = 'the partial output (FILE.lmz.partial) is kept: run again with --resume to continue';
  const run = new FileRun(options, io, shutdown.signal);
  try {
    // One failing file does not stop the others; each is named, and with several files
    // the failures are listed again at the end.
    const failed: string[] = [];
    const warn = (message: string) => run.warn(printable(message));
    // The whole list first, so that a run over several files knows its size from the start.
    const items: Operand[] = [];
    for await (const item of operands(options.files.length ? options.files : ['-'], options, warn)) items.push(item);
    const count = items.length;
    run.runProgress = await runProgressFor(run, items);
    for (const { path: file, error } of items) {
      try {
        if (error) throw fileSystemError(error, file, 'cannot read directory');
        await runOne(run, file);
      } catch (e) {
        if (e instanceof StdoutError) shutdown.stdoutFailed(e); // standard output is gone: stop here
        const name = file === '-' ? '(stdin)' : printable(file);
        run.runProgress?.interrupt();
        io.stderr.write(`lmzip: ${name}: ${describeError(e)}\n`);
        failed.push(name);
      } finally {
        run.runProgress?.fileEnded();
      }
    }
    run.runProgress?.finish();
    if (failed.length && count > 1) io.stderr.write(`lmzip: ${failed.length} of ${count} files failed: ${failed.join(', ')}\n`);
    return failed.length ? 1 : 0;
  } finally {
    run.dispose();
  }
}

/**
 * The overall progress of a run over several files that shows progress (a terminal
 * line, or the JSON lines' totals), with the files' sizes by stat; else undefined.
 */
async function runProgressFor(run: FileRun, items: Operand[]): Promise<RunProgress | undefined> {
  const o = run.options;
  const draw = o.progress === 'bar' && !o.quiet && Boolean(run.io.stderr.isTTY);
  if (items.length < 2 || o.mode === 'list' || !(draw || o.progress === 'json')) return undefined;
  const sizes: number[] = [];
  for (const { path } of items) sizes.push(await stat(path).then((s) => (s.isFile() ? s.size : 0), () => 0));
  return new RunProgress({ stream: run.io.stderr, sizes, draw });
}

function runOne(run: FileRun, file: string): Promise<void> {
  const mode = run.options.mode;
  if (mode === 'list') return listFile(run, file);
  if (run.options.reindex) return reindexCommand(run, file);
  if (run.options.range) return decompressRange(run, file);
  if (file === '-') return mode === 'compress' ? compressStdio(run) : decompressStdio(run);
  return mode === 'compress' ? compressFile(run, file) : decompressFile(run, file);
}

function version(): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
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
