/**
 * llama-batched-bench beside the lanes sweep (src/bench/reference.ts): the KV-depth
 * matching, the sweep's wiring with a stand-in library and a stand-in reference, and the
 * real binary when it has been built (it takes minutes, so the test does not build it).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { benchDefaults, parseBenchArgs, runBenchmark } from '../../src/bench/index.js';
import { averageDepth, referenceBuildDir, referenceContext, referenceSteps, runReference } from '../../src/bench/reference.js';
import { STORIES } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'lmzip-reference-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('referenceContext', () => {
  it('gives every sequence the cells of lmzip\'s window, or what -npp + -ntg needs', () => {
    expect(referenceContext(16, 1024, 17, 256)).toBe(16 * 1024);
    expect(referenceContext(2, 64, 100, 78)).toBe(2 * 182);
  });
});

describe('averageDepth', () => {
  it('follows the context policy: one position per token, a restart to start + overlap when the window is full', () => {
    expect(averageDepth(3, 1024, 512)).toBe(2); // depths 1, 2, 3
    // window 5, overlap 2: 1 2 3 4 | 3 4 | 3 4 | 3 4
    expect(averageDepth(10, 5, 2)).toBeCloseTo(31 / 10, 12);
    expect(averageDepth(0, 5, 2)).toBe(0);
  });
});

describe('arguments', () => {
  it('take --test-model, --backend and --reference, and refuse unknown values', () => {
    const input = join(dir, 'x.txt');
    writeFileSync(input, 'x');
    const o = parseBenchArgs([input, '--test-model', 'smollm2-135m', '--backend', 'cuda', '--reference', 'none', '--sweep-lanes', 'none', '--sizes', 'none']);
    expect(o).toMatchObject({ testShapes: ['smollm2-135m'], backend: 'cuda', reference: 'none' });
    expect(() => parseBenchArgs([input, '--test-model', 'gpt2', '--sweep-lanes', 'none'])).toThrow('Unknown --test-model "gpt2"');
    expect(() => parseBenchArgs([input, '--backend', 'gpu', '--sweep-lanes', 'none'])).toThrow('Expected auto, cpu or cuda for --backend but received "gpu"');
  });
});

describe('the lanes sweep with a stand-in library and a stand-in reference', () => {
  it('runs the reference at each lane count with -npp matched to the depth and puts it in the table and chart', async () => {
    process.env.LMZIP_BENCH_MODULE = fileURLToPath(new URL('./fixtures/fake-lmzip.ts', import.meta.url));
    try {
      const input = join(dir, 'in.txt');
      writeFileSync(input, 'Once upon a time. '.repeat(100));
      const model = join(dir, 'fake.gguf');
      writeFileSync(model, 'GGUF');
      // Prints what llama-batched-bench prints with --output-format jsonl, from its arguments.
      const fake = join(dir, 'llama-batched-bench');
      writeFileSync(fake, `#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in -c) c=$2;; -npp) pp=$2;; -ntg) tg=$2;; -npl) pl=$2;; esac; shift; done
echo $c > "${join(dir, 'ctx-')}$pl"
echo "{\\"pp\\": $pp, \\"tg\\": $tg, \\"pl\\": $pl, \\"speed_pp\\": 1000.0, \\"speed_tg\\": $((pl * 100)).0}"
`);
      chmodSync(fake, 0o755);
      const out = join(dir, 'out');
      const report = await runBenchmark(benchDefaults({
        files: [input], models: [model], methods: ['lmzip'], runs: 1, outDir: out, png: false, reference: fake,
        sweep: { lanes: [1, 4], threads: [2], input, bytes: 0, runs: 1 },
      }));
      const pts = report.scaling.lanes;
      expect(pts.map((p) => p.lanes)).toEqual([1, 4]);
      // The fake file records 1800 tokens in one chunk under window 64, overlap 32.
      const depth = averageDepth(1800, 64, 32);
      for (const p of pts) {
        expect(p.depth).toBeCloseTo(depth, 9);
        const tg = referenceSteps(depth);
        expect(tg).toBe(2 * Math.floor(depth - 1)); // as long as the depth allows, so -npp stays ≥ 1
        const pp = Math.max(1, Math.round(depth - tg / 2));
        expect(p.reference).toEqual({ pp, tg, tokensPerSecond: p.lanes * 100 });
        // As many KV cells per sequence as lmzip's lanes hold.
        expect(Number(readFileSync(join(dir, `ctx-${p.lanes}`), 'utf8'))).toBe(referenceContext(p.lanes, 64, pp, tg));
      }
      const md = readFileSync(join(out, 'latest.md'), 'utf8');
      expect(md).toContain('| llama.cpp S_TG tok/s | compress / llama.cpp | decompress / llama.cpp |');
      expect(md).toMatch(/\| 400 \| [\d.,]+% \| [\d.,]+% \|/);
      expect(readFileSync(join(out, 'latest-lanes.svg'), 'utf8')).toContain('llama.cpp S_TG');
    } finally {
      delete process.env.LMZIP_BENCH_MODULE;
    }
  }, 120_000);
});

describe('the real llama-batched-bench', () => {
  const built = ['bin/llama-batched-bench', 'llama-batched-bench/llama-batched-bench'].map((p) => join(referenceBuildDir(false), p)).find(existsSync);

  it('reports S_TG for stories260K at 2 lanes', async (ctx) => {
    if (!built) {
      console.log(`skipped: llama-batched-bench is not built (${referenceBuildDir(false)}); \`npm run bench\` builds it once`);
      ctx.skip();
    }
    const r = await runReference(built!, STORIES, { lanes: 2, window: 256, threads: 1, depth: 40, gpuLayers: 0, timeoutMs: 120_000 });
    expect(r).toMatchObject({ lanes: 2, threads: 1, pp: 1, tg: 78 }); // 78 steps from depth 1 average depth 40
    expect((r as { tgTokensPerSecond: number }).tgTokensPerSecond).toBeGreaterThan(0);
  });
});
