/**
 * The only module that touches the compiled addon. Everything native is declared
 * here, fully typed; the rest of lmzip imports these wrappers, never the binding.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, LmzipError } from './errors.js';

export interface NativeModelFacts {
  architecture: string;
  name: string;
  description: string;
  parameterCount: number;
  tensorBytes: number;
  vocabSize: number;
  vocabType: string;
  contextLength: number;
  layerCount: number;
  embeddingLength: number;
  vocabOnly: boolean;
  usesGpu: boolean;
  /** llama.cpp can move this model's cached positions (docs/FORMAT.md, SHIFT_CONTEXT). */
  canShiftContext: boolean;
  startToken: number;
  tokenizerFingerprint: string;
  metadata: Record<string, string>;
}

export interface NativeSessionParams {
  lanes: number;
  window: number;
  overlap: number;
  /** A full lane moves its kept positions down instead of feeding them again (docs/FORMAT.md, SHIFT_CONTEXT). */
  shiftContext?: boolean;
  /** With shiftContext: a shift first moves the lane's kept cells to its lowest cache cells (docs/FORMAT.md, COMPACT_SHIFT). */
  compactShift?: boolean;
  threads: number;
  flashAttention: boolean;
  ubatch: number;
  /** docs/FORMAT.md "Coding methods" (default 1, the model alone). */
  codingMethod?: number;
  methodParams?: Uint8Array;
}

/** One block's chunks after encodeBlock (format v2). */
export interface NativeBlockResult {
  modelCoded: Uint8Array;
  stripLeadingSpace: Uint8Array;
  tokenCounts: Uint32Array;
  byteCoded: Uint32Array;
  /** −Σ log2 p(token) from the float logits, per chunk, when measured. */
  idealBits: Float64Array;
  /** −Σ log2 f(token)/total under the integer tables coded with, per chunk (always): the chunk's share of the stream. */
  tableBits: Float64Array;
  /** −Σ log2 f(token)/total under the model's tables alone (= tableBits for coding method 1; the mixer saved modelBits − tableBits). */
  modelBits: Float64Array;
  /** The block's model stream: every model-coded token, in schedule order. */
  stream: Uint8Array;
}

/** encodeBlock's result plus per-token records, in chunk order (native/analyze.h). */
export interface NativeAnalyzeResult extends NativeBlockResult {
  topK: number;
  tokens: Int32Array;
  /** Bytes of the chunk each token stands for (the planner's leading space not counted). */
  byteLengths: Uint32Array;
  /** −log2 f(token)/total under the coder's integer table. */
  bits: Float64Array;
  /** Entropy of that table, in bits. */
  entropy: Float32Array;
  /** 1 = the model's first choice. */
  rank: Uint32Array;
  /** topK ids per token, most likely first (−1 past the vocabulary). */
  topIds: Int32Array;
  topProbs: Float32Array;
  /** Σ bits per chunk in token order: the compressor's tableBits for the chunk. */
  chunkBits: Float64Array;
  chunkTokens: Uint32Array;
  /** The pieces (bytes) of every id in tokens and topIds. */
  pieceIds: Int32Array;
  pieceLengths: Uint32Array;
  pieceBytes: Uint8Array;
}

export interface NativeTokenPlan {
  ok: boolean;
  stripLeadingSpace: boolean;
  byteCoded: number;
  tokens: Int32Array;
  /** Each token's length in bytes (its piece; the first includes a stripped space). */
  pieceLengths: Uint32Array;
}

export type NativeProgress = (done: number, total: number) => void;

/** Progress callbacks count bytes of model-coded chunks done and in all. */
export interface NativeSession {
  /** Format v2: codes a block's chunks; `allowModel[i] === 0` keeps chunk i out of the lane schedule (undefined: all allowed). */
  encodeBlock(data: Uint8Array, chunkLengths: Uint32Array, allowModel: Uint8Array | undefined, measureIdeal: boolean,
    cancel: Int32Array | undefined, onProgress: NativeProgress | undefined): Promise<NativeBlockResult>;
  /** encodeBlock, also recording every coded token (topK candidates each): lmzip analyze. */
  analyzeBlock(data: Uint8Array, chunkLengths: Uint32Array, allowModel: Uint8Array | undefined, measureIdeal: boolean,
    cancel: Int32Array | undefined, onProgress: NativeProgress | undefined, topK: number): Promise<NativeAnalyzeResult>;
  /** Format v2: decodes a block's model-coded chunks (sizes and flags in chunk order) from its stream. */
  decodeBlock(stream: Uint8Array, originalSizes: Uint32Array, stripLeadingSpace: Uint8Array,
    cancel: Int32Array | undefined, onProgress: NativeProgress | undefined): Promise<Uint8Array[]>;
  /** Format v1: decodes a frame's model-coded chunks, each from its own payload. */
  decode(payloads: Uint8Array[], tokenCounts: Uint32Array, originalSizes: Uint32Array, stripLeadingSpace: Uint8Array,
    cancel: Int32Array | undefined, onProgress: NativeProgress | undefined): Promise<Uint8Array[]>;
  evaluate(tokens: Int32Array[], cancel: Int32Array | undefined, onProgress: NativeProgress | undefined): Promise<void>;
  dispose(): void;
}

export interface NativeModel {
  facts(): NativeModelFacts;
  tokenize(bytes: Uint8Array): Promise<Int32Array>;
  detokenize(tokens: Int32Array): Promise<Uint8Array>;
  planTokens(bytes: Uint8Array): Promise<NativeTokenPlan>;
  createSession(params: NativeSessionParams): Promise<NativeSession>;
  estimateSessionMemory(params: NativeSessionParams): number;
  dispose(): void;
}

export interface NativeBackendInfo {
  isa: string;
  llamaCommit: string;
  systemInfo: string;
  gpuOffload: boolean;
  devices: string[];
}

export interface NativeGpuDevice {
  name: string;
  /** e.g. "9.0" */
  computeCapability: string;
  multiprocessors: number;
  memoryBytes: number;
}

/** The CUDA runtime's view of the machine (native/gpu_info.h); null from a CPU-only build. */
export interface NativeGpuInfo {
  /** CUDA architectures compiled in, e.g. "80-real,86-real,89-real,90-real,90-virtual". */
  architectures: string;
  runtimeVersion: number;
  /** The CUDA version the driver supports (0: no driver). */
  driverVersion: number;
  /** major*10000 + minor*100 + patch of the cuBLAS library that was loaded. */
  cublasVersion: number;
  /** Why there are no devices, or "". */
  error: string;
  devices: NativeGpuDevice[];
}

export interface NativeBinding {
  /** `cancel[0] = 1` stops a load between tensors (it rejects with CANCELLED). */
  loadModel(path: string, options: { gpuLayers: number; vocabOnly: boolean }, cancel?: Int32Array): Promise<NativeModel>;
  backendInfo(): NativeBackendInfo;
  gpuInfo(): NativeGpuInfo | null;
  /** Coding method 2's parameter bytes for blocks of at most `blockBytes` bytes (docs/MIXING.md, "Parameters"). */
  mixParams(blockBytes: number): Uint8Array;
}

// ---- Loading: which binary -------------------------------------------------------------
//
// The CPU binary comes with lmzip (build/Release in a checkout, prebuilds/ in the package).
// The CUDA binary is a separate package, lmzip-linux-x64-cuda, that GPU users install
// beside lmzip (docs/GPU.md); a checkout's `LMZIP_CUDA=1 npm run build:native` makes
// build-cuda/Release/lmzip.node. With backend "auto" the CUDA binary is used when it is
// there, an NVIDIA driver is there, and the binary loads and sees a GPU in a child
// process (a binary that crashes on load must not take the caller down), else the CPU one.

/** Which compute backend to run on: "auto" uses a GPU when a usable one is there. */
export type Backend = 'auto' | 'cpu' | 'cuda';
export const BACKENDS: readonly Backend[] = ['auto', 'cpu', 'cuda'];
export const CUDA_PACKAGE = 'lmzip-linux-x64-cuda';

/** Where a CUDA binary may be: LMZIP_CUDA_BINARY, a checkout's build-cuda/, or the package. */
export interface CudaCandidate {
  path: string;
  source: 'env' | 'checkout' | 'package';
}

export interface BindingChoice {
  path: string;
  backend: 'cpu' | 'cuda';
  /** A one-line note for the user, when the CUDA build is there but not used. */
  note?: string;
}

/** What the loader's decision depends on; tests replace the parts that look at the machine. */
export interface LoaderProbes {
  /** The CPU binary's path; throws NATIVE_LOAD_FAILED when there is none. */
  cpuBinary(): string;
  /** Paths that may hold the CUDA binary, in order of preference (they need not exist). */
  cudaCandidates(): CudaCandidate[];
  /** Evidence that an NVIDIA driver is installed (e.g. its version line), or null. */
  nvidiaDriver(): string | null;
  /** Loads a binary in a child process and returns its gpuInfo(), or why it failed. */
  probe(path: string): { info?: NativeGpuInfo; error?: string };
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function packageVersion(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function gpuUnavailable(why: string): LmzipError {
  return new LmzipError(ErrorCode.GPU_UNAVAILABLE, `backend cuda: ${why}`);
}


/**
 * Decides which binary to load for `backend`. Pure apart from what `probes` look at.
 * @example chooseBinding('auto', defaultProbes()) // { path: '…/build/Release/lmzip.node', backend: 'cpu' }
 */
export function chooseBinding(backend: Backend, probes: LoaderProbes): BindingChoice {
  if (backend === 'cpu') return { path: probes.cpuBinary(), backend: 'cpu' };
  const candidate = probes.cudaCandidates().find((c) => existsSync(c.path));
  if (!candidate) {
    if (backend === 'cuda')
      throw gpuUnavailable(`lmzip's CUDA build is not installed: \`npm install ${CUDA_PACKAGE}\` (Linux x64, NVIDIA driver ≥ 580), or build it with \`LMZIP_CUDA=1 npm run build:native\``);
    return { path: probes.cpuBinary(), backend: 'cpu' };
  }
  const cudaBinary = candidate.path;
  const cpuInstead = (why: string): BindingChoice => {
    if (backend === 'cuda') throw gpuUnavailable(why);
    // A checkout's own build-cuda/ is no news to its developer: no note for that one.
    if (candidate.source === 'checkout') return { path: probes.cpuBinary(), backend: 'cpu' };
    return { path: probes.cpuBinary(), backend: 'cpu', note: `lmzip: the CUDA build is installed but ${why}; running on the CPU` };
  };
  if (!probes.nvidiaDriver()) return cpuInstead('no NVIDIA driver was found (no /proc/driver/nvidia/version, no libcuda.so.1)');
  const { info, error } = probes.probe(cudaBinary);
  if (!info) return cpuInstead(`it does not load (${cudaBinary}): ${error}`);
  if (!info.devices.length) return cpuInstead(`the CUDA runtime finds no usable GPU: ${info.error || 'no device'}`);
  if (!info.cublasVersion)
    return cpuInstead('cuBLAS 13 (libcublas.so.13) was not found: install the CUDA 13 toolkit, or `pip install nvidia-cublas` and set LMZIP_CUBLAS_DIR to its nvidia/cu13 folder (or add nvidia/cu13/lib to LD_LIBRARY_PATH)');
  return { path: cudaBinary, backend: 'cuda' };
}

/** Where libcuda.so.1 may be, besides what ld.so.cache lists. */
const DRIVER_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/nvidia/lib64', '/usr/lib/wsl/lib'];

/** The probes that look at this machine. */
export function defaultProbes(env: NodeJS.ProcessEnv = process.env): LoaderProbes {
  return {
    cpuBinary() {
      const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
      try {
        return nodeGypBuild.path(packageRoot);
      } catch (e) {
        const tried = [join(packageRoot, 'build/Release/lmzip.node'), join(packageRoot, `prebuilds/${process.platform}-${process.arch}/`)];
        const reason = (e as Error).message.split('\n')[0];
        const fix = existsSync(join(packageRoot, 'vendor/llama.cpp/CMakeLists.txt'))
          ? 'build it with `npm run build:native` (needs cmake and a C++ compiler)'
          : 'reinstall lmzip, or build from a git checkout with `npm ci`';
        throw new LmzipError(ErrorCode.NATIVE_LOAD_FAILED,
          `lmzip's native addon could not be loaded for ${process.platform}-${process.arch} (node ${process.version}): ${reason}. ` +
          `Tried: ${tried.join(', ')}. To fix: ${fix}, or point LMZIP_NATIVE_BINARY at a lmzip.node file.`, { cause: e });
      }
    },
    cudaCandidates() {
      const found: CudaCandidate[] = [{ path: join(packageRoot, 'build-cuda/Release/lmzip.node'), source: 'checkout' }];
      if (env.LMZIP_CUDA_BINARY) found.unshift({ path: resolve(env.LMZIP_CUDA_BINARY), source: 'env' });
      if (process.platform === 'linux' && process.arch === 'x64') {
        try {
          const dir = dirname(createRequire(join(packageRoot, 'package.json')).resolve(`${CUDA_PACKAGE}/package.json`));
          // A CUDA binary from another lmzip version would not match this JavaScript.
          if (packageVersion(dir) === packageVersion(packageRoot)) found.push({ path: join(dir, 'lmzip.node'), source: 'package' });
        } catch {
          /* not installed */
        }
      }
      return found;
    },
    nvidiaDriver() {
      try {
        return readFileSync('/proc/driver/nvidia/version', 'utf8').split('\n')[0]!;
      } catch {
        /* no kernel module visible (containers, WSL): look for the user-space driver */
      }
      const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean), ...DRIVER_DIRS];
      const lib = dirs.map((d) => join(d, 'libcuda.so.1')).find((p) => existsSync(p));
      if (lib) return lib;
      try {
        return readFileSync('/etc/ld.so.cache').includes('libcuda.so.1') ? 'libcuda.so.1 in ld.so.cache' : null;
      } catch {
        return null;
      }
    },
    probe(path) {
      const code = `process.stdout.write(JSON.stringify(require(${JSON.stringify(path)}).gpuInfo()))`;
      const r = spawnSync(process.execPath, ['-e', code], { env, encoding: 'utf8', timeout: 120_000 });
      if (r.status === 0) {
        try {
          const info = JSON.parse(r.stdout) as NativeGpuInfo | null;
          return info ? { info } : { error: 'it is not a CUDA build' };
        } catch {
          return { error: `unexpected output ${JSON.stringify(r.stdout.slice(0, 200))}` };
        }
      }
      const message = /Error: (.*)/.exec(r.stderr ?? '')?.[1] ?? (r.stderr ?? '').trim().split('\n').pop() ?? '';
      return { error: r.signal ? `it crashed (${r.signal})` : message || r.error?.message || `exit status ${r.status}` };
    },
  };
}

/** Where the addon was loaded from (for `lmzip --version` and bug reports). */
export let nativeBindingPath = '';
/** The backend the loaded addon was built for. */
export let nativeBindingBackend: 'cpu' | 'cuda' = 'cpu';
/** Set when the CUDA build is installed but the CPU one was loaded (one line, for the CLI to show). */
export let nativeBindingNote: string | undefined;

/** The backend asked for by LMZIP_BACKEND (default "auto"). */
export function backendFromEnvironment(env: NodeJS.ProcessEnv = process.env): Backend {
  const v = env.LMZIP_BACKEND;
  if (v === undefined || v === '') return 'auto';
  if ((BACKENDS as readonly string[]).includes(v)) return v as Backend;
  throw new LmzipError(ErrorCode.INVALID_ARGUMENT, `Expected auto, cpu or cuda for LMZIP_BACKEND but received ${JSON.stringify(v)}`);
}

function load(backend: Backend): NativeBinding {
  const explicit = process.env.LMZIP_NATIVE_BINARY;
  if (explicit) {
    try {
      nativeBindingPath = resolve(explicit);
      const b = require(nativeBindingPath) as NativeBinding;
      nativeBindingBackend = b.gpuInfo?.() ? 'cuda' : 'cpu';
      return b;
    } catch (e) {
      throw new LmzipError(ErrorCode.NATIVE_LOAD_FAILED,
        `LMZIP_NATIVE_BINARY=${explicit} could not be loaded: ${(e as Error).message}`, { cause: e });
    }
  }
  const choice = chooseBinding(backend, defaultProbes());
  nativeBindingNote = choice.note;
  try {
    const b = require(choice.path) as NativeBinding;
    nativeBindingPath = choice.path;
    nativeBindingBackend = choice.backend;
    return b;
  } catch (e) {
    throw new LmzipError(ErrorCode.NATIVE_LOAD_FAILED, `lmzip's native addon ${choice.path} could not be loaded: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
}

let binding: NativeBinding | undefined;

/**
 * The loaded addon; loads it on first use so that importing lmzip never throws. The first
 * call decides which binary the process uses: `backend` (default: LMZIP_BACKEND, else auto).
 * A later call that needs the GPU when the CPU binary was loaded gets GPU_UNAVAILABLE.
 */
export function native(backend?: Backend): NativeBinding {
  if (!binding) {
    binding = load(backend ?? backendFromEnvironment());
  } else if (backend === 'cuda' && nativeBindingBackend !== 'cuda') {
    throw gpuUnavailable(`this process loaded lmzip's CPU build first (${nativeBindingPath})${nativeBindingNote ? ` — ${nativeBindingNote.replace(/^lmzip: /, '')}` : ''}; ` +
      'choose the backend before the first model is loaded (LMZIP_BACKEND=cuda)');
  }
  return binding;
}
