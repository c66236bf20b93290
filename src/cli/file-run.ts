/**
 * What the file commands (compress, decompress, test, list) share during one run of
 * `lmzip`: the options, the streams, the cancellation signal, messages, progress
 * bars, and the models loaded so far (each once per run, whatever the file count).
 */
import type { CompressStreamOptions } from '../stream.js';
import { nativeBindingNote } from '../native.js';
import type { DecompressOptions } from '../compress.js';
import { Model } from '../model.js';
import { defaultModelReference, resolveModel } from '../models/index.js';
import { modelIdentity } from '../codec.js';
import { openModelForFile } from '../model-source.js';
import { scanArchive } from '../archive/scan.js';
import { fileSource } from '../archive/source.js';
import type { CliOptions } from './args.js';
import { printable } from './output.js';
import { JsonProgress, ProgressBar, type ProgressSink, type RunProgress } from './progress.js';
import { DEFAULT_BLOCK_SIZE } from '../settings.js';

export interface Io {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

/**
 * The CLI streams to disk, so it sets no output limit of its own (files over 4 GiB
 * decode, and so does the verify step): the largest value the library accepts.
 */
export const NO_OUTPUT_LIMIT = Number.MAX_SAFE_INTEGER;

export class FileRun {
  readonly options: CliOptions;
  readonly io: Io;
  readonly signal: AbortSignal;
  #models = new Map<string, Promise<Model>>();
  /** Models that files name, loaded for decoding (by hash and profile), once per run. */
  #fileModels = new Map<string, Promise<Model | undefined>>();
  /** The canonical reference each loaded model was resolved from (recorded in files). */
  #references = new WeakMap<Model, string>();
  /** The overall progress of a run over several files (set by the files command), else undefined. */
  runProgress: RunProgress | undefined;

  constructor(options: CliOptions, io: Io, signal: AbortSignal) {
    this.options = options;
    this.io = io;
    this.signal = signal;
  }

  /** A warning on stderr (not with -q); `name`s in it must already be printable. */
  warn(message: string): void {
    if (this.options.quiet) return;
    this.runProgress?.interrupt();
    this.io.stderr.write(`lmzip: ${message}\n`);
  }

  /** Information asked for (-v, -t -v) on stderr. */
  info(message: string): void {
    this.runProgress?.interrupt();
    this.io.stderr.write(`${message}\n`);
  }

  /** A progress bar on a terminal, unless -q; undefined otherwise. */
  progressBar(label: string, total: number | undefined, showAfterMs = 0): ProgressBar | undefined {
    if (this.options.quiet || !this.io.stderr.isTTY) return undefined;
    this.runProgress?.interrupt();
    return new ProgressBar({ stream: this.io.stderr, label: printable(label), total, unit: 'bytes', showAfterMs });
  }

  /**
   * Progress of one file as --progress asks: a bar on a terminal (not with -q), JSON
   * lines on stderr (--progress=json, even with -q: they were asked for), or nothing.
   * In a run over several files the run's one line replaces the file's bar, and the
   * JSON lines carry the run's totals.
   */
  fileProgress(label: string, total: number | undefined, startAt = 0): ProgressSink | undefined {
    const o = this.options;
    const run = this.runProgress;
    const own = o.progress === 'json'
      ? new JsonProgress({ stream: this.io.stderr, file: label, total, blockSize: o.blockSize ?? DEFAULT_BLOCK_SIZE, startAt, run })
      : o.progress === 'none' || run ? undefined : this.progressBar(label, total);
    return run ? run.file(printable(label), total, startAt, own) : own;
  }

  /** Loads a model once per reference for all files of this run. */
  model(reference: string): Promise<Model> {
    let p = this.#models.get(reference);
    if (!p) {
      p = (async () => {
        const bar = this.progressBar(`model ${reference}`, undefined, 1000); // a quick load shows nothing
        const resolved = await resolveModel(reference, {
          offline: this.options.offline || undefined, env: this.io.env, signal: this.signal,
          onProgress: bar ? (received, total) => bar.update(received, total) : undefined,
          onDownloadStart: (info) => this.warn(`downloading ${printable(info.reference)} from ${printable(info.url)}`),
        });
        const model = await Model.load(resolved.path, { threads: this.options.threads, gpuLayers: this.options.gpuLayers, backend: this.options.backend, signal: this.signal });
        if (nativeBindingNote) this.warn(nativeBindingNote.replace(/^lmzip: /, ''));
        bar?.finish();
        const asked = this.options.threads;
        if (asked !== undefined && model.threads < asked)
          this.warn(`-T ${asked}: there are only ${model.threads} cores here; using ${model.threads} threads at most`);
        this.#references.set(model, resolved.reference);
        return model;
      })();
      this.#models.set(reference, p);
    }
    return p;
  }

  /** The model and settings to compress with (-m, else LMZIP_MODEL, else the default). */
  async compressOptions(sizeHint: number | undefined): Promise<CompressStreamOptions & { model: Model }> {
    const o = this.options;
    const reference = o.model ?? defaultModelReference(this.io.env);
    const model = await this.model(reference);
    return { model, modelReference: this.#references.get(model) ?? reference, sizeHint, lanes: o.lanes,
      window: o.ctx, overlap: o.overlap, chunkSize: o.chunkSize, mix: o.mix, signal: this.signal,
      blockSize: o.blockSize, recordModelPath: o.recordModelPath || undefined, ...(o.shard !== undefined ? { index: 'always' as const } : {}) };
  }

  /**
   * The model that decodes every member of the file at `path` when no -m is given: the
   * one its headers name, found and loaded once per run however many files name it
   * (-d -r of a directory loads it once). Undefined when the file needs no model, names
   * several, or cannot be read: its decoder then finds the model itself, or reports.
   */
  async modelForFile(path: string): Promise<Model | undefined> {
    if (this.options.model) return undefined;
    let headers;
    try {
      const source = await fileSource(path);
      try {
        headers = (await scanArchive(source)).map((m) => m.header).filter((h) => !h.modelFree);
      } finally {
        await source.close();
      }
    } catch {
      return undefined;
    }
    const keys = new Set(headers.map((h) => `${modelIdentity(h).sha256} ${h.profile}`));
    if (keys.size !== 1) return undefined;
    const [key] = keys;
    let p = this.#fileModels.get(key);
    if (!p) {
      const h = headers[0];
      const want = modelIdentity(h);
      p = openModelForFile({ modelSha256: want.sha256, modelReference: want.name, profile: h.profile }, undefined,
        { threads: this.options.threads, gpuLayers: this.options.gpuLayers, backend: this.options.backend, signal: this.signal },
        { env: this.io.env, signal: this.signal }).then((opened) => opened.model, () => undefined);
      this.#fileModels.set(key, p);
    }
    return p;
  }

  /** Options to decode with: -m's model if given (else the file's own), no output limit. */
  async decompressOptions(model?: Model): Promise<DecompressOptions> {
    const chosen = model ?? (this.options.model ? await this.model(this.options.model) : undefined);
    return { model: chosen, signal: this.signal, maxOutputLength: NO_OUTPUT_LIMIT,
      threads: this.options.threads, gpuLayers: this.options.gpuLayers, backend: this.options.backend };
  }

  dispose(): void {
    for (const p of this.#models.values()) p.then((m) => m.dispose(), () => {});
    for (const p of this.#fileModels.values()) p.then((m) => m?.dispose(), () => {});
  }
}
