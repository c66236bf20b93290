/**
 * A .lmz header names its model by hash and short name only (format v2), so
 * `lmzip -d` without -m must still find a local model file it compressed with on this
 * machine: lmzip remembers the files it has fingerprinted (fingerprints.json in the
 * cache folder) and looks there, checking the file's hash again before using it.
 * This is the README's first command on a fresh machine (empty model cache).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprintFile } from '../../src/fingerprint.js';
import { findCachedModel } from '../../src/models/index.js';
import { CLI, CORPUS, STORIES, tempDir } from '../helpers.js';

const dir = tempDir('lmzip-local-models-');
afterAll(() => dir.cleanup());
const env = { ...process.env, LMZIP_CACHE_DIR: join(dir.path, 'cache'), LMZIP_OFFLINE: '1', LMZIP_MODEL: '' };

describe('local model files', () => {
  it('are found by hash once lmzip has used them, and not after they change', async () => {
    const model = join(dir.path, 'my-model.gguf');
    copyFileSync(STORIES, model);
    const sha = await fingerprintFile(STORIES, {}); // the real hash, with no cache folder involved
    const fresh = { ...env, LMZIP_CACHE_DIR: join(dir.path, 'cache-a') };
    expect(await findCachedModel({ sha256: sha.slice(0, 16), reference: 'my-model.gguf' }, { env: fresh })).toBeUndefined();
    await fingerprintFile(model, fresh); // what compressing with it does
    expect(await findCachedModel({ sha256: sha.slice(0, 16), reference: 'my-model.gguf' }, { env: fresh })).toBe(model);
    appendFileSync(model, Buffer.from([0])); // now another file: its hash is checked again
    expect(await findCachedModel({ sha256: sha.slice(0, 16), reference: 'my-model.gguf' }, { env: fresh })).toBeUndefined();
  });

  it('lmzip -d finds the model file a file was compressed with, with an empty model cache', () => {
    const sample = join(CORPUS, 'tinystories_sample.txt');
    const c = spawnSync(process.execPath, [CLI, '-T', '1', '-m', STORIES, '-c', sample], { cwd: dir.path, env, maxBuffer: 1 << 26 });
    expect(c.stderr.toString()).toBe('');
    expect(c.status).toBe(0);
    const d = spawnSync(process.execPath, [CLI, '-T', '1', '-d', '-c'], { cwd: dir.path, env, input: c.stdout, maxBuffer: 1 << 26 });
    expect(d.stderr.toString()).toBe('');
    expect(d.status).toBe(0);
    expect(d.stdout.equals(readFileSync(sample))).toBe(true);
  });
});
