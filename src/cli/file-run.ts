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
import type { CliOptions } from './args.js';
import { printable } from './output.js';
import { ProgressBar } from './progress.js';

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
  /** The canonical reference each loaded model was resolved from (recorded in files). */
  #references = new WeakMap<Model, string>();

  constructor(options: CliOptions, io: Io, signal: AbortSignal) {
    this.options = options;
    this.io = io;
    this.signal = signal;
  }

  /** A warning on stderr (not with -q); `name`s in it must already be printable. */
  warn(message: string): void {
    if (!this.options.quiet) this.io.stderr.write(`lmzip: ${message}\n`);
  }

  /** Information asked for (-v, -t -v) on stderr. */
  info(message: string): void {
    this.io.stderr.write(`${message}\n`);
  }

  /** A progress bar on a terminal, unless -q; undefined otherwise. */
  progressBar(label: string, total: number | undefined, showAfterMs = 0): ProgressBar | undefined {
    if (this.options.quiet || !this.io.stderr.isTTY) return undefined;
    return new ProgressBar({ stream: this.io.stderr, label: printable(label), total, unit: 'bytes', showAfterMs });
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
      window: o.ctx, overlap: o.overlap, chunkSize: o.chunkSize, mix: o.mix, signal: this.signal };
  }

  /** Options to decode with: -m's model if given (else the file's own), no output limit. */
  async decompressOptions(model?: Model): Promise<DecompressOptions> {
    const chosen = model ?? (this.options.model ? await this.model(this.options.model) : undefined);
    return { model: chosen, signal: this.signal, maxOutputLength: NO_OUTPUT_LIMIT,
      threads: this.options.threads, gpuLayers: this.options.gpuLayers, backend: this.options.backend };
  }

  dispose(): void {
    for (const p of this.#models.values()) p.then((m) => m.dispose(), () => {});
  }
}
