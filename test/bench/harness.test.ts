import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BASELINES, baselineById, detectTools, runBaselineOnce } from '../../src/bench/baselines.js';
import { renderSvg } from '../../src/bench/chart.js';
import { benchDefaults, DOCS_END, DOCS_START, parseBenchArgs, runBenchmark, spliceDocs } from '../../src/bench/index.js';
import { which } from '../../src/bench/proc.js';
import { renderMarkdown } from '../../src/bench/report.js';
import { fmt, median, parseSize, pct } from '../../src/bench/util.js';

const dir = mkdtempSync(join(tmpdir(), 'lmzip-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = Buffer.from('Once upon a time there was a little dog. The dog liked to run. '.repeat(40));
const input = join(dir, 'input.txt');
writeFileSync(input, text);

describe('numbers', () => {
  it('takes medians, parses sizes, formats', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('64K')).toBe(65536);
    expect(parseSize('1.5M')).toBe(1572864);
    expect(() => parseSize('lots')).toThrow('Expected a size such as 4096, 64K or 100M but received "lots"');
    expect(fmt(0.123456)).toBe('0.123');
    expect(fmt(null)).toBe('–');
    expect(pct(0.0005)).toBe('0.05%');
  });
});

describe('baselines', () => {
  it('gzip -9 round-trips a small file and reports its size', async () => {
    const gzip = baselineById('gzip-9')!;
    const r = await runBaselineOnce(gzip, input, text, join(dir, 'scratch'));
    expect(r.ok).toBe(true);
    expect(r.roundTrip).toBe(true);
    expect(r.compressedBytes).toBeGreaterThan(20);
    expect(r.compressedBytes).toBeLessThan(text.length);
    expect(r.compressSeconds).toBeGreaterThan(0);
  });

  it('every installed baseline round-trips', async () => {
    for (const b of BASELINES) {
      if (!which(b.program)) continue;
      const r = await runBaselineOnce(b, input, text, join(dir, 'scratch'));
      expect(r.error, b.id).toBeUndefined();
      expect(r.roundTrip, b.id).toBe(true);
    }
  });

  it('reports a missing tool as not installed, with its Debian package', async () => {
    const fake = { ...BASELINES[0]!, id: 'nope', program: 'lmzip-no-such-tool', debianPackage: 'nope-pkg' };
    const [t] = await detectTools([fake]);
    expect(t).toMatchObject({ id: 'nope', installed: false, version: null, debianPackage: 'nope-pkg' });
  });
});

describe('charts', () => {
  it('draws one labelled marker per point on log axes, escaping text', () => {
    const svg = renderSvg({
      title: 'ratio <vs> speed',
      xLabel: 'MB/s',
      yLabel: 'ratio',
      xLog: true,
      yLog: true,
      series: [{ name: 'a', points: [{ x: 0.01, y: 3, label: 'xz -9e' }, { x: 50, y: 2.5, label: 'a&b' }] }],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<circle/g)).toHaveLength(2);
    expect(svg).toContain('ratio &lt;vs&gt; speed');
    expect(svg).toContain('a&amp;b');
    expect(svg).toContain('>xz -9e</text>');
    expect(svg).toContain('>0.01</text>');
  });
});

describe('runBenchmark with a stand-in library', () => {
  it('measures gzip and "lmzip", computes the overhead, writes JSON and Markdown', async () => {
    process.env.LMZIP_BENCH_MODULE = fileURLToPath(new URL('./fixtures/fake-lmzip.ts', import.meta.url));
    const model = join(dir, 'fake.gguf');
    writeFileSync(model, 'GGUF');
    const out = join(dir, 'out');
    const report = await runBenchmark(
      benchDefaults({ files: [input], models: [model], methods: ['gzip-9', 'lmzip'], runs: 1, outDir: out, png: false }),
    );
    const rows = report.results;
    expect(rows.map((r) => r.method)).toEqual(['gzip-9', 'lmzip']);
    for (const r of rows) {
      expect(r.status).toBe('ok');
      expect(r.roundTrip).toBe(true);
      expect(r.bitsPerByte).toBeCloseTo((r.compressedBytes! * 8) / text.length, 9);
    }
    const lm = rows[1]!.lmzip!;
    expect(lm.tokens).toBe(Math.ceil(text.length / 2));
    expect(lm.coderOverhead).toBeCloseTo(1 / 0.999 - 1, 9);
    expect(lm.rawSpeedRatio).toBeGreaterThan(0);
    expect(report.goals.coderOverhead['fake.gguf']).toBeCloseTo(1 / 0.999 - 1, 9);
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    expect(md).toContain('| method | inputs | input | compressed | bits/byte | ratio |');
    expect(md).toContain('| gzip -9 |');
    expect(md).toContain('coder overhead');
    expect(existsSync(join(out, 'latest-ratio-speed.svg'))).toBe(true);
    const json = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    expect(json.summary).toHaveLength(2);
    delete process.env.LMZIP_BENCH_MODULE;
  }, 60_000);

  it('marks a tool that is not installed, never a number', () => {
    const md = renderMarkdown({
      formatVersion: 1, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:00Z', command: ['x'],
      machine: { cpuModel: 'cpu', logicalCores: 2, memoryGiB: 1, os: 'os', kernel: 'k', node: 'v20', llamaCpp: 'v0', lmzip: '0', gnuTime: true },
      tools: [{ id: 'zpaq-5', label: 'zpaq -m5', program: 'zpaq', debianPackage: 'zpaq', installed: false, version: null }],
      options: { maxBytes: 0, runs: 1, lanes: null, window: null, threads: null, models: [] },
      inputs: [],
      results: [{ input: 'f', method: 'zpaq-5', label: 'zpaq -m5', kind: 'baseline', status: 'not installed', inputBytes: 10,
        compressedBytes: null, bitsPerByte: null, ratio: null, compressSeconds: null, decompressSeconds: null, compressMBps: null,
        decompressMBps: null, compressPeakMiB: null, decompressPeakMiB: null, roundTrip: null, runs: 0, compressSecondsAll: [], decompressSecondsAll: [] }],
      summary: [], scaling: { lanes: [], sizes: [] },
      goals: { coderOverheadMax: 0.001, rawSpeedRatioMin: 0.9, coderOverhead: {}, rawSpeedRatio: {}, shortfalls: [] }, outputs: [],
    });
    expect(md).toContain('| f | zpaq -m5 | 10 | not installed |');
    expect(md).toContain('not installed (apt-get install -y zpaq)');
  });
});

describe('docs', () => {
  it('replaces only the text between the markers', () => {
    const f = join(dir, 'doc.md');
    writeFileSync(f, `# Title\n\n${DOCS_START}\nold\n${DOCS_END}\n\nhand-written\n`);
    spliceDocs(f, 'new table');
    expect(readFileSync(f, 'utf8')).toBe(`# Title\n\n${DOCS_START}\nnew table\n${DOCS_END}\n\nhand-written\n`);
    writeFileSync(f, 'no markers');
    expect(() => spliceDocs(f, 'x')).toThrow('has no');
  });
});

describe('arguments', () => {
  it('rejects bad numbers with the option name', () => {
    // No lanes sweep: its default input lives in the shared corpus, which this test does not need.
    const noSweep = ['--sweep-lanes', 'none', input];
    expect(() => parseBenchArgs(['--runs', '0', ...noSweep])).toThrow('Expected a positive integer for --runs but received "0"');
    expect(() => parseBenchArgs(['--methods', 'lzma', ...noSweep])).toThrow('Unknown method "lzma"');
  });
  it('takes name:size prefixes and defaults', () => {
    const o = parseBenchArgs([`${input}:1K`, '--sweep-lanes', 'none', '--sizes', 'none', '--model', input]);
    if (o === 'help') throw new Error('help');
    expect(o.files).toEqual([`${input}:1024`]);
    expect(o.runs).toBe(3);
    expect(o.sweep.lanes).toEqual([]);
    expect(o.sizes.bytes).toEqual([]);
  });
});
