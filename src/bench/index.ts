/**
 * lmzip's benchmark: lmzip with each model against the real general-purpose
 * compressors on the same files in one run, lmzip against its own limit (the
 * ideal code length and the raw model speed), and scaling sweeps.
 *
 * `npm run bench -- [options]` (bench/run.ts) and `lmzip bench [options]` both
 * end in runBenchCommand; programs can call runBenchmark directly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BASELINES, aptInstallCommand, detectTools, runBaselineOnce, type Baseline } from './baselines.js';
import { renderSvg, svgToPng, type ChartSpec } from './chart.js';
import { makeSizedText, listCorpus, parseFileSpec, prepareInput, QUICK_SET, SWEEP_SOURCES, type PreparedInput } from './inputs.js';
import { runLmzipOnce, type LmzipRun, type LmzipSchedule } from './lmzip-runner.js';
import { averageDepth, findOrBuildReference, runReference, type ReferencePoint } from './reference.js';
import { describeMachine, machineLine } from './machine.js';
import { GNU_TIME, which } from './proc.js';
import { goalsLines, lanesChart, lanesTable, ratioSpeedChart, renderMarkdown, sizesChart, summaryTable, lmzipTable } from './report.js';
import type {
  BenchOptions,
  BenchReport,
  LaneSweepPoint,
  MethodResult,
  LmzipDetail,
  MethodSummary,
  SizeSweepPoint,
  ToolInfo,
} from './types.js';
import { median, parseSize, shortSize, fmt } from './util.js';

/** The measurement fields of a result before anything was measured. */
function unmeasured(inputBytes: number) {
  return {
    inputBytes,
    compressedBytes: null,
    bitsPerByte: null,
    ratio: null,
    compressSeconds: null,
    decompressSeconds: null,
    compressMBps: null,
    decompressMBps: null,
    compressPeakMiB: null,
    decompressPeakMiB: null,
    roundTrip: null,
    runs: 0,
    compressSecondsAll: [] as number[],
    decompressSecondsAll: [] as number[],
  };
}


export type { BenchOptions, BenchReport } from './types.js';
export { BASELINES } from './baselines.js';

/** The goals from issue #4. */
export const CODER_OVERHEAD_GOAL = 0.001;
export const RAW_SPEED_RATIO_GOAL = 0.9;

/** The path of a scripts/make-test-model.mjs model of `shape`, generated into its cache when missing. */
function testModel(shape: string, log: (s: string) => void): string {
  const script = fileURLToPath(new URL('../../scripts/make-test-model.mjs', import.meta.url));
  log(`test model ${shape}: node scripts/make-test-model.mjs --shape ${shape} --if-missing`);
  const r = spawnSync(process.execPath, [script, '--shape', shape, '--if-missing'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new UsageError(`--test-model ${shape}: make-test-model failed (status ${r.status})`);
  return r.stdout.trim();
}

const KiB = 1024;
const MiB = 1024 * 1024;

/** Options with every default filled in; `files` must be given. */
export function benchDefaults(partial: Partial<BenchOptions> & { files: string[] }): BenchOptions {
  return {
    maxBytes: 0,
    models: [],
    methods: [],
    runs: 3,
    sweep: { lanes: [], threads: [], input: '', bytes: 0, runs: 1 },
    sizes: { bytes: [], lmzipMaxBytes: 0, methods: [], sources: [] },
    outDir: '',
    outName: 'latest',
    install: false,
    png: true,
    tmpDir: join(tmpdir(), `lmzip-bench-${process.pid}`),
    timeoutSeconds: 3600,
    sweepTimeoutSeconds: 300,
    testShapes: [],
    reference: 'auto',
    log: () => {},
    command: [],
    ...partial,
  };
}

function wants(opts: BenchOptions, id: string): boolean {
  return opts.methods.length === 0 || opts.methods.includes(id) || (id.startsWith('lmzip') && opts.methods.includes('lmzip'));
}

const toMiB = (kib: number | null | undefined) => (kib === null || kib === undefined ? null : kib / 1024);
const medOrNull = (xs: (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? median(v) : null;
};

/** Installs the Debian packages of missing tools (and GNU time, rsvg-convert). Returns what it ran. */
export function installMissing(tools: ToolInfo[], log: (s: string) => void): void {
  const pkgs = tools.filter((t) => !t.installed).map((t) => t.debianPackage);
  if (!GNU_TIME) pkgs.push('time');
  if (!which('rsvg-convert')) pkgs.push('librsvg2-bin');
  if (!pkgs.length) return;
  const cmd = aptInstallCommand(pkgs);
  const asRoot = process.getuid?.() === 0;
  log(`installing: ${asRoot ? '' : 'sudo '}${cmd}`);
  const argv = [...(asRoot ? [] : ['sudo']), 'apt-get', 'install', '-y', ...new Set(pkgs)];
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) log(`apt-get failed (status ${r.status}); missing tools are reported as not installed`);
}

/** Size, ratio and speed fields of a result from the input size, compressed size and median seconds. */
function sizeAndSpeed(inputBytes: number, size: number, c: number, d: number) {
  return {
    compressedBytes: size,
    bitsPerByte: (size * 8) / inputBytes,
    ratio: inputBytes / size,
    compressSeconds: c,
    decompressSeconds: d,
    compressMBps: inputBytes / c / 1e6,
    decompressMBps: inputBytes / d / 1e6,
  };
}

async function measureBaseline(b: Baseline, input: PreparedInput, opts: BenchOptions, tool: ToolInfo): Promise<MethodResult> {
  const base: MethodResult = {
    input: input.info.name,
    method: b.id,
    label: b.label,
    kind: 'baseline',
    status: 'ok',
    ...unmeasured(input.info.bytes),
  };
  if (!tool.installed) return { ...base, status: 'not installed', error: aptInstallCommand([b.debianPackage]) };
  const runs = [];
  for (let i = 0; i < opts.runs; i++) {
    const r = await runBaselineOnce(b, input.file, input.data, join(opts.tmpDir, 'work'), opts.timeoutSeconds * 1000);
    if (!r.ok) return { ...base, status: 'failed', error: r.error };
    runs.push(r);
  }
  const size = runs[0]!.compressedBytes;
  const c = median(runs.map((r) => r.compressSeconds));
  const d = median(runs.map((r) => r.decompressSeconds));
  return {
    ...base,
    ...sizeAndSpeed(input.info.bytes, size, c, d),
    compressPeakMiB: toMiB(medOrNull(runs.map((r) => r.compressPeakKiB))),
    decompressPeakMiB: toMiB(medOrNull(runs.map((r) => r.decompressPeakKiB))),
    roundTrip: runs.every((r) => r.roundTrip),
    runs: runs.length,
    compressSecondsAll: runs.map((r) => r.compressSeconds),
    decompressSecondsAll: runs.map((r) => r.decompressSeconds),
  };
}

/** The average KV depth of a run's coded tokens, from the schedule its file records. */
function runDepth(r: LmzipRun): number | null {
  const sched = r.compress.response.schedule;
  return sched && sched.modelChunks > 0 ? averageDepth(sched.tokens / sched.modelChunks, sched.window, sched.overlap) : null;
}

async function measureLmzip(
  model: string,
  input: PreparedInput,
  opts: BenchOptions,
  schedule: LmzipSchedule,
  runs: number,
  withRaw = true,
  timeoutSeconds = opts.timeoutSeconds,
  forceModel = false,
  /** Called after each run with the KV depth of its coded tokens and its window (the sweep runs the reference there, interleaved). */
  afterEachRun?: (depth: number | null, window: number | null) => Promise<void>,
): Promise<MethodResult> {
  const base: MethodResult = {
    input: input.info.name,
    method: 'lmzip',
    label: 'lmzip',
    kind: 'lmzip',
    model: basename(model),
    status: 'ok',
    ...unmeasured(input.info.bytes),
  };
  const all: LmzipRun[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await runLmzipOnce(model, input.file, input.data, join(opts.tmpDir, 'work'), schedule, {
      raw: withRaw,
      timeoutMs: timeoutSeconds * 1000,
      forceModel,
      // Speed runs (the sweep) leave out the ideal code length: its softmax in doubles per token is not part of compressing.
      measureIdeal: !forceModel,
    });
    if (!r.ok) return { ...base, status: 'failed', error: r.error };
    all.push(r);
    await afterEachRun?.(runDepth(r), r.compress.response.schedule?.window ?? null);
  }
  const first = all[0]!;
  const stats = first.compress.response.stats!;
  const size = first.compressedBytes;
  const c = median(all.map((r) => r.compress.response.callSeconds));
  const d = median(all.map((r) => r.decompress!.response.callSeconds));
  const rawSeconds = withRaw ? median(all.map((r) => r.raw!.response.raw!.seconds)) : NaN;
  const rawTokens = withRaw ? first.raw!.response.raw!.tokens : 0;
  // With no model-coded chunk (the library chose its fallback for every chunk) there is no token rate.
  const compressTps = stats.tokens > 0 ? stats.tokens / c : null;
  const rawTps = withRaw && rawTokens > 0 ? rawTokens / rawSeconds : null;
  const depth = runDepth(first);
  return {
    ...base,
    ...sizeAndSpeed(input.info.bytes, size, c, d),
    compressPeakMiB: toMiB(median(all.map((r) => r.compress.peakKiB))),
    decompressPeakMiB: toMiB(median(all.map((r) => r.decompress!.peakKiB))),
    roundTrip: all.every((r) => r.roundTrip),
    runs: all.length,
    compressSecondsAll: all.map((r) => r.compress.response.callSeconds),
    decompressSecondsAll: all.map((r) => r.decompress!.response.callSeconds),
    lmzip: {
      lanes: schedule.lanes ?? null,
      window: schedule.window ?? null,
      threads: schedule.threads ?? null,
      depth,
      backend: first.compress.response.backend,
      tokens: stats.tokens,
      idealBits: stats.idealBits,
      payloadBytes: stats.payloadBytes,
      outputBytes: stats.outputBytes,
      modelBytes: stats.modelBytes ?? input.info.bytes,
      modelChunks: stats.modelChunks,
      otherChunks: (stats.otherChunks ?? 0) + (stats.brotliChunks ?? 0) + (stats.storedChunks ?? 0),
      librarySeconds: stats.seconds,
      coderOverhead: stats.idealBits > 0 ? (stats.payloadBytes * 8) / stats.idealBits - 1 : null,
      mixSavedBits: stats.modelBits !== undefined && stats.tableBits !== undefined ? stats.modelBits - stats.tableBits : null,
      containerBytes: size - stats.payloadBytes,
      compressTokensPerSecond: compressTps,
      decompressTokensPerSecond: stats.tokens > 0 ? stats.tokens / d : null,
      rawTokensPerSecond: rawTps,
      rawSpeedRatio: rawTps && compressTps ? compressTps / rawTps : null,
      ...cpuRatio(all, withRaw),
      compressCallSeconds: c,
      decompressCallSeconds: d,
      modelLoadSeconds: median(all.map((r) => r.compress.response.modelLoadSeconds)),
    },
  };
}

function cpuRatio(all: LmzipRun[], withRaw: boolean) {
  const cc = all.map((r) => r.compress.response.cpuSeconds).filter((x): x is number => x !== undefined);
  const rc = withRaw ? all.map((r) => r.raw!.response.cpuSeconds).filter((x): x is number => x !== undefined) : [];
  const compressCpuSeconds = cc.length ? median(cc) : null;
  const rawCpuSeconds = rc.length ? median(rc) : null;
  return {
    compressCpuSeconds,
    rawCpuSeconds,
    rawCpuRatio: compressCpuSeconds && rawCpuSeconds ? rawCpuSeconds / compressCpuSeconds : null,
  };
}

function summarize(results: MethodResult[]): MethodSummary[] {
  const keys: string[] = [];
  for (const r of results) {
    const k = `${r.method}|${r.model ?? ''}`;
    if (!keys.includes(k)) keys.push(k);
  }
  const out: MethodSummary[] = [];
  for (const k of keys) {
    const rows = results.filter((r) => `${r.method}|${r.model ?? ''}` === k && r.status === 'ok');
    if (!rows.length) continue;
    const inputBytes = rows.reduce((a, r) => a + r.inputBytes, 0);
    const compressedBytes = rows.reduce((a, r) => a + (r.compressedBytes ?? 0), 0);
    const cs = rows.reduce((a, r) => a + (r.compressSeconds ?? 0), 0);
    const ds = rows.reduce((a, r) => a + (r.decompressSeconds ?? 0), 0);
    out.push({
      method: rows[0]!.method,
      label: rows[0]!.label,
      kind: rows[0]!.kind,
      model: rows[0]!.model,
      inputs: rows.length,
      inputBytes,
      compressedBytes,
      bitsPerByte: (compressedBytes * 8) / inputBytes,
      ratio: inputBytes / compressedBytes,
      compressMBps: inputBytes / cs / 1e6,
      decompressMBps: inputBytes / ds / 1e6,
      peakMiB: Math.max(...rows.map((r) => Math.max(r.compressPeakMiB ?? 0, r.decompressPeakMiB ?? 0))),
      roundTrip: rows.every((r) => r.roundTrip === true),
    });
  }
  return out;
}

function goals(results: MethodResult[], tools: ToolInfo[], lanes: LaneSweepPoint[]): BenchReport['goals'] {
  const coderOverhead: Record<string, number | null> = {};
  const rawSpeedRatio: Record<string, number | null> = {};
  const rawCpuRatio: Record<string, number | null> = {};
  const shortfalls: string[] = [];
  const lm = results.filter((r) => r.kind === 'lmzip' && r.lmzip);
  for (const model of new Set(lm.map((r) => r.model!))) {
    const rows = lm.filter((r) => r.model === model).map((r) => r.lmzip!);
    const withIdeal = rows.filter((l) => l.idealBits > 0);
    const ideal = withIdeal.reduce((a, l) => a + l.idealBits, 0);
    const payload = withIdeal.reduce((a, l) => a + l.payloadBytes * 8, 0);
    const o = ideal > 0 ? payload / ideal - 1 : null;
    coderOverhead[model] = o;
    if (o !== null && o > CODER_OVERHEAD_GOAL) {
      const worst = [...lm.filter((r) => r.model === model && (r.lmzip!.coderOverhead ?? 0) > CODER_OVERHEAD_GOAL)]
        .sort((a, b) => (b.lmzip!.coderOverhead ?? 0) - (a.lmzip!.coderOverhead ?? 0))
        .map((r) => `${r.input} ${fmt((r.lmzip!.coderOverhead ?? 0) * 100)}% over ${r.lmzip!.tokens} tokens`);
      shortfalls.push(`coder overhead ${fmt(o * 100)}% with ${model} is above ${CODER_OVERHEAD_GOAL * 100}% (${worst.join('; ')})`);
    }
    // Only inputs the model coded whole: when some chunks fall back, compression has still
    // evaluated them (then thrown the result away) while `tokens` counts only the coded ones.
    const withRaw = lm
      .filter((r) => r.model === model && r.lmzip!.modelBytes === r.inputBytes)
      .map((r) => r.lmzip!)
      .filter((l) => l.rawTokensPerSecond && l.compressTokensPerSecond);
    const tokens = withRaw.reduce((a, l) => a + l.tokens, 0);
    const cSec = withRaw.reduce((a, l) => a + l.compressCallSeconds, 0);
    const rawSec = withRaw.reduce((a, l) => a + l.tokens / l.rawTokensPerSecond!, 0);
    const ratio = tokens > 0 && cSec > 0 ? tokens / cSec / (tokens / rawSec) : null;
    rawSpeedRatio[model] = ratio;
    const cpuRows = withRaw.filter((l) => l.compressCpuSeconds && l.rawCpuSeconds);
    rawCpuRatio[model] = cpuRows.length
      ? cpuRows.reduce((a, l) => a + l.rawCpuSeconds!, 0) / cpuRows.reduce((a, l) => a + l.compressCpuSeconds!, 0)
      : null;
    if (ratio !== null && ratio < RAW_SPEED_RATIO_GOAL) {
      shortfalls.push(`compression runs at ${fmt(ratio * 100)}% of the raw model speed with ${model} (goal ${RAW_SPEED_RATIO_GOAL * 100}%)`);
    }
  }
  for (const r of results) {
    if (r.roundTrip === false) shortfalls.push(`${r.label}${r.model ? ` (${r.model})` : ''} did not round-trip ${r.input}`);
    if (r.status === 'failed') shortfalls.push(`${r.label}${r.model ? ` (${r.model})` : ''} failed on ${r.input}: ${r.error}`);
  }
  for (const p of lanes) {
    if (p.roundTrip === false) shortfalls.push(`lmzip did not round-trip the lanes sweep at ${p.lanes} lanes, ${p.threads} threads`);
    if (p.error) shortfalls.push(`lanes sweep failed at ${p.lanes} lanes, ${p.threads} threads: ${p.error}`);
  }
  const missing = tools.filter((t) => !t.installed);
  if (missing.length) shortfalls.push(`not installed, so not measured: ${missing.map((t) => t.label).join(', ')} (${aptInstallCommand(missing.map((t) => t.debianPackage))})`);
  return { coderOverheadMax: CODER_OVERHEAD_GOAL, rawSpeedRatioMin: RAW_SPEED_RATIO_GOAL, coderOverhead, rawSpeedRatio, rawCpuRatio, shortfalls };
}

function fromJsonArg(args: string[]): string | undefined {
  const i = args.lastIndexOf('--from-json');
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith('--from-json='))?.slice('--from-json='.length);
}

/**
 * Recomputes what is derived from the measurements (token rates, ratios,
 * summary, goals), so a stored report re-renders with the current rules.
 */
export function refreshDerived(report: BenchReport): BenchReport {
  for (const r of report.results) {
    const l = r.lmzip;
    if (!l || r.status !== 'ok') continue;
    const c = r.compressSeconds ?? NaN;
    const d = r.decompressSeconds ?? NaN;
    l.compressTokensPerSecond = l.tokens > 0 ? l.tokens / c : null;
    l.decompressTokensPerSecond = l.tokens > 0 ? l.tokens / d : null;
    l.rawSpeedRatio = l.rawTokensPerSecond && l.compressTokensPerSecond ? l.compressTokensPerSecond / l.rawTokensPerSecond : null;
    l.coderOverhead = l.idealBits > 0 ? (l.payloadBytes * 8) / l.idealBits - 1 : null;
  }
  report.summary = summarize(report.results);
  report.goals = goals(report.results, report.tools, report.scaling.lanes);
  return report;
}

/** Measures everything the options ask for, writes the outputs when `outDir` is set, and returns the report. */
export async function runBenchmark(options: BenchOptions): Promise<BenchReport> {
  const opts = options;
  const log = opts.log;
  const startedAt = new Date().toISOString();
  rmSync(opts.tmpDir, { recursive: true, force: true });
  mkdirSync(opts.tmpDir, { recursive: true });
  try {
    const baselines = BASELINES.filter((b) => wants(opts, b.id));
    let tools = await detectTools(BASELINES);
    if (opts.install) {
      installMissing(tools, log);
      tools = await detectTools(BASELINES);
    }
    for (const t of tools) if (!t.installed) log(`not installed: ${t.label} — ${aptInstallCommand([t.debianPackage])}`);
    if (!GNU_TIME) log('GNU time is not installed, so baselines have no peak memory (apt-get install -y time)');
    const machine = await describeMachine();
    log(`machine: ${machineLine(machine)}`);
    const inputs = opts.files.map((f) => prepareInput(parseFileSpec(f, '.', opts.maxBytes), opts.tmpDir));
    const models = wants(opts, 'lmzip') ? [...opts.models, ...opts.testShapes.map((s) => testModel(s, log))] : [];
    const schedule = { lanes: opts.lanes, window: opts.window, threads: opts.threads, backend: opts.backend };
    const results: MethodResult[] = [];
    for (const input of inputs) {
      for (const b of baselines) {
        const r = await measureBaseline(b, input, opts, tools.find((t) => t.id === b.id)!);
        log(progressLine(r));
        results.push(r);
      }
      for (const m of models) {
        const r = await measureLmzip(m, input, opts, schedule, opts.runs);
        log(progressLine(r));
        results.push(r);
      }
    }

    const lanes: LaneSweepPoint[] = [];
    let reference: BenchReport['reference'];
    if (models.length && opts.sweep.lanes.length && opts.sweep.input) {
      const input = prepareInput(parseFileSpec(opts.sweep.input, '.', opts.sweep.bytes), opts.tmpDir);
      const cuda = opts.backend === 'cuda';
      if (opts.reference !== 'none') {
        const ref = opts.reference === 'auto' ? findOrBuildReference({ cuda, log }) : { path: resolve(opts.reference), buildSeconds: 0 };
        reference = { binary: ref.path, buildSeconds: ref.buildSeconds, ...('why' in ref && ref.why ? { why: ref.why } : {}) };
        if (!ref.path) log(`llama-batched-bench not available, so no reference column: ${reference.why}`);
      }
      for (const m of models) {
        for (const threads of opts.sweep.threads.length ? opts.sweep.threads : [opts.threads ?? 0]) {
          for (const l of opts.sweep.lanes) {
            // The sweep measures speed: every chunk the model can spell is model-coded, so
            // both directions run the model even with random-weight test models.
            // One chunk per lane: the library's default chunks are at least 16 KiB, which
            // would leave most lanes of a small sweep input idle.
            const chunkSize = Math.max(64, Math.ceil(input.info.bytes / l));
            // The reference runs right after each lmzip run, so that both see the same
            // moment of a machine whose speed drifts; the ratio compares their medians.
            const refRuns: ReferencePoint[] = [];
            let referenceError: string | undefined;
            const runReferenceOnce = async (depth: number | null, window: number | null) => {
              if (!reference?.binary || depth === null || window === null || referenceError) return;
              const out = await runReference(reference.binary, m, {
                lanes: l, window, threads: threads || availableParallelism(), depth, gpuLayers: cuda ? 99 : 0, timeoutMs: opts.sweepTimeoutSeconds * 1000,
              });
              if ('error' in out) referenceError = out.error;
              else refRuns.push(out);
            };
            const r = await measureLmzip(m, input, opts, { lanes: l, window: opts.window, chunkSize, threads: threads || undefined, backend: opts.backend },
              opts.sweep.runs, true, opts.sweepTimeoutSeconds, true, runReferenceOnce);
            const depth = r.lmzip?.depth ?? null;
            const ref: LaneSweepPoint['reference'] = refRuns.length && !referenceError
              ? { pp: refRuns[0]!.pp, tg: refRuns[0]!.tg, tokensPerSecond: median(refRuns.map((x) => x.tgTokensPerSecond)) }
              : null;
            const p: LaneSweepPoint = {
              model: basename(m),
              lanes: l,
              threads,
              backend: r.lmzip?.backend,
              depth,
              reference: ref,
              ...(referenceError ? { referenceError } : {}),
              inputBytes: input.info.bytes,
              tokens: r.lmzip?.tokens ?? 0,
              compressTokensPerSecond: r.lmzip?.compressTokensPerSecond ?? null,
              decompressTokensPerSecond: r.lmzip?.decompressTokensPerSecond ?? null,
              rawTokensPerSecond: r.lmzip?.rawTokensPerSecond ?? null,
              compressPeakMiB: r.compressPeakMiB,
              roundTrip: r.roundTrip,
              ...(r.error ? { error: r.error } : {}),
            };
            log(`lanes sweep ${p.model} threads=${threads} lanes=${l}: ` + (p.error ? `failed: ${p.error}` : `compress ${fmt(p.compressTokensPerSecond)} tok/s, decompress ${fmt(p.decompressTokensPerSecond)} tok/s, raw ${fmt(p.rawTokensPerSecond)} tok/s` +
              (ref ? `, llama-batched-bench ${fmt(ref.tokensPerSecond)} tok/s (depth ${fmt(depth)}: -npp ${ref.pp} -ntg ${ref.tg})` : referenceError ? `, reference failed: ${referenceError}` : '')));
            lanes.push(p);
          }
        }
      }
    }

    const sizes: SizeSweepPoint[] = [];
    if (opts.sizes.bytes.length && opts.sizes.sources.length) {
      const sizeBaselines = BASELINES.filter((b) => opts.sizes.methods.includes(b.id) && wants(opts, b.id));
      for (const bytes of opts.sizes.bytes) {
        const { file, cycled } = makeSizedText(opts.sizes.sources, bytes, opts.tmpDir);
        if (cycled) log(`size sweep: ${shortSize(bytes)} is longer than the source texts, so they repeat`);
        const input = prepareInput({ path: file, maxBytes: 0 }, opts.tmpDir);
        input.info.name = `text ${shortSize(bytes)}`;
        const measured: MethodResult[] = [];
        for (const b of sizeBaselines) measured.push(await measureBaseline(b, input, { ...opts, runs: 1 }, tools.find((t) => t.id === b.id)!));
        if (models.length && bytes <= opts.sizes.lmzipMaxBytes) {
          measured.push(await measureLmzip(models[0]!, input, opts, schedule, 1, false));
        }
        for (const r of measured) {
          if (r.status === 'not installed') continue;
          log(`size sweep ${shortSize(bytes)} ${r.label}: ` + (r.error ? `failed: ${r.error}` : `${fmt(r.compressSeconds)} s / ${fmt(r.decompressSeconds)} s, ${fmt(r.compressPeakMiB)} MiB`));
          sizes.push({
            method: r.method,
            label: r.model ? `${r.label} (${r.model})` : r.label,
            inputBytes: bytes,
            compressedBytes: r.compressedBytes,
            compressSeconds: r.compressSeconds,
            decompressSeconds: r.decompressSeconds,
            compressPeakMiB: r.compressPeakMiB,
            decompressPeakMiB: r.decompressPeakMiB,
            roundTrip: r.roundTrip,
            ...(r.error ? { error: r.error } : {}),
          });
        }
        rmSync(file, { force: true });
      }
    }

    machine.loadAverageEnd = Math.round(loadavg()[0]! * 100) / 100;
    const report: BenchReport = {
      formatVersion: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      command: opts.command,
      machine,
      tools,
      options: {
        maxBytes: opts.maxBytes,
        runs: opts.runs,
        lanes: opts.lanes ?? null,
        window: opts.window ?? null,
        threads: opts.threads ?? null,
        models: models.map((m) => basename(m)),
      },
      inputs: inputs.map((i) => i.info),
      ...(reference ? { reference } : {}),
      results,
      summary: summarize(results),
      scaling: { lanes, sizes },
      goals: goals(results, tools, lanes),
      outputs: [],
    };
    if (opts.outDir) writeOutputs(report, opts);
    return report;
  } finally {
    rmSync(opts.tmpDir, { recursive: true, force: true });
  }
}

/** ", mixer saved N bytes" (against the model's tables alone), when the mixer coded the file. */
function mixSaved(l: LmzipDetail): string {
  return l.mixSavedBits ? `, mixer saved ${Math.round(l.mixSavedBits / 8)} bytes` : '';
}

function progressLine(r: MethodResult): string {
  const who = `${r.input} ${r.label}${r.model ? ` (${r.model})` : ''}`;
  if (r.status !== 'ok') return `${who}: ${r.status}${r.error ? ` — ${r.error}` : ''}`;
  const extra = r.lmzip
    ? `, overhead ${fmt((r.lmzip.coderOverhead ?? NaN) * 100)}%${mixSaved(r.lmzip)}, ${fmt(r.lmzip.compressTokensPerSecond)} tok/s (raw ${fmt(r.lmzip.rawTokensPerSecond)})`
    : '';
  return `${who}: ${r.compressedBytes} bytes, ${fmt(r.bitsPerByte)} bits/byte, ${fmt(r.compressMBps)} MB/s, round trip ${r.roundTrip ? 'ok' : 'FAILED'}${extra}`;
}

/** Writes <name>.json, <name>.md and the charts (SVG, and PNG when rsvg-convert is there). */
export function writeOutputs(report: BenchReport, opts: Pick<BenchOptions, 'outDir' | 'outName' | 'png' | 'log' | 'docsFile'>): void {
  mkdirSync(opts.outDir, { recursive: true });
  const written: string[] = [];
  const charts: [string, ChartSpec | null][] = [
    ['ratio-speed', ratioSpeedChart(report)],
    ['lanes', lanesChart(report)],
    ['sizes', sizesChart(report)],
    ['sizes-memory', sizesChart(report, 'memory')],
  ];
  const images: string[] = [];
  for (const [suffix, spec] of charts) {
    if (!spec || !spec.series.some((s) => s.points.length)) continue;
    const svg = join(opts.outDir, `${opts.outName}-${suffix}.svg`);
    writeFileSync(svg, renderSvg(spec));
    written.push(svg);
    let image = basename(svg);
    if (opts.png) {
      const png = svg.replace(/\.svg$/, '.png');
      const why = svgToPng(svg, png);
      if (why) opts.log(`PNG skipped: ${why}`);
      else {
        written.push(png);
        image = basename(png);
      }
    }
    images.push(image);
  }
  report.outputs = [
    join(opts.outDir, `${opts.outName}.json`),
    join(opts.outDir, `${opts.outName}.md`),
    ...written,
  ].map((p) => relative(process.cwd(), p) || p);
  writeFileSync(join(opts.outDir, `${opts.outName}.json`), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(opts.outDir, `${opts.outName}.md`), renderMarkdown(report, images[0], images.slice(1)));
  if (opts.docsFile) {
    const rel = relative(dirname(opts.docsFile), opts.outDir).split('\\').join('/');
    const body = renderMarkdown(report, `${rel}/${images[0]}`, images.slice(1).map((i) => `${rel}/${i}`), 3);
    spliceDocs(opts.docsFile, body);
    opts.log(`updated ${relative(process.cwd(), opts.docsFile)}`);
  }
}

export const DOCS_START = '<!-- bench:results:start -->';
export const DOCS_END = '<!-- bench:results:end -->';

/** Replaces the text between the two markers of `file` with `body`. */
export function spliceDocs(file: string, body: string): void {
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(DOCS_START);
  const b = text.indexOf(DOCS_END);
  if (a < 0 || b < a) throw new Error(`${file} has no ${DOCS_START} … ${DOCS_END} markers`);
  writeFileSync(file, `${text.slice(0, a + DOCS_START.length)}\n${body}\n${text.slice(b)}`);
}

export const BENCH_USAGE = `Usage: lmzip bench [options] [files...]

Measures lmzip with each model against gzip -9, bzip2 -9, xz -9e, zstd -19,
zstd --ultra -22, brotli -q 11, compress (LZW) and zpaq -m5 on the same files,
with lmzip's coder overhead against the ideal code length and its speed against
the raw model. Writes <out>/<name>.json, .md, and -ratio-speed.svg/.png.

Inputs
  [files...]              files, or names in the corpus; name:64K takes the first 64 KiB
  --corpus DIR            where bare names are looked up (default $LMZIP_SHARED_DIR/corpus or ../shared/corpus)
  --files a,b:50K,...     the same as positional files
  --all                   every file in the corpus
  --quick                 ${QUICK_SET.join(', ')}; 1 run; small sweeps
  --max-bytes N           measure at most the first N bytes of each file (e.g. 100K)
Methods
  --model PATH            a GGUF model for lmzip (repeatable; default ../shared/models/stories260K.gguf)
  --methods a,b           only these: lmzip, ${BASELINES.map((b) => b.id).join(', ')}
  --lanes N --window N --threads N   lmzip options for the main table (default: the library's)
  --runs N                repetitions; times and memory are medians (default 3)
  --test-model SHAPE      also measure a model of this shape with seeded random weights (repeatable):
                          smollm2-135m, qwen2.5-0.5b, tiny (scripts/make-test-model.mjs; cached in
                          LMZIP_TEST_MODELS_DIR or ~/.cache/lmzip/test-models)
  --backend B             auto, cpu or cuda for every lmzip run (default: the library's)
Scaling
  --sweep-lanes 1,2,...   lanes for the lanes sweep (default 1,2,4,8,16,32,64; 'none' to skip)
  --sweep-threads 1,2     threads for the lanes sweep (default 1,2)
  --sweep-input FILE:N    text for the lanes sweep (default tinystories-valid-part1.txt:16K)
  --sweep-runs N          repetitions per sweep point (default 3; --quick 1)
  --reference auto|none|PATH   llama.cpp's llama-batched-bench beside the lanes sweep, at the same
                          lanes, threads and average KV depth (auto: LMZIP_BATCHED_BENCH, or built
                          once into build-bench/ from vendor/llama.cpp with the addon's settings)
  --sizes 1K,10K,...      input sizes for the size sweep (default 1K,10K,100K,1M,10M; 'none' to skip)
  --sizes-lmzip-max N     largest size lmzip is run at in the size sweep (default 100K)
  --full                  whole corpus, sizes up to 100M, lmzip up to 10M (hours)
Output
  --out DIR               results folder (default ./lmzip-bench; npm run bench: bench/results)
  --name NAME             base name of the result files (default latest)
  --no-png                SVG charts only
  --from-json FILE        measure nothing: re-render the tables and charts of a stored report
  --docs FILE             also put the results between the bench:results markers of FILE
  --install               apt-get install the missing tools first (as root, or through sudo)
  --timeout SECONDS       per process (default 3600)
  --sweep-timeout SECONDS per process in the lanes sweep (default 300)
  -h, --help
`;

function list(s: string | undefined): string[] {
  if (s === undefined) return [];
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`Expected a positive integer for ${name} but received ${JSON.stringify(v)}`);
  return n;
}

class UsageError extends Error {}

/** Turns command-line arguments into options. Throws UsageError on bad input. */
export function parseBenchArgs(args: string[], env: NodeJS.ProcessEnv = process.env, log: (s: string) => void = () => {}): BenchOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        corpus: { type: 'string' },
        files: { type: 'string', multiple: true },
        all: { type: 'boolean' },
        quick: { type: 'boolean' },
        full: { type: 'boolean' },
        'max-bytes': { type: 'string' },
        model: { type: 'string', multiple: true },
        'test-model': { type: 'string', multiple: true },
        backend: { type: 'string' },
        reference: { type: 'string' },
        methods: { type: 'string' },
        lanes: { type: 'string' },
        window: { type: 'string' },
        threads: { type: 'string' },
        runs: { type: 'string' },
        'sweep-lanes': { type: 'string' },
        'sweep-threads': { type: 'string' },
        'sweep-input': { type: 'string' },
        sizes: { type: 'string' },
        'sizes-lmzip-max': { type: 'string' },
        out: { type: 'string' },
        name: { type: 'string' },
        'no-png': { type: 'boolean' },
        install: { type: 'boolean' },
        timeout: { type: 'string' },
        'sweep-timeout': { type: 'string' },
        'sweep-runs': { type: 'string' },
        'from-json': { type: 'string' },
        docs: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const shared = env.LMZIP_SHARED_DIR ?? '../shared';
  const corpus = resolve(v.corpus ?? env.LMZIP_BENCH_CORPUS ?? join(shared, 'corpus'));
  const quick = !!v.quick;
  const full = !!v.full;
  let specs = [...(v.files ?? []).flatMap(list), ...parsed.positionals];
  if (v.all || full) {
    if (!existsSync(corpus)) throw new UsageError(`Corpus folder not found: ${corpus}`);
    specs = [...specs, ...listCorpus(corpus)];
  }
  if (!specs.length) specs = [...QUICK_SET];
  const maxBytes = v['max-bytes'] ? parseSize(v['max-bytes']) : 0;
  const files = specs.map((s) => {
    try {
      const f = parseFileSpec(s, corpus, maxBytes);
      return f.maxBytes > 0 ? `${f.path}:${f.maxBytes}` : f.path;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  });
  if (v.backend !== undefined && !['auto', 'cpu', 'cuda'].includes(v.backend)) throw new UsageError(`Expected auto, cpu or cuda for --backend but received ${JSON.stringify(v.backend)}`);
  const shapes = ['smollm2-135m', 'qwen2.5-0.5b', 'tiny'];
  for (const s of v['test-model'] ?? []) if (!shapes.includes(s)) throw new UsageError(`Unknown --test-model ${JSON.stringify(s)}; expected one of ${shapes.join(', ')}`);
  let models = (v.model ?? []).map((m) => resolve(m));
  if (!models.length && !v['test-model']?.length) {
    const def = resolve(env.LMZIP_BENCH_MODEL ?? join(shared, 'models/stories260K.gguf'));
    if (existsSync(def)) models = [def];
    else log(`no model given and ${def} does not exist: measuring the baselines only (--model PATH)`);
  }
  for (const m of models) if (!existsSync(m)) throw new UsageError(`Model not found: ${m}`);
  const methods = list(v.methods);
  const known = ['lmzip', ...BASELINES.map((b) => b.id)];
  for (const m of methods) if (!known.includes(m)) throw new UsageError(`Unknown method ${JSON.stringify(m)}; expected one of ${known.join(', ')}`);
  const none = (s: string | undefined) => s === 'none' || s === '';
  const sweepLanes = none(v['sweep-lanes'])
    ? []
    : v['sweep-lanes']
      ? list(v['sweep-lanes']).map((x) => positiveInt('--sweep-lanes', x)!)
      : quick
        ? [1, 8, 64]
        : full
          ? [1, 2, 4, 8, 16, 32, 64, 128]
          : [1, 2, 4, 8, 16, 32, 64];
  const sweepThreads = v['sweep-threads'] ? list(v['sweep-threads']).map((x) => positiveInt('--sweep-threads', x)!) : quick ? [2] : [1, 2];
  const sweepInput = v['sweep-input'] ?? (quick ? 'tinystories-valid-part1.txt:8K' : full ? 'tinystories-valid-part1.txt:256K' : 'tinystories-valid-part1.txt:16K');
  let sweepSpec;
  try {
    sweepSpec = sweepLanes.length ? parseFileSpec(sweepInput, corpus, 0) : null;
  } catch (err) {
    throw new UsageError(`--sweep-input: ${(err as Error).message}`);
  }
  const sizes = none(v.sizes)
    ? []
    : v.sizes
      ? list(v.sizes).map(parseSize)
      : quick
        ? [1 * KiB, 10 * KiB, 100 * KiB, 1 * MiB]
        : full
          ? [1 * KiB, 10 * KiB, 100 * KiB, 1 * MiB, 10 * MiB, 100 * MiB]
          : [1 * KiB, 10 * KiB, 100 * KiB, 1 * MiB, 10 * MiB];
  const sources = SWEEP_SOURCES.map((s) => join(corpus, s)).filter((p) => existsSync(p));
  if (sizes.length && !sources.length) log(`size sweep skipped: none of ${SWEEP_SOURCES.join(', ')} is in ${corpus}`);
  return benchDefaults({
    files,
    maxBytes: 0,
    models,
    methods,
    runs: positiveInt('--runs', v.runs) ?? (quick ? 1 : 3),
    lanes: positiveInt('--lanes', v.lanes),
    window: positiveInt('--window', v.window),
    threads: positiveInt('--threads', v.threads),
    backend: v.backend,
    testShapes: v['test-model'] ?? [],
    reference: v.reference ?? 'auto',
    sweep: {
      lanes: sweepLanes,
      threads: sweepThreads,
      input: sweepSpec ? sweepSpec.path : '',
      bytes: sweepSpec ? sweepSpec.maxBytes : 0,
      runs: positiveInt('--sweep-runs', v['sweep-runs']) ?? (quick ? 1 : 3),
    },
    sizes: {
      bytes: sizes,
      lmzipMaxBytes: v['sizes-lmzip-max'] ? parseSize(v['sizes-lmzip-max']) : full ? 10 * MiB : quick ? 10 * KiB : 100 * KiB,
      methods: BASELINES.map((b) => b.id),
      sources,
    },
    outDir: resolve(v.out ?? env.LMZIP_BENCH_OUT ?? 'lmzip-bench'),
    outName: v.name ?? 'latest',
    docsFile: v.docs ? resolve(v.docs) : undefined,
    install: !!v.install,
    png: !v['no-png'],
    timeoutSeconds: positiveInt('--timeout', v.timeout) ?? 3600,
    sweepTimeoutSeconds: positiveInt('--sweep-timeout', v['sweep-timeout']) ?? 300,
    log,
  });
}

/**
 * The `lmzip bench` command. Prints progress on stderr, the summary tables on
 * stdout; returns 0, 1 when a method failed or did not round-trip, 2 for bad usage.
 */
export async function runBenchCommand(
  args: string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv },
): Promise<number> {
  const log = (s: string) => io.stderr.write(`${s}\n`);
  let opts: BenchOptions | 'help';
  try {
    opts = parseBenchArgs(args, io.env, log);
  } catch (err) {
    if (err instanceof UsageError || (err instanceof Error && /^Expected/.test(err.message))) {
      io.stderr.write(`lmzip bench: ${err.message}\n\n${BENCH_USAGE}`);
      return 2;
    }
    throw err;
  }
  if (opts === 'help') {
    io.stdout.write(BENCH_USAGE);
    return 0;
  }
  const fromJson = fromJsonArg(args);
  if (fromJson) {
    const report = refreshDerived(JSON.parse(readFileSync(fromJson, 'utf8')) as BenchReport);
    writeOutputs(report, opts);
    io.stdout.write(`${summaryTable(report.summary)}\n\nwrote ${report.outputs.join(', ')}\n`);
    return 0;
  }
  opts.command = ['lmzip', 'bench', ...args];
  if (io.env.npm_lifecycle_event === 'bench') opts.command = ['npm', 'run', 'bench', ...(args.length ? ['--', ...args] : [])];
  const report = await runBenchmark(opts);
  io.stdout.write(`\n${machineLine(report.machine)}\n\n${summaryTable(report.summary)}\n`);
  if (report.results.some((r) => r.lmzip)) io.stdout.write(`\n${lmzipTable(report.results)}\n\n${goalsLines(report).join('\n')}\n`);
  // lmzip beside llama.cpp's own decode rate, per lanes and threads.
  if (report.scaling.lanes.length) io.stdout.write(`\n${lanesTable(report)}\n`);
  if (report.outputs.length) io.stdout.write(`\nwrote ${report.outputs.join(', ')}\n`);
  const bad = report.results.some((r) => r.status === 'failed' || r.roundTrip === false) || report.scaling.lanes.some((p) => p.error || p.roundTrip === false);
  return bad ? 1 : 0;
}
