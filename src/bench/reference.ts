/**
 * The benchmark's reference: llama.cpp's own `llama-batched-bench`, built from the vendored
 * tree by lmzip's CMakeLists.txt (LMZIP_LLAMA_TOOLS=ON), so that it has exactly the GGML_*
 * settings of the addon (ISA baseline, or CUDA with the same architectures and MMQ/FA
 * choices). Its S_TG — tokens per second while every sequence decodes one token per step —
 * is the physical limit of lmzip's engine at the same batch width: lmzip adds only the
 * frequency tables, the coder and the restarts.
 *
 * Matching: lmzip's lanes = batched-bench's -npl (one sequence per lane, non-unified KV
 * cache: -no-kvu, no flash attention: -fa off, n_ubatch 512, the same threads). The KV depth
 * of a step changes its cost, so -npp/-ntg are chosen to give the same average depth as
 * lmzip's coding steps: -npp = average depth − ntg/2 (averageDepth, referenceSteps below).
 * The KV cache has as many cells per sequence as lmzip's lanes hold (its window), because
 * llama.cpp attends over the used positions rounded up to 256, capped at the cells a
 * sequence has: a cache cut to -npp + -ntg would skip attention work that lmzip's
 * session, and llama.cpp with the same cache, does (referenceContext).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTimed } from './proc.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ReferenceBinary {
  path: string | null;
  /** Why there is none. */
  why?: string;
  /** Seconds spent building it in this run (0 when it was there). */
  buildSeconds: number;
}

/** The build folder of the reference for a backend (a sibling of build/ and build-cuda/). */
export function referenceBuildDir(cuda: boolean): string {
  return join(root, cuda ? 'build-bench-cuda' : 'build-bench');
}

function builtBinary(dir: string): string | null {
  for (const p of ['bin/llama-batched-bench', 'llama-batched-bench/llama-batched-bench']) if (existsSync(join(dir, p))) return join(dir, p);
  return null;
}

/**
 * Finds llama-batched-bench (LMZIP_BATCHED_BENCH, or an earlier build), else builds it
 * (a few minutes the first time, under `nice`; ccache makes llama.cpp's part quick).
 * @example const ref = findOrBuildReference({ cuda: false, log: console.error });
 */
export function findOrBuildReference(opts: { cuda: boolean; env?: NodeJS.ProcessEnv; log: (s: string) => void }): ReferenceBinary {
  const env = opts.env ?? process.env;
  if (env.LMZIP_BATCHED_BENCH) {
    return existsSync(env.LMZIP_BATCHED_BENCH)
      ? { path: env.LMZIP_BATCHED_BENCH, buildSeconds: 0 }
      : { path: null, why: `LMZIP_BATCHED_BENCH=${env.LMZIP_BATCHED_BENCH} does not exist`, buildSeconds: 0 };
  }
  const dir = referenceBuildDir(opts.cuda);
  const found = builtBinary(dir);
  if (found) return { path: found, buildSeconds: 0 };
  if (!existsSync(join(root, 'vendor/llama.cpp/tools/batched-bench/batched-bench.cpp')))
    return { path: null, why: 'building it needs a git checkout of lmzip (the npm package does not ship llama.cpp\'s tools); or set LMZIP_BATCHED_BENCH', buildSeconds: 0 };
  // cmake-js gives the addon's C++ files -DBUILDING_NODE_EXTENSION (cmake-js/lib/toolset.js);
  // the same flag here makes the compile commands identical, so ccache serves llama.cpp's
  // objects from the addon's build instead of compiling them again (35 min on 2 busy cores).
  const args = ['-S', root, '-B', dir, '-DCMAKE_BUILD_TYPE=Release', '-DLMZIP_LLAMA_TOOLS=ON', '-DCMAKE_CXX_FLAGS=-DBUILDING_NODE_EXTENSION'];
  if (spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0) args.push('-G', 'Ninja');
  if (env.LMZIP_CCACHE !== '0' && spawnSync('ccache', ['--version'], { stdio: 'ignore' }).status === 0)
    for (const lang of ['C', 'CXX', 'CUDA']) args.push(`-DCMAKE_${lang}_COMPILER_LAUNCHER=ccache`);
  if (env.LMZIP_NATIVE === '1') args.push('-DLMZIP_NATIVE=ON');
  if (opts.cuda) {
    args.push('-DLMZIP_CUDA=ON', `-DLMZIP_CUDA_ARCHITECTURES=${env.LMZIP_CUDA_ARCHITECTURES ?? ''}`);
    if (env.LMZIP_CUBLAS_DIR) args.push(`-DLMZIP_CUBLAS_DIR=${env.LMZIP_CUBLAS_DIR}`);
  }
  opts.log(`building llama-batched-bench into ${dir} (once; the same GGML settings as the addon)`);
  const started = Date.now();
  const nice = (cmd: string[]) => spawnSync('nice', ['-n', '10', ...cmd], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  let r = nice(['cmake', ...args]);
  if (r.status === 0) r = nice(['cmake', '--build', dir, '--target', 'llama-batched-bench', '-j', String(availableParallelism())]);
  const buildSeconds = (Date.now() - started) / 1000;
  const path = builtBinary(dir);
  if (r.status !== 0 || !path) return { path: null, why: `its build failed: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}`, buildSeconds };
  opts.log(`built ${path} in ${buildSeconds.toFixed(0)} s`);
  return { path, buildSeconds };
}

/**
 * The average KV depth (tokens already in the lane's cache) over the coded tokens of a
 * chunk of `tokens` tokens, under lmzip's context policy: the start token at position 0,
 * then one token per step; when the window is full the lane keeps the start token plus
 * the last `overlap` tokens. A restart and a compacting shift hold the same cells from
 * there (docs/FORMAT.md, "Which cells"), so the depth is the same for both.
 * @example averageDepth(100, 1024, 512) // 50.5
 */
export function averageDepth(tokens: number, window: number, overlap: number): number {
  let depth = 1;
  let sum = 0;
  for (let i = 0; i < tokens; i++) {
    if (depth >= window) depth = 1 + overlap;
    sum += depth;
    depth++;
  }
  return tokens > 0 ? sum / tokens : 0;
}

export interface ReferencePoint {
  lanes: number;
  threads: number;
  /** -npp and -ntg as run. */
  pp: number;
  tg: number;
  /** Tokens per second while decoding (S_TG), and the prompt rate (S_PP). */
  tgTokensPerSecond: number;
  ppTokensPerSecond: number;
}

/**
 * The generation steps of one measurement: as many as keep the average depth where it
 * should be (-npp = depth − tg/2 ≥ 1), between 32 and 256. Long enough to average over
 * the machine's drift like lmzip's own runs do (32 steps at one lane last 0.3 s).
 * @example referenceSteps(682) // 256
 */
export function referenceSteps(depth: number): number {
  return Math.max(32, Math.min(256, 2 * Math.floor(depth - 1)));
}

/**
 * llama-batched-bench's -c: lmzip's cells per lane (the window) for every sequence, or
 * more when -npp + -ntg needs them.
 * @example referenceContext(16, 1024, 17, 256) // 16384
 */
export function referenceContext(lanes: number, window: number, pp: number, tg: number): number {
  return lanes * Math.max(window, pp + tg + 4);
}

/**
 * Runs llama-batched-bench once for one lane count and returns its S_TG.
 * @example await runReference(bin, model, { lanes: 16, window: 1024, threads: 2, depth: 300, gpuLayers: 0 })
 */
export async function runReference(
  bin: string,
  model: string,
  p: { lanes: number; window: number; threads: number; depth: number; gpuLayers: number; timeoutMs?: number },
): Promise<ReferencePoint | { error: string }> {
  const tg = referenceSteps(p.depth);
  const pp = Math.max(1, Math.round(p.depth - tg / 2));
  const ctx = referenceContext(p.lanes, p.window, pp, tg);
  const args = [
    '-m', model, '-c', String(ctx), '-b', '2048', '-ub', '512', '-npp', String(pp), '-ntg', String(tg), '-npl', String(p.lanes),
    '-t', String(p.threads), '-tb', String(p.threads), '-fa', 'off', '-no-kvu', '-ngl', String(p.gpuLayers), '--output-format', 'jsonl',
  ];
  const r = await runTimed(bin, args, { captureStdout: true, timeoutMs: p.timeoutMs });
  const line = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => l.startsWith('{') && l.includes('"speed_tg"'));
  if (r.code !== 0 || !line) return { error: `llama-batched-bench exited with ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}` };
  const j = JSON.parse(line) as { speed_tg: number; speed_pp: number; pp: number; tg: number };
  return { lanes: p.lanes, threads: p.threads, pp: j.pp, tg: j.tg, tgTokensPerSecond: j.speed_tg, ppTokensPerSecond: j.speed_pp };
}
