/**
 * The numeric profile: what, besides the model and the schedule, decides the logits
 * bit for bit. Two builds with equal profiles decode each other's files; a file whose
 * profile differs from the running build is refused before decoding (PROFILE_MISMATCH).
 * See docs/FORMAT.md, docs/DETERMINISM.md and docs/GPU.md.
 *
 * On the CPU: `isa=…;llama=…;backend=cpu;kv=f16`.
 * On a GPU, after the same isa and llama keys (the token embedding and the graph's input
 * stay on the CPU), `backend=cuda;kv=f16` and:
 *   gpu      the device's name (e.g. "NVIDIA H200")
 *   cc       its compute capability ("9.0"): which machine code runs
 *   sms      its multiprocessor count: ggml's stream-k MMQ kernels and cuBLAS split the
 *            work, and so the order of the sums, by it (a MIG slice has fewer)
 *   offload  layers on the GPU (repeating layers + the output layer when all are)
 *   cudart   the CUDA runtime linked in (e.g. 13000)
 *   cublas   the cuBLAS library loaded at run time (e.g. 130101): F16 products of attention
 *            go through it when a batch is large
 *   archs    the CUDA architectures compiled in (ggml picks kernels by the highest one ≤ cc)
 *   jit      only when no machine code for `cc` is in the binary: the driver's CUDA version,
 *            whose compiler then turns the PTX into machine code
 */
import type { Model } from './model.js';
import { backendFromEnvironment, native, type Backend, type NativeGpuInfo } from './native.js';

/** Profile values may not contain the separators. */
const clean = (v: string | number) => String(v).replace(/[;=]/g, '_');

/**
 * @example numericProfile(model) // 'isa=x86_64-avx2-fma-f16c;llama=v0.5.0-de3f…;backend=cpu;kv=f16'
 */
export function numericProfile(model: Model): string {
  const binding = native();
  const info = binding.backendInfo();
  const base = `isa=${info.isa};llama=${info.llamaCommit}`;
  if (model.backend !== 'cuda') return `${base};backend=cpu;kv=f16`;
  return `${base};backend=cuda;kv=f16;${gpuProfileKeys(binding.gpuInfo()!, model.gpuLayers, model.facts.layerCount)}`;
}

/** The GPU keys of a profile (see the top of this file). The model runs on device 0. */
export function gpuProfileKeys(gpu: NativeGpuInfo, gpuLayers: number, layerCount: number): string {
  const d = gpu.devices[0]!;
  const offload = gpuLayers < 0 ? layerCount + 1 : Math.min(gpuLayers, layerCount + 1);
  const keys = [
    `gpu=${clean(d.name)}`,
    `cc=${clean(d.computeCapability)}`,
    `sms=${d.multiprocessors}`,
    `offload=${offload}`,
    `cudart=${gpu.runtimeVersion}`,
    `cublas=${gpu.cublasVersion}`,
    `archs=${clean(gpu.architectures)}`,
  ];
  if (!hasMachineCode(gpu.architectures, d.computeCapability)) keys.push(`jit=${gpu.driverVersion}`);
  return keys.join(';');
}

/**
 * Whether the binary holds machine code that runs on compute capability `cc`: code for
 * X.Y runs on X.Z with Z ≥ Y ("86-real" runs on 8.9); "90-virtual" is PTX only.
 */
export function hasMachineCode(architectures: string, cc: string): boolean {
  const [major, minor] = cc.split('.').map(Number) as [number, number];
  return architectures.split(/[,;]/).some((a) => {
    const m = /^(\d+)(\d)[af]?(-real)?$/.exec(a.trim());
    return m !== null && Number(m[1]) === major && Number(m[2]) <= minor;
  });
}

function parse(profile: string): Map<string, string> {
  return new Map(profile.split(';').map((kv) => kv.split('=', 2) as [string, string]));
}

/** Explains which parts of two profiles differ, for error messages. */
export function describeProfileDifference(fileProfile: string, ours: string): string {
  const a = parse(fileProfile);
  const b = parse(ours);
  const diffs: string[] = [];
  for (const key of new Set([...a.keys(), ...b.keys()]))
    if (a.get(key) !== b.get(key)) diffs.push(`${key}: file has ${a.get(key) ?? '(none)'}, this build has ${b.get(key) ?? '(none)'}`);
  return diffs.join('; ');
}

/** What would decode a file with this profile, in words, for PROFILE_MISMATCH messages. */
export function howToDecode(fileProfile: string): string {
  const p = parse(fileProfile);
  const build = `lmzip with llama.cpp ${p.get('llama') ?? '?'} built for ${p.get('isa') ?? '?'}`;
  if (p.get('backend') === 'cuda')
    return `decompress it with ${build} and its CUDA build (archs ${p.get('archs')}, cuBLAS ${p.get('cublas')}) on a ${p.get('gpu')} ` +
      `(compute capability ${p.get('cc')}, ${p.get('sms')} multiprocessors) with --backend cuda` +
      (p.get('offload') ? ` and ${p.get('offload')} layers offloaded` : '');
  if (p.get('backend') === 'cpu') return `decompress it with ${build} on the CPU (--backend cpu)`;
  return `decompress it with a build whose profile is ${fileProfile}`;
}

/**
 * The backend to load a model with for decoding a file: the one asked for, else the CPU
 * for a CPU-written file (a GPU machine would otherwise pick its GPU and refuse the file).
 * @example backendToDecode('isa=…;backend=cpu;kv=f16', undefined) // 'cpu'
 */
export function backendToDecode(fileProfile: string, requested: Backend | undefined, env: NodeJS.ProcessEnv = process.env): Backend | undefined {
  if (requested !== undefined) return requested;
  if (env.LMZIP_BACKEND) return backendFromEnvironment(env);
  return parse(fileProfile).get('backend') === 'cpu' ? 'cpu' : undefined;
}
