/**
 * `lmzip analyze`: where the bits go. A terminal summary (the model against
 * order-0, Huffman, gzip, LZW, xz and brotli, and the most and least expensive
 * lines), `--html` for the report, `--json` for one object, `--jsonl` for corpora.
 *
 * Returns the exit status: 0 ok, 1 error, 2 usage.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { classicalBaselines } from '../../analyze/baselines.js';
import { analyzeDocuments, BATCH_BYTES, type CorpusDocument } from '../../analyze/corpus.js';
import { Analyzer, DEFAULT_TOP_K, MAX_TOP_K, type FrameAnalysis } from '../../analyze/records.js';
import { renderHtmlReport } from '../../analyze/report.js';
import { buildReport, DEFAULT_THRESHOLD_BITS, formatReport } from '../../analyze/summary.js';
import { ErrorCode, LmzipError, toLmzipError } from '../../errors.js';
import { openModel } from '../../model-source.js';
import { defaultModelReference } from '../../models/index.js';
import { ProgressBar } from '../progress.js';

export interface AnalyzeCommandIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export const ANALYZE_HELP = `Usage: lmzip analyze [OPTION]... FILE...
Show where the bits go: every token's cost under the model (the same coding loop
as compression), compared with order-0, Huffman, gzip -9, compress (LZW), xz and
brotli on the same bytes. FILE - reads standard input.

Output (default: a summary on standard output):
      --html OUT.html   also write a self-contained HTML report (one FILE)
      --json            one JSON object per FILE: bytes, tokens, bits, baselines, …
      --tokens          with --json: add every token's record
      --jsonl           corpus mode: one JSON line per document (each FILE, or
                        each line of a JSONL FILE with --field)
      --field NAME      with --jsonl: FILEs are JSONL corpora; NAME holds the text
      --threshold BITS  surprisal threshold for "surprising" tokens (default ${DEFAULT_THRESHOLD_BITS})
      --top-k N         model candidates kept per token (0-${MAX_TOP_K}, default ${DEFAULT_TOP_K})
      --no-baselines    skip gzip, compress, xz and brotli
  -q, --quiet           no progress bar

Model and settings (as for compression; the defaults are the same):
  -m, --model MODEL     GGUF path, built-in name or URL (default: LMZIP_MODEL or the built-in default)
  -T, --threads N       --lanes N   --ctx N   --overlap N   --chunk-size BYTES   --gpu-layers N
      --offline         never download a model
  -h, --help            show this help
`;

interface Options {
  files: string[];
  html?: string;
  json: boolean;
  tokens: boolean;
  jsonl: boolean;
  field?: string;
  thresholdBits: number;
  topK: number;
  baselines: boolean;
  quiet: boolean;
  model?: string;
  threads?: number;
  lanes?: number;
  window?: number;
  overlap?: number;
  chunkSize?: number;
  gpuLayers?: number;
  offline: boolean;
  help: boolean;
}

class UsageError extends Error {}

function integer(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw) || n < min || n > max) throw new UsageError(`--${name} expects an integer from ${min} to ${max}, got '${raw}'`);
  return n;
}

function parse(args: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true, strict: true,
      options: {
        html: { type: 'string' }, json: { type: 'boolean' }, tokens: { type: 'boolean' }, jsonl: { type: 'boolean' }, field: { type: 'string' },
        threshold: { type: 'string' }, 'top-k': { type: 'string' }, 'no-baselines': { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' },
        model: { type: 'string', short: 'm' }, threads: { type: 'string', short: 'T' }, lanes: { type: 'string' }, ctx: { type: 'string' },
        window: { type: 'string' }, overlap: { type: 'string' }, 'chunk-size': { type: 'string' }, 'gpu-layers': { type: 'string' },
        offline: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
  const v = parsed.values;
  const threshold = v.threshold === undefined ? DEFAULT_THRESHOLD_BITS : Number(v.threshold);
  if (!Number.isFinite(threshold) || threshold < 0) throw new UsageError(`--threshold expects a number of bits, got '${v.threshold}'`);
  const o: Options = {
    files: parsed.positionals, html: v.html, json: v.json ?? false, tokens: v.tokens ?? false, jsonl: v.jsonl ?? false, field: v.field,
    thresholdBits: threshold, topK: integer('top-k', v['top-k'], 0, MAX_TOP_K) ?? DEFAULT_TOP_K, baselines: !v['no-baselines'],
    quiet: v.quiet ?? false, model: v.model, threads: integer('threads', v.threads, 1, 1024), lanes: integer('lanes', v.lanes, 1, 256),
    window: integer('ctx', v.ctx ?? v.window, 8, 1 << 20), overlap: integer('overlap', v.overlap, 0, 1 << 20),
    chunkSize: integer('chunk-size', v['chunk-size'], 64, 1 << 24), gpuLayers: integer('gpu-layers', v['gpu-layers'], -1, 100000),
    offline: v.offline ?? false, help: v.help ?? false,
  };
  if (o.help) return o;
  if (o.files.length === 0) throw new UsageError('no input FILE (use - for standard input)');
  if (o.html !== undefined && o.files.length > 1) throw new UsageError('--html takes one input FILE');
  if (o.field !== undefined && !o.jsonl) throw new UsageError('--field goes with --jsonl');
  if (o.tokens && !o.json) throw new UsageError('--tokens goes with --json');
  if (o.jsonl && (o.json || o.html !== undefined)) throw new UsageError('--jsonl cannot be combined with --json or --html');
  return o;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(parts);
}

/**
 * Runs `lmzip analyze …`.
 * @example
 * process.exitCode = await runAnalyzeCommand(['--html', 'out.html', 'story.txt'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
 */
export async function runAnalyzeCommand(args: string[], io: AnalyzeCommandIo): Promise<number> {
  let o: Options;
  try {
    o = parse(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`lmzip analyze: ${e.message}\nTry 'lmzip analyze --help' for more information.\n`);
    return 2;
  }
  if (o.help) {
    io.stdout.write(ANALYZE_HELP);
    return 0;
  }
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  let opened: Awaited<ReturnType<typeof openModel>> | undefined;
  let analyzer: Analyzer | undefined;
  let status = 0;
  try {
    const reference = o.model ?? defaultModelReference(io.env);
    opened = await openModel(reference, { threads: o.threads, gpuLayers: o.gpuLayers }, { env: io.env, offline: o.offline || undefined, signal: controller.signal });
    let progress: { bar?: ProgressBar; base: number } = { base: 0 };
    analyzer = await Analyzer.create(opened.model, {
      lanes: o.lanes, window: o.window, overlap: o.overlap, chunkSize: o.chunkSize, topK: o.jsonl ? 0 : o.topK, signal: controller.signal,
      onProgress: (done, total) => progress.bar?.update(progress.base + done, progress.base + total),
    });
    const bar = (label: string) => {
      progress.bar?.finish();
      progress = { bar: o.quiet ? undefined : new ProgressBar({ stream: io.stderr, label, unit: 'tokens' }), base: 0 };
      return progress;
    };
    if (o.jsonl) {
      bar('analyze');
      const failed = { count: 0 };
      for await (const summary of analyzeDocuments(corpusDocuments(o, io, failed), analyzer, { thresholdBits: o.thresholdBits })) {
        progress.base += summary.tokens;
        io.stdout.write(`${JSON.stringify(summary)}\n`);
      }
      progress.bar?.finish();
      return failed.count > 0 ? 1 : 0;
    }
    for (const file of o.files) {
      try {
        const data = file === '-' ? await readAll(io.stdin) : await readInput(file);
        const p = bar(file === '-' ? '(stdin)' : file);
        const frames: FrameAnalysis[] = [];
        for await (const f of analyzer.frames(data)) {
          p.base += f.tokens.length;
          frames.push(f);
        }
        p.bar?.finish();
        const analysis = analyzer.collect(frames, data, analyzer.chunkSizeFor(data.length, o.chunkSize));
        const baselines = await classicalBaselines(data, { programs: o.baselines });
        const name = file === '-' ? '(stdin)' : file;
        const report = buildReport(name, analysis, baselines, { thresholdBits: o.thresholdBits, records: o.tokens });
        if (o.json) io.stdout.write(`${JSON.stringify(report, null, o.files.length > 1 ? undefined : 2)}\n`);
        else io.stdout.write(formatReport(report));
        if (o.html !== undefined) {
          await writeFile(o.html, renderHtmlReport(analysis, report, baselines));
          if (!o.json) io.stdout.write(`\nHTML report: ${o.html}\n`);
        }
      } catch (e) {
        if (controller.signal.aborted) throw e;
        io.stderr.write(`lmzip analyze: ${file}: ${describe(e)}\n`);
        status = 1;
      }
    }
    return status;
  } catch (e) {
    io.stderr.write(`lmzip analyze: ${describe(e)}\n`);
    return controller.signal.aborted ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    analyzer?.dispose();
    if (opened?.owned) opened.model.dispose();
  }
}

function describe(e: unknown): string {
  const err = toLmzipError(e);
  return `${err.message.replace(/\s*\n\s*/g, ' ')} [${err.code}]`;
}

async function readInput(path: string): Promise<Buffer> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new LmzipError(ErrorCode.IO_ERROR, 'is a directory');
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LmzipError(ErrorCode.FILE_NOT_FOUND, 'no such file');
    if (code === 'EACCES') throw new LmzipError(ErrorCode.IO_ERROR, 'permission denied');
    throw e;
  }
}

/**
 * The documents of corpus mode: whole files (read at once when small, streamed when
 * large), or the lines of JSONL files (--field). A document that cannot be read is
 * reported on stderr and skipped; `failed` counts them.
 */
async function* corpusDocuments(o: Options, io: AnalyzeCommandIo, failed: { count: number }): AsyncGenerator<CorpusDocument> {
  const skip = (where: string, message: string) => {
    io.stderr.write(`lmzip analyze: ${where}: ${message}\n`);
    failed.count++;
  };
  for (const file of o.files) {
    if (o.field === undefined) {
      if (file === '-') {
        yield { file: '(stdin)', data: await readAll(io.stdin) };
        continue;
      }
      let size: number;
      try {
        const st = await stat(file);
        if (!st.isFile()) throw new LmzipError(ErrorCode.IO_ERROR, 'not a regular file');
        size = st.size;
      } catch (e) {
        skip(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file [FILE_NOT_FOUND]' : describe(e));
        continue;
      }
      if (size <= BATCH_BYTES) yield { file, data: await readFile(file) };
      else yield { file, size, stream: () => createReadStream(file) };
      continue;
    }
    let line = 0;
    let input: NodeJS.ReadableStream = io.stdin;
    if (file !== '-') {
      const stream = createReadStream(file);
      try {
        await new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject));
      } catch (e) {
        skip(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file [FILE_NOT_FOUND]' : describe(e));
        continue;
      }
      input = stream;
    }
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      let record: Record<string, unknown> | undefined;
      try {
        record = JSON.parse(text) as Record<string, unknown>;
      } catch {
        skip(`${file}:${line}`, 'not a JSON line');
        continue;
      }
      const value = record?.[o.field];
      if (typeof value !== 'string') {
        skip(`${file}:${line}`, `no string field "${o.field}"`);
        continue;
      }
      yield { file, line, ...(record.id !== undefined ? { id: record.id } : {}), data: Buffer.from(value, 'utf8') };
    }
  }
}
