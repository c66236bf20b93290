/**
 * A GGUF model loaded into llama.cpp, reusable across many compress/decompress calls.
 */
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { ErrorCode, LmzipError, toLmzipError } from './errors.js';
import { fingerprintFile } from './fingerprint.js';
import { backendOption, resolveBackend, type Backend } from './backend.js';
import { type NativeModel, type NativeModelFacts, type NativeSession, type NativeSessionParams, type NativeTokenPlan } from './native.js';
import { booleanOption, integerOption, invalid } from './validate.js';

export interface LoadModelOptions {
  /** Threads for evaluation (default: 1 for models under 100M parameters, else one per core). */
  threads?: number;
  /** "auto" (default: LMZIP_BACKEND, else auto) uses a GPU when one is usable; "cpu" never does; "cuda" must. */
  backend?: Backend;
  /** Layers to offload to the GPU (default: all when on a GPU; 0 = CPU only; -1 = all). */
  gpuLayers?: number;
  /** Load only the vocabulary (tokenize/detokenize, no compression). */
  vocabOnly?: boolean;
}

export interface ModelFacts extends NativeModelFacts {
  /** Absolute path of the GGUF file. */
  path: string;
  /** Size of the GGUF file in bytes. */
  fileSize: number;
}

const GGUF_MAGIC = Buffer.from('GGUF', 'latin1');

/** Checks that a path is a readable GGUF file before llama.cpp sees it. */
async function checkGgufFile(path: string): Promise<number> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LmzipError(ErrorCode.MODEL_NOT_FOUND, `model file not found: ${path}`);
    if (code === 'EISDIR') throw new LmzipError(ErrorCode.MODEL_INVALID, `model path is a directory, not a GGUF file: ${path}`);
    throw new LmzipError(ErrorCode.MODEL_NOT_FOUND, `cannot open model file ${path}: ${(e as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new LmzipError(ErrorCode.MODEL_INVALID, `model path is a directory, not a GGUF file: ${path}`);
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    if (bytesRead === 0) throw new LmzipError(ErrorCode.MODEL_INVALID, `model file is empty: ${path}`);
    if (bytesRead < 4 || !head.equals(GGUF_MAGIC))
      throw new LmzipError(ErrorCode.MODEL_INVALID, `not a GGUF model file (no GGUF magic): ${path}`);
    return st.size;
  } finally {
    await handle.close();
  }
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
    const abs = resolve(path);
    const fileSize = await checkGgufFile(abs);
    try {
      const { backend, gpuLayers, binding } = resolveBackend(backendRequested, gpuLayersOption);
      const nativeModel = await binding.loadModel(abs, { gpuLayers, vocabOnly });
      const threads = threadsOption ?? defaultThreads(nativeModel.facts().parameterCount);
      return new Model(nativeModel, abs, fileSize, threads, gpuLayers, backend);
    } catch (e) {
      const err = toLmzipError(e);
      if (err.code === ErrorCode.MODEL_LOAD_FAILED)
        throw new LmzipError(err.code, `${err.message} (${abs})`, { cause: e });
      throw err;
    }
  }

  /**
   * The SHA-256 of the GGUF file: the identity recorded in every .lmz file (cached).
   * @example
   * const id = await model.fingerprint(); // '270cba1b…'
   */
  fingerprint(): Promise<string> {
    this.#fingerprint ??= fingerprintFile(this.facts.path);
    return this.#fingerprint;
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
 * (measured: docs/benchmark.md), so models under 100M parameters use one thread;
 * larger ones use one per available core.
 */
export function defaultThreads(parameterCount: number): number {
  if (parameterCount < 100e6) return 1;
  return Math.max(1, Math.min(availableParallelism(), 64));
}
