/**
 * scripts/make-test-model.mjs: real architectures with seeded random weights. Checked with
 * the tiny shape (seconds) in both architectures the real shapes use; the real shapes are
 * the same code with other numbers (their sizes are checked without writing them).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compressWithStats, decompress } from '../../src/compress.js';
import { Model } from '../../src/model.js';
// @ts-expect-error -- a plain .mjs script without type declarations
import { makeTestModel, SHAPES } from '../../scripts/make-test-model.mjs';
import { CORPUS, REPO, tempDir } from '../helpers.js';

const dir = tempDir('lmzip-testmodel-');
afterAll(() => dir.cleanup());
const SCRIPT = join(REPO, 'scripts/make-test-model.mjs');

function make(args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, LMZIP_TEST_MODELS_DIR: dir.path } });
  expect(r.stderr).toMatch(/make-test-model: /);
  expect(r.status).toBe(0);
  return r.stdout.trim();
}

describe('make-test-model', () => {
  it('writes the same bytes for the same seed, other bytes for another', () => {
    const a = make(['--shape', 'tiny']);
    expect(a).toBe(join(dir.path, 'tiny-q8_0-seed1.gguf'));
    const b = make(['--shape', 'tiny', '--out', join(dir.path, 'again.gguf')]);
    const c = make(['--shape', 'tiny', '--seed', '2', '--out', join(dir.path, 'seed2.gguf')]);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
  });

  it('gives a llama-architecture model that llama.cpp loads with the shape asked for, and that codes text both ways', async () => {
    const path = make(['--shape', 'tiny', '--layers', '3', '--out', join(dir.path, 'llama.gguf')]);
    const model = await Model.load(path, { threads: 1, backend: 'cpu' });
    try {
      expect(model.facts).toMatchObject({ architecture: 'llama', layerCount: 3, embeddingLength: 64, vocabSize: 49152, vocabType: 'bpe' });
      expect(model.facts.metadata['tokenizer.ggml.pre']).toBe('starcoder');
      expect(model.facts.metadata['general.file_type']).toBe('7'); // Q8_0
      const text = readFileSync(join(CORPUS, 'alice29.txt')).subarray(0, 3000);
      // Random weights lose to brotli; forceModel makes the model code every chunk.
      const { output, stats } = await compressWithStats(text, { model, lanes: 2, forceModel: true });
      expect(stats.modelChunks).toBeGreaterThan(0);
      expect(stats.brotliChunks + stats.storedChunks).toBe(0);
      expect(Buffer.from(await decompress(output, { model })).equals(text)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('gives a qwen2-architecture model with QKV biases and the 151,936-token qwen2 vocabulary', async () => {
    const out = join(dir.path, 'qwen.gguf');
    const r = makeTestModel({ shape: 'tiny', out, overrides: { arch: 'qwen2', vocab: 'qwen2', qkvBias: true, rmsEps: 1e-6 } });
    const model = await Model.load(r.path, { threads: 1, backend: 'cpu' });
    try {
      expect(model.facts).toMatchObject({ architecture: 'qwen2', layerCount: 2, vocabSize: 151936 });
      const { output } = await compressWithStats('Hello, world. '.repeat(30), { model, lanes: 1, forceModel: true });
      expect(Buffer.from(await decompress(output, { model })).toString()).toBe('Hello, world. '.repeat(30));
    } finally {
      model.dispose();
    }
  });

  it('knows the real shapes exactly (from their config.json)', () => {
    expect(SHAPES['smollm2-135m']).toMatchObject({ arch: 'llama', vocab: 'starcoder', layers: 30, embd: 576, ffn: 1536, heads: 9, kvHeads: 3, ropeTheta: 100000, rmsEps: 1e-5, ctx: 8192 });
    expect(SHAPES['qwen2.5-0.5b']).toMatchObject({ arch: 'qwen2', vocab: 'qwen2', layers: 24, embd: 896, ffn: 4864, heads: 14, kvHeads: 2, ropeTheta: 1e6, rmsEps: 1e-6, qkvBias: true, ctx: 32768 });
  });

  it('refuses an unknown shape with a usage message', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '--shape', 'gpt-5'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown shape "gpt-5"; expected one of smollm2-135m, qwen2.5-0.5b, tiny/);
  });
});
