/**
 * A GGUF model loaded into llama.cpp, reusable across many compress/decompress calls.
 */
import { availableParallelism, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { ErrorCode, LmzipError, toLmzipError } from './errors.js';
import { fingerprintFile } from './fingerprint.js';
import { backendOption, resolveBackend, type Backend } from './backend.js';
import { openRegularFile } from './models/files.js';
import { type NativeModel, type NativeModelFacts, type NativeSession, type NativeSessionParams, type NativeTokenPlan } from './native.js';
import { booleanOption, integerOption, invalid, signalOption } from './validate.js';

export interface LoadModelOptions {
  /**
   * Most threads for evaluation, capped at the cores (default: 1 for models under 100M
   * parameters, else one per free core). Each session uses fewer when more are slower.
   */
  threads?: number;
  /** "auto" (default: LMZIP_BACKEND, else auto) uses a GPU when one is usable; "cpu" never does; "cuda" must. */
  backend?: Backend;
  /** Layers to offload to the GPU (default: all when on a GPU; 0 = CPU only; -1 = all). */
  gpuLayers?: number;
  /** Load only the vocabulary (tokenize/detokenize, no compression). */
  vocabOnly?: boolean;
  /** Stops the load (between tensors) with CANCELLED. */
  signal?: AbortSignal;
}

export interface ModelFacts extends NativeModelFacts {
  /** Absolute path of the GGUF file. */
  path: string;
  /** Size of the GGUF file in bytes. */
  fileSize: number;
}

const GGUF_MAGIC = Buffer.from('GGUF', 'latin1');

/**
 * Checks that a path is a readable GGUF file before llama.cpp sees it. Opened without
 * blocking: a FIFO, device or socket is refused, never waited on (native/model_guard.h
 * checks the file it actually loads again).
 */
async function checkGgufFile(path: string): Promise<number> {
  let file;
  try {
    file = await openRegularFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const notRegular = e as { notRegular?: boolean; isDirectory?: boolean };
    if (notRegular.isDirectory) throw new LmzipError(ErrorCode.MODEL_INVALID, `model path is a directory, not a GGUF file: ${path}`);
    if (notRegular.notRegular) throw new LmzipError(ErrorCode.MODEL_INVALID, `model path is not a regular file (a FIFO, device or socket): ${path}`);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new LmzipError(ErrorCode.MODEL_NOT_FOUND, `model file not found: ${path}`);
    throw new LmzipError(ErrorCode.MODEL_NOT_FOUND, `cannot open model file ${path}: ${(e as Error).message}`);
  }
  const { handle, stat } = file;
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    if (bytesRead === 0) throw new LmzipError(ErrorCode.MODEL_INVALID, `model file is empty: ${path}`);
    if (bytesRead < 4 || !head.equals(GGUF_MAGIC))
      throw new LmzipError(ErrorCode.MODEL_INVALID, `not a GGUF model file (no GGUF magic): ${path}`);
    return Number(stat.size);
  } finally {
    await handle.close();
  }
}

/** An Int32Array the native code polls: set to 1 when `signal` aborts. */
function cancelFlag(signal: AbortSignal | undefined): { flag: Int32Array; detach: () => void } {
  const flag = new Int32Array(1);
  if (!signal) return { flag, detach: () => {} };
  const onAbort = () => (flag[0] = 1);
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  return { flag, detach: () => signal.removeEventListener('abort', onAbort) };
}

export class Model {
  /** Facts about the model: architecture, sizes, vocabulary, every metadata key. */
  readonly facts: ModelFacts;
  /** Threads used for evaluation. */
  readonly threads: number;
  /** Layers offloaded to a GPU (-1: all). */
  readonly gpuLayers: number;
  /** Where the model runs. */
  readonly backend: 'cpu' | 'cuda';
  #native: NativeModel | undefined;
  #fingerprint: Promise<string> | undefined;

  private constructor(nativeModel: NativeModel, path: string, fileSize: number, threads: number, gpuLayers: number, backend: 'cpu' | 'cuda') {
    this.#native = nativeModel;
    this.facts = { ...nativeModel.facts(), path, fileSize };
    this.threads = threads;
    this.gpuLayers = gpuLayers;
    this.backend = backend;
  }

  /**
   * Loads a GGUF model from a path (off the main thread).
   * @example
   * const model = await Model.load('stories260K.gguf');
   * console.log(model.facts.architecture, model.facts.vocabSize);
   * model.dispose();
   */
  static async load(path: string, options: LoadModelOptions = {}): Promise<Model> {
    if (typeof path !== 'string' || path.length === 0) throw invalid('path', 'a non-empty string', path);
    if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
    const threadsOption = integerOption('threads', options.threads, 1, 1024);
    const gpuLayersOption = integerOption('gpuLayers', options.gpuLayers, -1, 100000);
    const backendRequested = backendOption(options.backend);
    const vocabOnly = booleanOption('vocabOnly', options.vocabOnly) ?? false;
    signalOption('signal', options.signal);
    const abs = resolve(path);
    const fileSize = await checkGgufFile(abs);
    const cancel = cancelFlag(options.signal);
    try {
      const { backend, gpuLayers, binding } = resolveBackend(backendRequested, gpuLayersOption);
      const nativeModel = await binding.loadModel(abs, { gpuLayers, vocabOnly }, cancel.flag);
      const threads = threadsOption !== undefined ? usableThreads(threadsOption) : defaultThreads(nativeModel.facts().parameterCount);
      return new Model(nativeModel, abs, fileSize, threads, gpuLayers, backend);
    } catch (e) {
      const err = toLmzipError(e);
      if (err.code === ErrorCode.MODEL_LOAD_FAILED)
        throw new LmzipError(err.code, `${err.message} (${abs})`, { cause: e });
      throw err;
    } finally {
      cancel.detach();
    }
  }

  /**
   * The SHA-256 of the GGUF file: the identity recorded in every .lmz file (cached).
   * @example
   * const id = await model.fingerprint(); // '270cba1b…'
   */
  fingerprint(options: { signal?: AbortSignal } = {}): Promise<string> {
    if (options.signal?.aborted) return Promise.reject(new LmzipError(ErrorCode.CANCELLED, 'the operation was cancelled'));
    const computing = (this.#fingerprint ??= fingerprintFile(this.facts.path, process.env, options.signal));
    // A cancelled hash is not remembered: the next call starts again.
    computing.catch(() => {
      if (this.#fingerprint === computing) this.#fingerprint = undefined;
    });
    return computing;
  }

  /**
   * Tokenizes bytes exactly as llama.cpp does (no special tokens).
   * @example
   * const ids = await model.tokenize(Buffer.from('Once upon a time'));
   */
  async tokenize(bytes: Uint8Array): Promise<Int32Array> {
    if (!(bytes instanceof Uint8Array)) throw invalid('bytes', 'a Uint8Array', bytes);
    return this.#call((m) => m.tokenize(bytes));
  }

  /**
   * The bytes a token sequence stands for: the concatenation of each token's piece.
   * SentencePiece vocabularies give back the leading space they add when tokenizing.
   * @example
   * const bytes = await model.detokenize(await model.tokenize(Buffer.from('hi')));
   */
  async detokenize(tokens: Int32Array | number[]): Promise<Uint8Array> {
    const ids = tokens instanceof Int32Array ? tokens : Int32Array.from(tokens);
    return this.#call((m) => m.detokenize(ids));
  }

  /**
   * The compressor's own tokenization of a chunk: exact for any bytes the vocabulary
   * can spell (falls back to single-byte tokens where the tokenizer cannot round-trip).
   * @example
   * const plan = await model.planTokens(Buffer.from([0xff, 0x41]));
   * if (plan.ok) assert.deepEqual(await model.detokenize(plan.tokens), …);
   */
  async planTokens(bytes: Uint8Array): Promise<NativeTokenPlan> {
    if (!(bytes instanceof Uint8Array)) throw invalid('bytes', 'a Uint8Array', bytes);
    return this.#call((m) => m.planTokens(bytes));
  }

  /** @internal A llama.cpp context with `lanes` sequences (see engine.h). */
  async createSession(params: NativeSessionParams): Promise<NativeSession> {
    return this.#call((m) => m.createSession(params));
  }

  /** @internal Bytes such a session is expected to allocate (engine.h, estimate_session_memory). */
  estimateSessionMemory(params: NativeSessionParams): number {
    if (!this.#native) throw new LmzipError(ErrorCode.MODEL_DISPOSED, 'this model has been disposed');
    return this.#native.estimateSessionMemory(params);
  }

  /** True once dispose() was called. */
  get disposed(): boolean {
    return this.#native === undefined;
  }

  /**
   * Frees the model's memory now (it is also freed when garbage-collected).
   * Jobs already running keep their own reference and finish normally.
   * @example
   * model.dispose();
   */
  dispose(): void {
    this.#native?.dispose();
    this.#native = undefined;
  }

  async #call<T>(fn: (m: NativeModel) => Promise<T>): Promise<T> {
    if (!this.#native) throw new LmzipError(ErrorCode.MODEL_DISPOSED, 'this model has been disposed');
    try {
      return await fn(this.#native);
    } catch (e) {
      throw toLmzipError(e);
    }
  }
}

/**
 * Threads to use when the caller names none. Small models spend each step mostly in
 * synchronisation, and ggml's spinning thread barrier collapses when cores are shared
 * (measured: docs/benchmark.md, docs/RELIABILITY.md), so models under 100M parameters
 * use one thread; larger ones one per core that is free now (cores minus the load
 * average). Whatever the count, each session measures it against one thread and uses
 * the faster (native/threads.h).
 *
 * @example
 * defaultThreads(135e6) // 2 on two idle cores, 1 while they are busy
 */
export function defaultThreads(parameterCount: number): number {
  if (parameterCount < 100e6) return 1;
  return Math.max(1, Math.min(freeCores(), 64));
}

/** Cores not busy with other work right now: the cores lmzip may use, less the 1-minute load average. */
export function freeCores(): number {
  const [load] = loadavg();
  return Math.max(1, Math.min(availableParallelism(), Math.round(availableParallelism() - load)));
}

/** More threads than cores can only wait on each other: a requested count is capped at the cores. */
export function usableThreads(requested: number): number {
  return Math.max(1, Math.min(requested, availableParallelism()));
}
