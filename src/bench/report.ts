/** The Markdown tables and the charts made from a BenchReport. */
import { basename } from 'node:path';
import { machineLine } from './machine.js';
import type { ChartSpec } from './chart.js';
import type { BenchReport, MethodResult, MethodSummary } from './types.js';
import { fmt, formatBytes, pct, shortSize } from './util.js';

function table(head: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = head.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), `| ${sep.join(' | ')} |`, ...rows.map(line)].join('\n');
}

function rt(ok: boolean | null | undefined): string {
  return ok === null || ok === undefined ? '–' : ok ? 'ok' : 'FAILED';
}

function methodName(r: { label: string; model?: string }): string {
  return r.model ? `${r.label} (${r.model})` : r.label;
}

function peak(c: number | null, d: number | null): string {
  if (c === null && d === null) return '–';
  return `${fmt(c)} / ${fmt(d)}`;
}

export function summaryTable(summary: MethodSummary[]): string {
  return table(
    ['method', 'inputs', 'input', 'compressed', 'bits/byte', 'ratio', 'compress MB/s', 'decompress MB/s', 'peak MiB', 'round trip'],
    summary.map((s) => [
      methodName(s),
      String(s.inputs),
      formatBytes(s.inputBytes),
      s.compressedBytes.toLocaleString('en-US'),
      fmt(s.bitsPerByte),
      fmt(s.ratio),
      fmt(s.compressMBps),
      fmt(s.decompressMBps),
      fmt(s.peakMiB),
      rt(s.roundTrip),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

export function lmzipTable(results: MethodResult[]): string {
  const rows = results.filter((r) => r.kind === 'lmzip' && r.lmzip);
  return table(
    [
      'input',
      'model',
      'lanes',
      'model-coded',
      'tokens',
      'ideal bits/byte',
      'payload bits/byte',
      'coder overhead',
      'mixer saved (bytes)',
      'container bytes',
      'compress tok/s',
      'raw model tok/s',
      'lmzip / raw',
      'lmzip / raw (CPU s)',
      'decompress tok/s',
    ],
    rows.map((r) => {
      const l = r.lmzip!;
      return [
        r.input,
        r.model ?? '',
        l.lanes === null ? 'default' : String(l.lanes),
        pct(l.modelBytes / r.inputBytes, 3),
        l.tokens.toLocaleString('en-US'),
        l.tokens ? fmt(l.idealBits / r.inputBytes, 4) : '–',
        l.tokens ? fmt((l.payloadBytes * 8) / r.inputBytes, 4) : '–',
        pct(l.coderOverhead),
        l.mixSavedBits ? Math.round(l.mixSavedBits / 8).toLocaleString('en-US') : '–',
        l.containerBytes.toLocaleString('en-US'),
        fmt(l.compressTokensPerSecond),
        fmt(l.rawTokensPerSecond),
        pct(l.rawSpeedRatio),
        l.tokens && r.lmzip!.modelBytes === r.inputBytes ? pct(l.rawCpuRatio) : '–',
        fmt(l.decompressTokensPerSecond),
      ];
    }),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function perInputTable(results: MethodResult[]): string {
  return table(
    ['input', 'method', 'bytes', 'compressed', 'bits/byte', 'ratio', 'compress MB/s', 'decompress MB/s', 'peak MiB (c / d)', 'round trip'],
    results.map((r) =>
      r.status !== 'ok'
        ? [r.input, methodName(r), r.inputBytes.toLocaleString('en-US'), r.status, '', '', '', '', '', r.error ? r.error.slice(0, 80) : '']
        : [
            r.input,
            methodName(r),
            r.inputBytes.toLocaleString('en-US'),
            (r.compressedBytes ?? 0).toLocaleString('en-US'),
            fmt(r.bitsPerByte),
            fmt(r.ratio),
            fmt(r.compressMBps),
            fmt(r.decompressMBps),
            peak(r.compressPeakMiB, r.decompressPeakMiB),
            rt(r.roundTrip),
          ],
    ),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

export function lanesTable(report: BenchReport): string {
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? pct(a / b) : '–');
  const withReference = report.scaling.lanes.some((p) => p.reference || p.referenceError);
  const ref = (p: BenchReport['scaling']['lanes'][number]) =>
    withReference
      ? [
          fmt(p.depth),
          p.reference ? fmt(p.reference.tokensPerSecond) : p.referenceError ? 'failed' : '–',
          ratio(p.compressTokensPerSecond, p.reference?.tokensPerSecond),
          ratio(p.decompressTokensPerSecond, p.reference?.tokensPerSecond),
        ]
      : [];
  return table(
    ['model', 'threads', 'lanes', 'tokens', 'compress tok/s', 'decompress tok/s', 'raw model tok/s', 'lmzip / raw',
      ...(withReference ? ['avg KV depth', 'llama.cpp S_TG tok/s', 'compress / llama.cpp', 'decompress / llama.cpp'] : []), 'peak MiB', 'round trip'],
    report.scaling.lanes.map((p) => [
      p.backend && p.backend !== 'cpu' ? `${p.model} (${p.backend})` : p.model,
      String(p.threads),
      String(p.lanes),
      p.tokens.toLocaleString('en-US'),
      p.error ? `failed: ${p.error.slice(0, 60)}` : fmt(p.compressTokensPerSecond),
      fmt(p.decompressTokensPerSecond),
      fmt(p.rawTokensPerSecond),
      ratio(p.compressTokensPerSecond, p.rawTokensPerSecond),
      ...ref(p),
      fmt(p.compressPeakMiB),
      rt(p.roundTrip),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', ...(withReference ? (['r', 'r', 'r', 'r'] as const) : []), 'r', 'l'],
  );
}

/** One row per method, one column per size: "compress s / decompress s / peak MiB". */
export function sizesTable(report: BenchReport): string {
  const sizes = [...new Set(report.scaling.sizes.map((p) => p.inputBytes))].sort((a, b) => a - b);
  const methods = [...new Set(report.scaling.sizes.map((p) => p.label))];
  return table(
    ['method', ...sizes.map((s) => `${shortSize(s)}: c s / d s / MiB`)],
    methods.map((m) => [
      m,
      ...sizes.map((s) => {
        const p = report.scaling.sizes.find((q) => q.label === m && q.inputBytes === s);
        if (!p) return 'not run';
        if (p.error) return 'failed';
        return `${fmt(p.compressSeconds)} / ${fmt(p.decompressSeconds)} / ${fmt(Math.max(p.compressPeakMiB ?? 0, p.decompressPeakMiB ?? 0))}`;
      }),
    ]),
    ['l', ...sizes.map(() => 'r' as const)],
  );
}

export function toolsTable(report: BenchReport): string {
  return table(
    ['method', 'command', 'version'],
    report.tools.map((t) => [t.id, t.label, t.installed ? (t.version ?? 'installed') : `not installed (apt-get install -y ${t.debianPackage})`]),
  );
}

export function goalsLines(report: BenchReport): string[] {
  const g = report.goals;
  const lines: string[] = [];
  for (const [model, o] of Object.entries(g.coderOverhead)) {
    lines.push(
      `- Coder overhead, ${model}: **${pct(o)}** of the ideal code length (goal ≤ ${pct(g.coderOverheadMax, 2)}).`,
    );
  }
  for (const [model, r] of Object.entries(g.rawSpeedRatio)) {
    lines.push(
      `- Compression speed / raw model speed, ${model}: **${pct(r)}** (goal ≥ ${pct(g.rawSpeedRatioMin, 2)}), over the inputs the model coded whole.`,
    );
  }
  for (const [model, r] of Object.entries(g.rawCpuRatio ?? {})) {
    if (r !== null) lines.push(`- The same from CPU seconds (raw call / compression call), ${model}: **${pct(r)}**.`);
  }
  if (g.shortfalls.length) {
    lines.push('', 'Short of the goals:', ...g.shortfalls.map((s) => `- ${s}`));
  } else if (lines.length) {
    lines.push('', 'All goals met in this run.');
  }
  return lines;
}

/** The full Markdown report. `chartFile` is the PNG (or SVG) name to embed, relative to the .md. */
export function renderMarkdown(report: BenchReport, chartFile?: string, extraCharts: string[] = [], level = 1): string {
  const h = (n: number) => '#'.repeat(level + n - 1);
  const parts: string[] = [];
  parts.push(`${h(1)} lmzip benchmark, ${report.startedAt.slice(0, 10)}`);
  parts.push(
    [
      `- Machine: ${machineLine(report.machine)}`,
      `- Command: \`${report.command.join(' ')}\``,
      `- Every time and memory figure is the median of ${report.options.runs} run(s); sizes do not vary between runs.`,
      `- Speeds are input bytes per second (MB = 10^6 bytes) and model tokens per second; ratio = input / compressed.`,
      report.machine.gnuTime
        ? '- Peak memory: the child process\'s maximum resident set size from GNU `time -f %M`.'
        : '- Peak memory: GNU time is not installed, so baselines have none and lmzip reports its own maxRSS.',
    ].join('\n'),
  );
  parts.push(`${h(2)} All inputs together`, summaryTable(report.summary));
  if (chartFile) parts.push(`![Compression ratio against compression speed](${chartFile})`);
  if (report.results.some((r) => r.kind === 'lmzip' && r.lmzip)) {
    parts.push(
      `${h(2)} lmzip against its limit`,
      'Ideal = −Σ log2 p(token) under the same model, context and schedule; coder overhead = payload bits / ideal bits − 1 ' +
        '(negative when the mixer, coding method 2, codes below the model\'s own code length; "mixer saved" is the model\'s integer-table code length minus the mixed one). ' +
        'Raw model = the same lanes and batch shape with no coding (`measureModelSpeed`). ' +
        '"lmzip / raw" divides token rates from wall time; "(CPU s)" divides the CPU seconds of the two whole calls, which other work on the machine disturbs far less.',
      lmzipTable(report.results),
      goalsLines(report).join('\n'),
    );
  }
  parts.push(`${h(2)} Each input`, perInputTable(report.results));
  if (report.scaling.lanes.length) {
    parts.push(`${h(2)} Scaling with lanes and threads`, lanesTable(report));
    if (report.scaling.lanes.some((p) => p.reference))
      parts.push(
        'Every chunk the model can spell is model-coded in this sweep (the benchmark\'s forceModel), so both directions run the model, ' +
          'and the ideal code length is not computed (measureIdeal off), so compression time is compressing alone. ' +
          '`llama.cpp S_TG`: llama.cpp\'s own `llama-batched-bench` (' + (report.reference?.binary ? `\`${basename(report.reference.binary)}\`, ` : '') +
          'built from the same llama.cpp with the addon\'s settings) at the same lanes (`-npl`) and threads, `-fa off -no-kvu -ub 512`, ' +
          'decoding `-ntg` = 2 × (depth − 1) tokens per sequence (32 to 256; median of as many runs as lmzip had) after a prompt of `-npp` = average KV depth − ntg/2, so that its steps run at ' +
          'the same average depth as lmzip\'s coded tokens (computed from the file\'s window, overlap and tokens per chunk). ' +
          'lmzip\'s time also holds its restarts (a prefill of `overlap` tokens when a lane\'s window is full) and the tail of each frame, ' +
          'when fewer lanes than the maximum are still running.',
      );
  }
  if (report.scaling.sizes.length) {
    parts.push(
      `${h(2)} Scaling with input size`,
      'Each cell: compression seconds / decompression seconds / peak MiB. The text is the corpus\'s text files one after another' +
        (report.scaling.sizes.length ? ', cycled when a size exceeds them (repeats flatter the LZ methods).' : '.'),
      sizesTable(report),
    );
  }
  for (const c of extraCharts) parts.push(`![](${c})`);
  parts.push(`${h(2)} Tools`, toolsTable(report));
  return parts.join('\n\n') + '\n';
}

/** Ratio against compression speed, one point per method (all inputs together). */
export function ratioSpeedChart(report: BenchReport): ChartSpec {
  const pts = report.summary.filter((s) => s.compressMBps > 0 && s.ratio > 0);
  const base = pts.filter((s) => s.kind === 'baseline');
  const lm = pts.filter((s) => s.kind === 'lmzip');
  return {
    title: 'Compression ratio against compression speed',
    subtitle: `${report.inputs.length} inputs, ${formatBytes(report.inputs.reduce((a, b) => a + b.bytes, 0))}; ${report.machine.cpuModel}, ${report.machine.logicalCores} cores`,
    xLabel: 'compression speed, MB/s (log scale)',
    yLabel: 'ratio (input / compressed, log scale)',
    xLog: true,
    yLog: true,
    series: [
      { name: 'general-purpose', color: '#1f77b4', points: base.map((s) => ({ x: s.compressMBps, y: s.ratio, label: s.label })) },
      { name: 'lmzip', color: '#d62728', points: lm.map((s) => ({ x: s.compressMBps, y: s.ratio, label: methodName(s) })) },
    ],
  };
}

export function lanesChart(report: BenchReport): ChartSpec | null {
  const pts = report.scaling.lanes.filter((p) => p.compressTokensPerSecond);
  if (!pts.length) return null;
  const keys = [...new Set(pts.map((p) => `${p.model}|${p.threads}`))];
  const series = keys.flatMap((k) => {
    const [model, threads] = k.split('|');
    const s = pts.filter((p) => `${p.model}|${p.threads}` === k).sort((a, b) => a.lanes - b.lanes);
    return [
      { name: `compress, ${threads} thr`, line: true, points: s.map((p) => ({ x: p.lanes, y: p.compressTokensPerSecond! })) },
      { name: `decompress, ${threads} thr`, line: true, points: s.filter((p) => p.decompressTokensPerSecond).map((p) => ({ x: p.lanes, y: p.decompressTokensPerSecond! })) },
      { name: `raw model, ${threads} thr`, line: true, points: s.filter((p) => p.rawTokensPerSecond).map((p) => ({ x: p.lanes, y: p.rawTokensPerSecond! })) },
      { name: `llama.cpp S_TG, ${threads} thr`, line: true, points: s.filter((p) => p.reference).map((p) => ({ x: p.lanes, y: p.reference!.tokensPerSecond })) },
    ].filter((x) => x.points.length).map((x) => ({ ...x, name: keys.length > threadsCount(keys) ? `${model} ${x.name}` : x.name }));
  });
  return {
    title: 'lmzip tokens per second against lanes',
    subtitle: `${formatBytes(pts[0]!.inputBytes)} of text; ${report.machine.cpuModel}, ${report.machine.logicalCores} cores`,
    xLabel: 'lanes (log scale)',
    yLabel: 'tokens per second',
    xLog: true,
    legend: true,
    series,
  };
}

function threadsCount(keys: string[]): number {
  return new Set(keys.map((k) => k.split('|')[1])).size;
}

export function sizesChart(report: BenchReport, what: 'time' | 'memory' = 'time'): ChartSpec | null {
  const value = (p: BenchReport['scaling']['sizes'][number]) =>
    what === 'time' ? p.compressSeconds : Math.max(p.compressPeakMiB ?? 0, p.decompressPeakMiB ?? 0) || null;
  const pts = report.scaling.sizes.filter((p) => value(p));
  if (!pts.length) return null;
  const labels = [...new Set(pts.map((p) => p.label))];
  return {
    title: what === 'time' ? 'Compression time against input size' : 'Peak memory against input size',
    subtitle: `${report.machine.cpuModel}, ${report.machine.logicalCores} cores`,
    xLabel: 'input bytes (log scale)',
    yLabel: what === 'time' ? 'compression seconds (log scale)' : 'peak MiB, compress or decompress (log scale)',
    xLog: true,
    yLog: true,
    legend: true,
    series: labels.map((l) => ({
      name: l,
      line: true,
      points: pts.filter((p) => p.label === l).sort((a, b) => a.inputBytes - b.inputBytes).map((p) => ({ x: p.inputBytes, y: value(p)! })),
    })),
  };
}
