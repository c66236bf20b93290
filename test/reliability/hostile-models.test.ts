/**
 * Crafted GGUF files must never end the process (issue 9, items 7 and 11).
 *
 * Each file is stories260K with one metadata value changed (gguf-craft.ts); before the
 * checks in native/model_guard.cpp every one of them made llama.cpp call abort() (or,
 * for the FIFO, hang). Each load runs in a child process, because the failure being
 * tested is the death of the whole process: the child must exit normally and print
 * MODEL_LOAD_FAILED with the name of the bad key. `lmzip models info` must do the same
 * in one line.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, STORIES } from '../helpers.js';
import { craftGguf, getKv, setArray, setKv, type Gguf } from './gguf-craft.js';

/** Loads the model, compresses a line with it, prints `OK` or `ERR <code> <message>`. */
const CHILD = `
const { Model, compress } = await import(${JSON.stringify(join(REPO, 'dist/index.js'))});
try {
  const model = await Model.load(process.argv[1], { threads: 1 });
  await compress(Buffer.from('Once upon a time, there was a little dog.'), { model, lanes: 2, window: 32 });
  console.log('OK');
} catch (e) { console.log('ERR', e.code, e.message); }
`;

function loadInChild(path: string) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, path], { encoding: 'utf8', timeout: 60_000 });
  return { signal: r.signal, status: r.status, out: r.stdout.trim(), stderr: r.stderr };
}

const tokens = (g: Gguf) => (getKv(g, 'tokenizer.ggml.tokens')!.value as string[]).slice();

/** [name, edit, text the refusal must contain]; every one aborted llama.cpp before. */
const CRAFTED: [string, (g: Gguf) => void, string][] = [
  ['block_count 1000000', (g) => setKv(g, 'llama.block_count', 'u32', 1_000_000), 'llama.block_count'],
  ['block_count 0', (g) => setKv(g, 'llama.block_count', 'u32', 0), 'llama.block_count'],
  ['block_count as a string', (g) => setKv(g, 'llama.block_count', 'str', '5'), 'llama.block_count'],
  ['two tokens with the same text', (g) => { const t = tokens(g); t[300] = t[301]; setArray(g, 'tokenizer.ggml.tokens', 'str', t); }, 'tokenizer.ggml.tokens'],
  ['rms epsilon NaN', (g) => setKv(g, 'llama.attention.layer_norm_rms_epsilon', 'f32', NaN), 'layer_norm_rms_epsilon'],
  ['rms epsilon -1', (g) => setKv(g, 'llama.attention.layer_norm_rms_epsilon', 'f32', -1), 'layer_norm_rms_epsilon'],
  ['rms epsilon -inf', (g) => setKv(g, 'llama.attention.layer_norm_rms_epsilon', 'f32', -Infinity), 'layer_norm_rms_epsilon'],
  ['expert_count 1000000', (g) => setKv(g, 'llama.expert_count', 'u32', 1_000_000), 'llama.expert_count'],
  ['one expert, none used', (g) => setKv(g, 'llama.expert_count', 'u32', 1), 'llama.expert_used_count'],
  ['more experts used than exist', (g) => { setKv(g, 'llama.expert_count', 'u32', 4); setArray(g, 'llama.expert_used_count', 'u32', [1, 9, 1, 1, 1]); }, 'llama.expert_used_count'],
  ['experts used without experts', (g) => setKv(g, 'llama.expert_used_count', 'u32', 2), 'llama.expert_used_count'],
  ['alignment 1', (g) => setKv(g, 'general.alignment', 'u32', 1), 'general.alignment'],
  ['unknown RoPE scaling type', (g) => setKv(g, 'llama.rope.scaling.type', 'str', 'foo'), 'llama.rope.scaling.type'],
  ['byte tokens in a WordPiece vocabulary', (g) => setKv(g, 'tokenizer.ggml.model', 'str', 'bert'), 'tokenizer.ggml.token_type'],
  // No rule names this one: llama.cpp's own assertion, turned into an error while loading.
  ['an expert architecture without experts', (g) => {
    for (const kv of g.kvs) if (kv.key.startsWith('llama.')) kv.key = `smallthinker.${kv.key.slice(6)}`;
    setKv(g, 'general.architecture', 'str', 'smallthinker');
  }, 'n_expert'],
];

describe('hostile model files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lmzip-hostile-models-'));
    mkdirSync(join(dir, 'cache'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the unedited model loads and compresses in the child (the harness works)', () => {
    const r = loadInChild(STORIES);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.out).toBe('OK');
  });

  const source = () => readFileSync(STORIES);
  for (const [name, edit, key] of CRAFTED) {
    it(`refuses ${name} with MODEL_LOAD_FAILED naming ${key}, without aborting`, () => {
      const path = join(dir, `${name.replace(/\W+/g, '-')}.gguf`);
      writeFileSync(path, craftGguf(source(), edit));
      const r = loadInChild(path);
      expect(r.signal, `the process died: ${r.stderr.slice(-400)}`).toBeNull();
      expect(r.out).toMatch(/^ERR MODEL_LOAD_FAILED /);
      expect(r.out).toContain(key);
    });
  }

  it('lmzip models info refuses a crafted file in one line with a code', () => {
    const path = join(dir, 'info-layers.gguf');
    writeFileSync(path, craftGguf(source(), (g) => setKv(g, 'llama.block_count', 'u32', 1_000_000)));
    const env = { ...process.env, LMZIP_CACHE_DIR: join(dir, 'cache'), LMZIP_OFFLINE: '1' };
    for (const p of [path, join(dir, 'two-tokens-with-the-same-text.gguf')]) {
      const r = spawnSync(process.execPath, [CLI, 'models', 'info', p], { encoding: 'utf8', env, timeout: 60_000 });
      expect(r.signal, r.stderr).toBeNull();
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^lmzip models: .*\[MODEL_LOAD_FAILED\]\n$/);
    }
  });

  it('Model.load on a FIFO fails at once instead of waiting for a writer', () => {
    const fifo = join(dir, 'model.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const r = loadInChild(fifo);
    expect(r.signal, 'the load hung and was killed').toBeNull();
    expect(r.out).toMatch(/^ERR MODEL_INVALID .*not a regular file/);
  });
});
