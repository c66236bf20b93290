import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LmzipError, Model } from '../../src/index.js';
import { GGUF_V1, RANDOM_LLAMA, STORIES, tempDir, vocab } from '../helpers.js';

async function loadError(path: string, options = {}): Promise<LmzipError> {
  const e = await Model.load(path, options).then(() => undefined, (err) => err);
  expect(e).toBeInstanceOf(LmzipError);
  return e as LmzipError;
}

describe('Model.load', () => {
  let model: Model;
  beforeAll(async () => {
    model = await Model.load(STORIES, { threads: 1 });
  });
  afterAll(() => model.dispose());

  it('reads the facts of the trained stories260K model', async () => {
    const f = model.facts;
    expect(f.architecture).toBe('llama');
    expect(f.vocabType).toBe('spm');
    expect(f.vocabSize).toBe(512);
    expect(f.contextLength).toBe(2048);
    expect(f.layerCount).toBe(5);
    expect(f.embeddingLength).toBe(64);
    expect(f.parameterCount).toBe(292800);
    expect(f.fileSize).toBe(1185376);
    expect(f.vocabOnly).toBe(false);
    expect(f.metadata['general.architecture']).toBe('llama');
    expect(f.metadata['llama.context_length']).toBe('2048');
    expect(Object.keys(f.metadata).length).toBeGreaterThan(10);
    expect(f.tokenizerFingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(await model.fingerprint()).toBe('270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
  });

  it('loads a vocabulary-only model that tokenizes but cannot compress', async () => {
    const v = await Model.load(vocab('gpt-2'), { vocabOnly: true });
    expect(v.facts.vocabOnly).toBe(true);
    expect(v.facts.vocabSize).toBe(50257);
    expect(Array.from(await v.tokenize(Buffer.from('Hello world')))).toEqual([15496, 995]);
    v.dispose();
  });

  it('holds two models at once and serves concurrent calls on one model', async () => {
    const other = await Model.load(RANDOM_LLAMA, { threads: 1 });
    const text = Buffer.from('Once upon a time there was a little dog.');
    const [a, b, c] = await Promise.all([model.tokenize(text), model.tokenize(text), other.tokenize(text)]);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Buffer.from(await other.detokenize(c)).toString()).toBe(` ${text}`);
    expect(other.facts.vocabSize).toBe(32000);
    other.dispose();
  });

  it('rejects calls after dispose with MODEL_DISPOSED', async () => {
    const m = await Model.load(STORIES, { threads: 1 });
    m.dispose();
    expect(m.disposed).toBe(true);
    await expect(m.tokenize(Buffer.from('x'))).rejects.toMatchObject({ code: 'MODEL_DISPOSED' });
  });
});

describe('Model.load errors', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  it('MODEL_NOT_FOUND for a missing file', async () => {
    const e = await loadError(join(dir.path, 'nope.gguf'));
    expect(e.code).toBe('MODEL_NOT_FOUND');
    expect(e.message).toContain('nope.gguf');
  });

  it('MODEL_INVALID for an empty file and for a file that is not GGUF', async () => {
    const empty = join(dir.path, 'empty.gguf');
    writeFileSync(empty, '');
    expect((await loadError(empty)).code).toBe('MODEL_INVALID');
    const text = join(dir.path, 'text.gguf');
    writeFileSync(text, 'this is not a model');
    const e = await loadError(text);
    expect(e.code).toBe('MODEL_INVALID');
    expect(e.message).toMatch(/not a GGUF/);
    expect((await loadError(dir.path)).code).toBe('MODEL_INVALID');
  });

  it('MODEL_LOAD_FAILED for a truncated GGUF and for GGUF version 1', async () => {
    const truncated = join(dir.path, 'truncated.gguf');
    writeFileSync(truncated, readFileSync(STORIES).subarray(0, 600_000));
    const e = await loadError(truncated);
    expect(e.code).toBe('MODEL_LOAD_FAILED');
    expect(e.message).toContain('truncated.gguf');
    const v1 = await loadError(GGUF_V1);
    expect(v1.code).toBe('MODEL_LOAD_FAILED');
    expect(v1.message).toMatch(/GGUFv1|version 1/i);
  });

  it('validates options with messages that name the parameter', async () => {
    const copy = join(dir.path, 'copy.gguf');
    copyFileSync(STORIES, copy);
    await expect(Model.load(copy, { threads: -1 })).rejects.toThrow('Expected an integer from 1 to 1024 for threads but received -1');
    await expect(Model.load(copy, { gpuLayers: 1.5 })).rejects.toThrow('Expected an integer from -1 to 100000 for gpuLayers but received 1.5');
    await expect(Model.load('', {})).rejects.toThrow('Expected a non-empty string for path but received ""');
    await expect(Model.load(copy, { vocabOnly: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
