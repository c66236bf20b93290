/**
 * Measures lmzip through lmzip-worker in a child process: compress, decompress
 * and the model's raw speed each in a fresh process under GNU time.
 */
import { existsSync, readFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runTimed } from './proc.js';
import type { WorkerRequest, WorkerResponse } from './lmzip-worker.js';

/** How to start the worker: the compiled .js, or the .ts source through tsx. */
export function workerCommand(): { command: string; args: string[] } {
  const js = fileURLToPath(new URL('./lmzip-worker.js', import.meta.url));
  if (existsSync(js)) return { command: process.execPath, args: [js] };
  const ts = fileURLToPath(new URL('./lmzip-worker.ts', import.meta.url));
  let tsx = 'tsx';
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    /* let node find it from the working directory */
  }
  return { command: process.execPath, args: ['--import', tsx, ts] };
}

export interface WorkerRun {
  response: WorkerResponse;
  /** Wall seconds of the whole child (node start, model load, the call). */
  processSeconds: number;
  /** GNU time's peak RSS, or the worker's own maxRSS without GNU time. */
  peakKiB: number;
}

export async function runWorker(req: WorkerRequest, timeoutMs?: number, env?: NodeJS.ProcessEnv): Promise<WorkerRun> {
  const { command, args } = workerCommand();
  const r = await runTimed(command, [...args, JSON.stringify(req)], { captureStdout: true, timeoutMs, env });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let response: WorkerResponse;
  try {
    response = JSON.parse(line) as WorkerResponse;
  } catch {
    const timedOut = r.signal === 'SIGKILL' && timeoutMs !== undefined && r.seconds * 1000 >= timeoutMs;
    response = {
      ok: false,
      error: timedOut
        ? `timed out after ${Math.round(timeoutMs / 1000)} s (${req.mode})`
        : `worker exited with ${r.code ?? r.signal} and no result: ${r.stderr.trim().slice(-400)}`,
      callSeconds: 0,
      modelLoadSeconds: 0,
      maxRssKiB: 0,
    };
  }
  return { response, processSeconds: r.seconds, peakKiB: r.peakRssKiB ?? response.maxRssKiB };
}

export interface LmzipRun {
  ok: boolean;
  error?: string;
  compressedBytes: number;
  compress: WorkerRun;
  decompress?: WorkerRun;
  raw?: WorkerRun;
  roundTrip: boolean;
}

export interface LmzipSchedule {
  lanes?: number;
  window?: number;
  /** Target chunk size in bytes (the lanes sweep: input / lanes, so every lane gets a chunk). */
  chunkSize?: number;
  threads?: number;
  backend?: string;
}

/** One compress → decompress → compare cycle, and optionally the raw model speed. */
export async function runLmzipOnce(
  model: string,
  input: string,
  original: Buffer,
  scratch: string,
  schedule: LmzipSchedule,
  opts: { raw: boolean; decompress?: boolean; timeoutMs?: number; env?: NodeJS.ProcessEnv; forceModel?: boolean; measureIdeal?: boolean },
): Promise<LmzipRun> {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const compressed = join(scratch, 'compressed.lmz');
  const restored = join(scratch, 'restored');
  const compress = await runWorker(
    { mode: 'compress', model, input, output: compressed, ...schedule, forceModel: opts.forceModel, measureIdeal: opts.measureIdeal },
    opts.timeoutMs,
    opts.env,
  );
  if (!compress.response.ok) {
    return { ok: false, error: compress.response.error, compressedBytes: 0, compress, roundTrip: false };
  }
  const compressedBytes = statSync(compressed).size;
  let decompress: WorkerRun | undefined;
  let roundTrip = false;
  if (opts.decompress !== false) {
    decompress = await runWorker(
      { mode: 'decompress', model, input: compressed, output: restored, threads: schedule.threads, backend: schedule.backend },
      opts.timeoutMs,
      opts.env,
    );
    if (!decompress.response.ok) {
      return { ok: false, error: decompress.response.error, compressedBytes, compress, decompress, roundTrip: false };
    }
    roundTrip = readFileSync(restored).equals(original);
  }
  let raw: WorkerRun | undefined;
  if (opts.raw) {
    raw = await runWorker({ mode: 'raw', model, input, ...schedule }, opts.timeoutMs, opts.env);
    if (!raw.response.ok) {
      return { ok: false, error: `raw speed: ${raw.response.error}`, compressedBytes, compress, decompress, raw, roundTrip };
    }
  }
  return { ok: true, compressedBytes, compress, decompress, raw, roundTrip };
}
