/**
 * One lmzip measurement in its own process, so that GNU time can report the
 * process's peak memory the same way as for the baselines. Started by
 * lmzip-runner.ts with one JSON argument (a WorkerRequest); prints one JSON line
 * (a WorkerResponse) on standard output.
 *
 * LMZIP_BENCH_MODULE, when set, names the module to import instead of the
 * library (the harness's own tests use it to run without a model).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface WorkerRequest {
  mode: 'compress' | 'decompress' | 'raw';
  model: string;
  input: string;
  /** compress/decompress: where the result goes. */
  output?: string;
  lanes?: number;
  window?: number;
  /** Target chunk size: the lanes sweep sets input / lanes so that every lane gets a chunk. */
  chunkSize?: number;
  threads?: number;
  /** Model.load's backend (auto, cpu, cuda). */
  backend?: string;
  /** compress: model-code every chunk the model can spell (speed runs with random-weight models). */
  forceModel?: boolean;
  /** compress: also compute the ideal code length (default true; it costs a softmax in doubles per token, so speed runs turn it off). */
  measureIdeal?: boolean;
}

/** The library's CompressStats, as far as the benchmark reads them. */
export interface WorkerStats {
  inputBytes: number;
  outputBytes: number;
  /** Range-coder payload of the model-coded chunks. */
  payloadBytes: number;
  /** Input bytes that were coded with the model (the rest went to fallback chunks). */
  modelBytes?: number;
  idealBits: number;
  /** Code length under the tables the coder used (the mixed ones with coding method 2). */
  tableBits?: number;
  /** Code length under the model's tables alone. */
  modelBits?: number;
  tokens: number;
  modelChunks: number;
  brotliChunks?: number;
  storedChunks?: number;
  otherChunks?: number;
  seconds: number;
}

export interface WorkerResponse {
  ok: boolean;
  error?: string;
  /** Seconds spent in the library call alone (Node's monotonic clock). */
  callSeconds: number;
  /** CPU seconds (user + system, all threads) of the library call: less disturbed by other work on the machine. */
  cpuSeconds?: number;
  modelLoadSeconds: number;
  outputBytes?: number;
  stats?: WorkerStats;
  raw?: { tokens: number; seconds: number };
  /** compress: the schedule the file records (for matching the reference's KV depth). */
  schedule?: { lanes: number; window: number; overlap: number; modelChunks: number; tokens: number };
  /** Where the model ran. */
  backend?: string;
  /** compress: the numeric profile the file records. */
  profile?: string;
  /** process.resourceUsage().maxRSS at the end, KiB. */
  maxRssKiB: number;
  modelName?: string;
}

interface LmzipApi {
  Model: { load(path: string, opts?: { threads?: number; backend?: string }): Promise<LmzipModel> };
  inspect(data: Uint8Array): { header: { lanes: number; window: number; overlap: number; profile?: string }; chunks: { model: number }; tokens: number };
  compressWithStats(
    data: Buffer,
    opts: Record<string, unknown>,
  ): Promise<{ output: Buffer; stats: WorkerStats }>;
  decompress(data: Buffer, opts: Record<string, unknown>): Promise<Buffer>;
  measureModelSpeed(
    model: LmzipModel,
    data: Buffer,
    opts: Record<string, unknown>,
  ): Promise<{ tokens: number; seconds: number }>;
}

interface LmzipModel {
  facts?: { name?: string };
  backend?: string;
  dispose(): void;
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

async function main(): Promise<void> {
  const req = JSON.parse(process.argv[2] ?? '{}') as WorkerRequest;
  const override = process.env.LMZIP_BENCH_MODULE;
  const api = (await import(override ? pathToFileURL(override).href : '../index.js')) as LmzipApi;
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  const res: WorkerResponse = { ok: false, callSeconds: 0, modelLoadSeconds: 0, maxRssKiB: 0 };
  let model: LmzipModel | undefined;
  try {
    const data = readFileSync(req.input);
    let t = now();
    model = await api.Model.load(req.model, defined({ threads: req.threads, backend: req.backend }));
    res.modelLoadSeconds = now() - t;
    res.modelName = model.facts?.name;
    res.backend = model.backend;
    const schedule = defined({ lanes: req.lanes, window: req.window, chunkSize: req.chunkSize, threads: req.threads });
    const cpu0 = process.cpuUsage();
    t = now();
    if (req.mode === 'compress') {
      const { output, stats } = await api.compressWithStats(data, defined({ model, ...schedule, measureIdeal: req.measureIdeal ?? true, forceModel: req.forceModel }));
      res.callSeconds = now() - t;
      writeFileSync(req.output!, output);
      res.outputBytes = output.length;
      res.stats = { ...stats };
      if (stats.modelChunks > 0) {
        const info = api.inspect(output);
        const h = info.header;
        // Format v2 records no token count (inspect gives 0): the call's own count is the same.
        res.schedule = { lanes: h.lanes, window: h.window, overlap: h.overlap, modelChunks: info.chunks.model, tokens: info.tokens || stats.tokens };
        res.profile = h.profile;
      }
    } else if (req.mode === 'decompress') {
      const back = await api.decompress(data, { model });
      res.callSeconds = now() - t;
      writeFileSync(req.output!, back);
      res.outputBytes = back.length;
    } else {
      const raw = await api.measureModelSpeed(model, data, schedule);
      res.callSeconds = now() - t;
      res.raw = { tokens: raw.tokens, seconds: raw.seconds };
    }
    const cpu = process.cpuUsage(cpu0);
    res.cpuSeconds = (cpu.user + cpu.system) / 1e6;
    res.ok = true;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    res.error = `${e.code ? e.code + ': ' : ''}${e.message ?? String(err)}`;
  } finally {
    model?.dispose();
  }
  res.maxRssKiB = process.resourceUsage().maxRSS;
  process.stdout.write(JSON.stringify(res) + '\n');
}

await main();
