/**
 * Which backend a model runs on, decided once per Model.load from the `backend` option
 * (default: LMZIP_BACKEND, else "auto") and `gpuLayers`:
 *
 *   cpu   never touches a GPU: the CPU binary when it is the first choice in the process,
 *         and no GPU device in llama.cpp in any case (native/model.cpp, gpuLayers 0);
 *   cuda  every layer on the GPU (or `gpuLayers` of them); GPU_UNAVAILABLE when there is
 *         no CUDA build, no driver or no GPU;
 *   auto  cuda when a usable GPU is there, else cpu.
 */
import { ErrorCode, LmzipError } from './errors.js';
import { BACKENDS, backendFromEnvironment, native, nativeBindingBackend, type Backend, type NativeBinding } from './native.js';
import { invalid } from './validate.js';

export type { Backend } from './native.js';

export interface ResolvedBackend {
  backend: 'cpu' | 'cuda';
  /** Layers to offload: 0 on the CPU, -1 (all) by default on a GPU. */
  gpuLayers: number;
  binding: NativeBinding;
}

/** Checks a `backend` option. */
export function backendOption(value: unknown): Backend | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(BACKENDS as readonly string[]).includes(value)) throw invalid('backend', '"auto", "cpu" or "cuda"', value);
  return value as Backend;
}

/**
 * @example const { backend, gpuLayers, binding } = resolveBackend('auto', undefined);
 */
export function resolveBackend(requested: Backend | undefined, gpuLayers: number | undefined): ResolvedBackend {
  const backend = requested ?? backendFromEnvironment();
  if (backend === 'cpu') {
    if (gpuLayers) throw invalid('gpuLayers', '0 with backend "cpu"', gpuLayers);
    return { backend: 'cpu', gpuLayers: 0, binding: native('cpu') };
  }
  const binding = native(backend);
  const gpus = nativeBindingBackend === 'cuda' ? (binding.gpuInfo()?.devices ?? []) : [];
  if (backend === 'cuda') {
    if (!gpus.length) {
      const why = binding.gpuInfo()?.error;
      throw new LmzipError(ErrorCode.GPU_UNAVAILABLE, `backend cuda: the CUDA runtime finds no usable GPU${why ? ` (${why})` : ''}`);
    }
    if (gpuLayers === 0) throw invalid('gpuLayers', 'a non-zero layer count with backend "cuda"', gpuLayers);
  }
  if (!gpus.length || gpuLayers === 0) return { backend: 'cpu', gpuLayers: 0, binding };
  return { backend: 'cuda', gpuLayers: gpuLayers ?? -1, binding };
}
