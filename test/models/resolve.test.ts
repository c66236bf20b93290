import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LmzipError } from '../../src/errors.js';
import { builtinModels, findBuiltinModel } from '../../src/models/builtin.js';
import { cacheDir, hfCachePath, listCacheFiles, readIndex } from '../../src/models/cache.js';
import {
  defaultModelReference,
  findCachedModel,
  missingModelError,
  resolveModel,
  type ResolveOptions,
} from '../../src/models/index.js';
import { RANDOM_LLAMA as OTHER_MODEL_PATH, REPO as repoRoot, STORIES as MODEL_PATH } from '../helpers.js';
import { FakeHub } from './hub-server.js';

const SHA = '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d';
const REV = '499bc8821c6b12b4e53c5bffcb21ec206f212d81';
const HF_REF = `hf:ggml-org/models/tinyllamas/stories260K.gguf@${REV}`;

let body: Buffer;
let otherBody: Buffer;
let hub: FakeHub;
let cache: string;
let env: NodeJS.ProcessEnv;

function opts(extra: Partial<ResolveOptions> = {}): ResolveOptions {
  return { env, retryDelayMs: 1, ...extra };
}

async function rejection(p: Promise<unknown>): Promise<LmzipError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LmzipError);
    return e as LmzipError;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  body = await readFile(MODEL_PATH);
  otherBody = await readFile(OTHER_MODEL_PATH);
  expect(createHash('sha256').update(body).digest('hex')).toBe(SHA);
});

beforeEach(async () => {
  hub = new FakeHub();
  hub.add('ggml-org', 'models', REV, 'tinyllamas/stories260K.gguf', { body });
  hub.add('ggml-org', 'models', 'main', 'tinyllamas/stories260K.gguf', { body });
  hub.plain.set('stories260K.gguf', { body });
  const origin = await hub.start();
  cache = await mkdtemp(join(tmpdir(), 'lmzip-models-'));
  env = { LMZIP_CACHE_DIR: cache, LMZIP_HF_ENDPOINT: origin, HOME: cache };
});

afterEach(async () => {
  await hub.stop();
  await rm(cache, { recursive: true, force: true });
});

describe('pull', () => {
  it('downloads an hf: reference into the cache, verifies it, and needs no network the second time', async () => {
    const progress: number[] = [];
    const got = await resolveModel(HF_REF, opts({ onProgress: (n) => progress.push(n) }));
    expect(got.reference).toBe(HF_REF);
    expect(got.sha256).toBe(SHA);
    expect(got.path).toBe(join(cache, 'models', 'ggml-org', 'models', REV, 'tinyllamas', 'stories260K.gguf'));
    expect((await readFile(got.path)).equals(body)).toBe(true);
    expect(progress.at(-1)).toBe(body.length);
    expect(existsSync(`${got.path}.partial`)).toBe(false);
    const index = await readIndex(cache);
    expect(index).toHaveLength(1);
    expect(index[0]).toMatchObject({ sha256: SHA, size: body.length, verified: true, references: [HF_REF] });

    await hub.stop();
    const again = await resolveModel(HF_REF, opts());
    expect(again.path).toBe(got.path);
    expect(again.sha256).toBe(SHA);
  });

  it('resolves the built-in name stories260k to its pinned file and window', async () => {
    const got = await resolveModel('stories260k', opts());
    expect(got.reference).toBe('stories260k');
    expect(got.sha256).toBe(SHA);
    expect(got.window).toBe(256);
    expect((await readFile(got.path)).equals(body)).toBe(true);
    expect(hub.requests[0]?.url).toBe(`/ggml-org/models/resolve/${REV}/tinyllamas/stories260K.gguf`);
    // Case does not matter for names.
    expect((await resolveModel('Stories260K', opts({ offline: true }))).path).toBe(got.path);
  });

  it('resumes with a Range request after the connection is cut halfway (next run)', async () => {
    const half = Math.floor(body.length / 2);
    hub.add('ggml-org', 'models', REV, 'tinyllamas/stories260K.gguf', { body, cutAfter: half, cutTimes: 1 });
    const err = await rejection(resolveModel(HF_REF, opts({ retries: 0 })));
    expect(err.code).toBe('MODEL_UNAVAILABLE');
    expect(err.message).toMatch(/resumes the download/);
    const dest = hfCachePath(cache, { owner: 'ggml-org', repo: 'models', file: 'tinyllamas/stories260K.gguf', revision: REV });
    const kept = (await stat(`${dest}.partial`)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(half);

    const got = await resolveModel(HF_REF, opts({ retries: 0 }));
    expect(got.sha256).toBe(SHA);
    expect((await readFile(got.path)).equals(body)).toBe(true);
    const ranges = hub.requests.filter((r) => r.url.startsWith('/cdn/')).map((r) => r.range);
    expect(ranges).toEqual([undefined, `bytes=${kept}-`]);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it('resumes within one call when retries are allowed', async () => {
    hub.add('ggml-org', 'models', REV, 'tinyllamas/stories260K.gguf', { body, cutAfter: 300_000, cutTimes: 2 });
    const got = await resolveModel(HF_REF, opts());
    expect((await readFile(got.path)).equals(body)).toBe(true);
    const ranges = hub.requests.filter((r) => r.url.startsWith('/cdn/')).map((r) => r.range);
    expect(ranges).toHaveLength(3);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=[1-9]\d*-$/);
    expect(ranges[2]).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('rejects a download whose SHA-256 differs from the one the hub reports, leaving nothing in the cache', async () => {
    hub.add('ggml-org', 'models', REV, 'tinyllamas/stories260K.gguf', { body, reportedSha256: '0'.repeat(64) });
    const err = await rejection(resolveModel(HF_REF, opts()));
    expect(err.code).toBe('MODEL_HASH_MISMATCH');
    expect(err.message).toContain('0'.repeat(64));
    expect(err.message).toContain('Nothing was kept');
    expect(await listCacheFiles(cache)).toEqual([]);
    expect(await readIndex(cache)).toEqual([]);
  });

  it('rejects a built-in whose server file is not the pinned one, before downloading it', async () => {
    hub.add('ggml-org', 'models', REV, 'tinyllamas/stories260K.gguf', { body: otherBody });
    const err = await rejection(resolveModel('stories260k', opts()));
    expect(err.code).toBe('MODEL_HASH_MISMATCH');
    expect(err.message).toContain(SHA);
    expect(await listCacheFiles(cache)).toEqual([]);
    expect(hub.requests.some((r) => r.url.startsWith('/cdn/'))).toBe(false);
  });

  it('downloads a plain URL that sends no hash, recording it as unverified', async () => {
    // Server reports no hash: the file is accepted as served, but unverified.
    const got = await resolveModel(`${hub.origin}/plain/stories260K.gguf`, opts());
    expect(got.reference).toBe(`${hub.origin}/plain/stories260K.gguf`);
    expect(got.sha256).toBe(SHA);
    expect((await readIndex(cache))[0]?.verified).toBe(false);
  });

  it('explains a 404: what was needed, from where, and where to put it by hand', async () => {
    const ref = 'hf:someone/missing/model.Q8_0.gguf';
    const err = await rejection(resolveModel(ref, opts()));
    expect(err.code).toBe('MODEL_UNAVAILABLE');
    const dest = join(cache, 'models', 'someone', 'missing', 'main', 'model.Q8_0.gguf');
    expect(err.message).toContain('model hf:someone/missing/model.Q8_0.gguf@main');
    expect(err.message).toContain(`${hub.origin}/someone/missing/resolve/main/model.Q8_0.gguf`);
    expect(err.message).toContain('404');
    expect(err.message).toContain(`place it at ${dest}`);
    expect(err.message).toContain('-m /path/to/model.Q8_0.gguf');
    expect(await listCacheFiles(cache)).toEqual([]);
  });

  it('explains a server that is down', async () => {
    await hub.stop();
    const err = await rejection(resolveModel('stories260k', opts({ retries: 1 })));
    expect(err.code).toBe('MODEL_UNAVAILABLE');
    expect(err.message).toMatch(/refused the connection/);
    expect(err.message).toContain('model stories260k (260K F32, 1.2 MB; SHA-256 ' + SHA + ')');
    expect(err.message).toContain('place it at ' + join(cache, 'models', 'ggml-org', 'models', REV, 'tinyllamas', 'stories260K.gguf'));
  });

  it('says the same when offline, without touching the network', async () => {
    const err = await rejection(resolveModel('stories260k', opts({ offline: true })));
    expect(err.code).toBe('MODEL_UNAVAILABLE');
    expect(err.message).toMatch(/offline/);
    expect(err.message).toContain(`${hub.origin}/ggml-org/models/resolve/${REV}/tinyllamas/stories260K.gguf`);
    expect(hub.requests).toEqual([]);
    const viaEnv = await rejection(resolveModel('stories260k', { env: { ...env, LMZIP_OFFLINE: '1' } }));
    expect(viaEnv.code).toBe('MODEL_UNAVAILABLE');
  });

  it('uses a file placed by hand at the documented cache path, checking the pinned hash', async () => {
    const dest = join(cache, 'models', 'ggml-org', 'models', REV, 'tinyllamas', 'stories260K.gguf');
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(MODEL_PATH, dest);
    const got = await resolveModel('stories260k', opts({ offline: true }));
    expect(got.path).toBe(dest);
    expect(got.sha256).toBe(SHA);
    // A wrong file at that path is refused offline.
    await writeFile(dest, otherBody);
    await writeFile(join(cache, 'index.json'), '{}');
    const err = await rejection(resolveModel('stories260k', opts({ offline: true })));
    expect(err.code).toBe('MODEL_HASH_MISMATCH');
  });

  it('cancels on AbortSignal and keeps the partial for a later resume', async () => {
    const ctl = new AbortController();
    const err = await rejection(
      resolveModel(HF_REF, opts({ signal: ctl.signal, onProgress: (n) => n > 0 && ctl.abort() })),
    );
    expect(err.code).toBe('CANCELLED');
    // What was received stays in <dest>.partial, and nothing under the final name.
    const dest = hfCachePath(cache, { owner: 'ggml-org', repo: 'models', file: 'tinyllamas/stories260K.gguf', revision: REV });
    const kept = await readFile(`${dest}.partial`);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(body.length);
    expect(kept.equals(body.subarray(0, kept.length))).toBe(true);
    expect(existsSync(dest)).toBe(false);
    // The next run asks only for the rest: one plain request, then a Range request from where it stopped.
    const got = await resolveModel(HF_REF, opts());
    expect((await readFile(got.path)).equals(body)).toBe(true);
    const ranges = hub.requests.filter((r) => r.url.startsWith('/cdn/')).map((r) => r.range);
    expect(ranges).toEqual([undefined, `bytes=${kept.length}-`]);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });
});

describe('references', () => {
  it('reads a Hugging Face resolve URL as an hf: reference sharing the cache entry', async () => {
    const url = `${hub.origin}/ggml-org/models/resolve/${REV}/tinyllamas/stories260K.gguf`;
    const got = await resolveModel(url, opts());
    expect(got.reference).toBe(HF_REF);
    expect((await resolveModel(HF_REF, opts({ offline: true }))).path).toBe(got.path);
  });

  it('defaults the hf: revision to main', async () => {
    const got = await resolveModel('hf:ggml-org/models/tinyllamas/stories260K.gguf', opts());
    expect(got.reference).toBe('hf:ggml-org/models/tinyllamas/stories260K.gguf@main');
    expect(got.path).toBe(join(cache, 'models', 'ggml-org', 'models', 'main', 'tinyllamas', 'stories260K.gguf'));
  });

  it('takes local paths as they are, relative to cwd, and reports missing ones', async () => {
    const got = await resolveModel(relative(repoRoot, MODEL_PATH), opts({ cwd: repoRoot }));
    expect(got).toEqual({ path: MODEL_PATH, reference: MODEL_PATH });
    const missing = await rejection(resolveModel('./nope.gguf', opts({ cwd: cache })));
    expect(missing.code).toBe('MODEL_NOT_FOUND');
    expect(missing.message).toContain(join(cache, 'nope.gguf'));
    const word = await rejection(resolveModel('gpt-17', opts({ cwd: cache })));
    expect(word.code).toBe('MODEL_NOT_FOUND');
    expect(word.message).toMatch(/neither a built-in model name \(smollm2-135m, .*stories260k\)/);
  });

  it.each([
    ['hf:owner/repo', /hf:owner\/repo\/file\.gguf/],
    ['hf:owner/repo/model.bin', /\.gguf file/],
    ['hf:owner/repo/model.gguf@', /branch, tag or commit/],
    ['hf:../repo/model.gguf', /hf:owner\/repo\/file\.gguf/],
    ['http://example.com/model.gguf', /https:\/\/ URL/],
    ['ftp://example.com/model.gguf', /https:\/\/ URL/],
    ['', /model name, path, URL or hf: reference/],
  ])('rejects %j', async (ref, message) => {
    const err = await rejection(resolveModel(ref, opts()));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(message);
  });

  it('names a default model, overridable by LMZIP_MODEL', () => {
    expect(defaultModelReference({})).toBe('smollm2-135m');
    expect(defaultModelReference({ LMZIP_MODEL: 'stories260k' })).toBe('stories260k');
    expect(findBuiltinModel(defaultModelReference({}))).toBeDefined();
  });

  it('places the cache by LMZIP_CACHE_DIR, else XDG_CACHE_HOME', () => {
    expect(cacheDir({ LMZIP_CACHE_DIR: '/tmp/x' })).toBe('/tmp/x');
    if (process.platform === 'linux') {
      expect(cacheDir({ XDG_CACHE_HOME: '/tmp/xdg' })).toBe('/tmp/xdg/lmzip');
      expect(cacheDir({ HOME: '/home/u' })).toBe('/home/u/.cache/lmzip');
    }
  });

  it('has a sensible built-in table', () => {
    const names = builtinModels().map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of builtinModels()) {
      expect(m.source.revision).toMatch(/^[0-9a-f]{40}$/);
      expect(m.source.file.endsWith('.gguf')).toBe(true);
      if (m.sha256) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(m.window).toBeGreaterThan(0);
      expect(['MIT', 'Apache-2.0']).toContain(m.license);
    }
    expect(findBuiltinModel('stories260k')).toMatchObject({ sha256: SHA, size: 1185376, window: 256 });
  });
});

describe('findCachedModel (decompressing without -m)', () => {
  it('finds a pulled model by SHA-256 without the network', async () => {
    const pulled = await resolveModel('stories260k', opts());
    await hub.stop();
    expect(await findCachedModel({ sha256: SHA, reference: 'stories260k' }, opts())).toBe(pulled.path);
    expect(await findCachedModel({ sha256: SHA.toUpperCase() }, opts())).toBe(pulled.path);
    expect(await findCachedModel({ sha256: 'f'.repeat(64), reference: 'stories260k' }, opts())).toBeUndefined();
  });

  it('finds a file placed by hand anywhere under the cache, and a local file the reference names', async () => {
    const placed = join(cache, 'models', 'mine', 'whatever.gguf');
    await mkdir(dirname(placed), { recursive: true });
    await copyFile(MODEL_PATH, placed);
    expect(await findCachedModel({ sha256: SHA }, opts())).toBe(placed);
    await rm(placed);
    await rm(join(cache, 'index.json'));
    expect(await findCachedModel({ sha256: SHA, reference: MODEL_PATH }, opts())).toBe(MODEL_PATH);
    // Hashed now, it is a local model file this machine has used: found by its hash alone.
    expect(await findCachedModel({ sha256: SHA }, opts())).toBe(MODEL_PATH);
    await rm(join(cache, 'fingerprints.json'));
    expect(await findCachedModel({ sha256: SHA }, opts())).toBeUndefined();
  });

  it('explains a missing model with the command that fetches it', () => {
    const err = missingModelError({ sha256: SHA, reference: 'stories260k' }, { env });
    expect(err.code).toBe('MODEL_NOT_FOUND');
    expect(err.message).toContain('model stories260k');
    expect(err.message).toContain(SHA);
    expect(err.message).toContain('lmzip models pull stories260k');
    expect(err.message).toContain(cache);
    const hf = missingModelError({ sha256: 'a'.repeat(64), reference: 'hf:o/r/m.gguf@v1' }, { env });
    expect(hf.message).toContain('lmzip models pull hf:o/r/m.gguf@v1');
    const path = missingModelError({ sha256: 'a'.repeat(64), reference: '/models/m.gguf' }, { env });
    expect(path.message).not.toContain('models pull');
    expect(path.message).toContain('-m /path/to/model.gguf');
  });
});

afterAll(() => undefined);
