/**
 * The only module that touches the compiled addon. Everything native is declared
 * here, fully typed; the rest of lmzip imports these wrappers, never the binding.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
  startToken: number;
  tokenizerFingerprint: string;
  metadata: Record<string, string>;
}

export interface NativeSessionParams {
  lanes: number;
  window: number;
  overlap: number;
  threads: number;
  flashAttention: boolean;
  ubatch: number;
}

export interface NativeEncodeResult {
  modelCoded: Uint8Array;
  stripLeadingSpace: Uint8Array;
  tokenCounts: Uint32Array;
  byteCoded: Uint32Array;
  idealBits: Float64Array;
  /** −Σ log2 f(token)/total under the integer tables actually coded with (when measured). */
  tableBits: Float64Array;
  payloads: Uint8Array[];
}

/** encode's result plus per-token records, in chunk order (native/analyze.h). */
export interface NativeAnalyzeResult extends NativeEncodeResult {
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
}

export type NativeProgress = (done: number, total: number) => void;

export interface NativeSession {
  /** `allowModel[i] === 0` keeps chunk i out of the lane schedule (undefined: all allowed). */
  encode(data: Uint8Array, chunkLengths: Uint32Array, allowModel: Uint8Array | undefined, measureIdeal: boolean, cancel: Int32Array | undefined,
    onProgress: NativeProgress | undefined): Promise<NativeEncodeResult>;
  /** encode, recording every coded token (topK candidates each). */
  analyze(data: Uint8Array, chunkLengths: Uint32Array, allowModel: Uint8Array | undefined, measureIdeal: boolean, cancel: Int32Array | undefined,
    onProgress: NativeProgress | undefined, topK: number): Promise<NativeAnalyzeResult>;
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
  dispose(): void;
}

export interface NativeBackendInfo {
  isa: string;
  llamaCommit: string;
  systemInfo: string;
  gpuOffload: boolean;
  devices: string[];
}

export interface NativeBinding {
  loadModel(path: string, options: { gpuLayers: number; vocabOnly: boolean }): Promise<NativeModel>;
  backendInfo(): NativeBackendInfo;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the addon was loaded from (for `lmzip --version` and bug reports). */
export let nativeBindingPath = '';

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  const explicit = process.env.LMZIP_NATIVE_BINARY;
  if (explicit) {
    try {
      nativeBindingPath = resolve(explicit);
      return require(nativeBindingPath) as NativeBinding;
    } catch (e) {
      throw new LmzipError(ErrorCode.NATIVE_LOAD_FAILED,
        `LMZIP_NATIVE_BINARY=${explicit} could not be loaded: ${(e as Error).message}`, { cause: e });
    }
  }
  // node-gyp-build looks in build/Release, then prebuilds/<platform>-<arch>/.
  const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
  try {
    nativeBindingPath = nodeGypBuild.path(packageRoot);
    return require(nativeBindingPath) as NativeBinding;
  } catch (e) {
    tried.push(join(packageRoot, 'build/Release/lmzip.node'));
    tried.push(join(packageRoot, `prebuilds/${process.platform}-${process.arch}/`));
    const reason = (e as Error).message.split('\n')[0];
    const fix = existsSync(join(packageRoot, 'vendor/llama.cpp/CMakeLists.txt'))
      ? 'build it with `npm run build:native` (needs cmake and a C++ compiler)'
      : 'reinstall lmzip, or build from a git checkout with `npm ci`';
    throw new LmzipError(ErrorCode.NATIVE_LOAD_FAILED,
      `lmzip's native addon could not be loaded for ${process.platform}-${process.arch} (node ${process.version}): ${reason}. ` +
      `Tried: ${tried.join(', ')}. To fix: ${fix}, or point LMZIP_NATIVE_BINARY at a lmzip.node file.`, { cause: e });
  }
}

let binding: NativeBinding | undefined;

/** The loaded addon; loads it on first use so that importing lmzip never throws. */
export function native(): NativeBinding {
  binding ??= load();
  return binding;
}
