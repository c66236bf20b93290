/**
 * Model downloads under a hostile or broken server (issue 9, items 10 and 12): a
 * redirect passes the same URL policy as a URL given directly; what is not a GGUF
 * never enters the cache; every `lmzip models …` error is one line with a code.
 * A small HTTP server on 127.0.0.1 plays the server; the CLI runs as a real process.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LmzipError } from '../../src/errors.js';
import { resolveModel } from '../../src/models/index.js';
import { refusedModelUrl } from '../../src/models/references.js';
import { STORIES } from '../helpers.js';
import { lmzip } from '../cli/run-cli.js';

let server: Server;
let origin = '';
let dir: string;
const model = readFileSync(STORIES);

/** /to?url=… redirects there; /html serves a web page; /model serves the GGUF; /mismatch claims another SHA-256. */
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lmzip-downloads-'));
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/to') {
      res.writeHead(302, { location: url.searchParams.get('url') ?? '/' });
      res.end();
    } else if (url.pathname.startsWith('/html')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!DOCTYPE html><html><body>Sign in to download this model</body></html>');
    } else if (url.pathname.startsWith('/model')) {
      res.writeHead(200, { 'content-length': String(model.length) });
      res.end(model);
    } else if (url.pathname.startsWith('/mismatch')) {
      res.writeHead(200, { 'content-length': String(model.length), 'x-linked-etag': `"${'0'.repeat(64)}"` });
      res.end(model);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

let cacheN = 0;
function freshCache(): string {
  return join(dir, `cache${cacheN++}`);
}

async function refusal(ref: string, cache: string): Promise<LmzipError> {
  try {
    await resolveModel(ref, { env: { LMZIP_CACHE_DIR: cache }, retries: 0 });
  } catch (e) {
    expect(e).toBeInstanceOf(LmzipError);
    return e as LmzipError;
  }
  throw new Error(`expected ${ref} to be refused`);
}

const cached = (cache: string) => {
  try {
    return readdirSync(cache, { recursive: true }).map(String).filter((f) => /\.gguf(\.partial)?$/.test(f));
  } catch {
    return [];
  }
};

describe('download policy', () => {
  it('the policy: https, or http only to this machine, and never down from https to http', () => {
    expect(refusedModelUrl(new URL('https://huggingface.co/a'))).toBeUndefined();
    expect(refusedModelUrl(new URL('http://127.0.0.1:8080/a'))).toBeUndefined();
    expect(refusedModelUrl(new URL('http://example.com/a'))).toMatch(/not http:/);
    expect(refusedModelUrl(new URL('data:,GGUF'))).toMatch(/not data:/);
    expect(refusedModelUrl(new URL('file:///etc/passwd'))).toMatch(/not file:/);
    expect(refusedModelUrl(new URL('http://127.0.0.1/a'), new URL('https://huggingface.co/a'))).toMatch(/downgrade/);
    expect(refusedModelUrl(new URL('https://u:p@example.com/a'))).toMatch(/user name or password/);
  });

  for (const [what, target] of [
    ['a data: URL', 'data:application/octet-stream;base64,R0dVRgMAAAA='],
    ['a file: URL', `file://${STORIES}`],
    ['plain http to another machine', 'http://example.invalid/model.gguf'],
  ] as const) {
    it(`a redirect to ${what} is refused like the URL itself, and nothing is cached`, async () => {
      const cache = freshCache();
      const err = await refusal(`${origin}/to?url=${encodeURIComponent(target)}`, cache);
      expect(err.code).toBe('MODEL_UNAVAILABLE');
      expect(err.message).toMatch(/redirected to .*which lmzip refuses/);
      expect(cached(cache)).toEqual([]);
    });
  }

  it('a download that is not a GGUF (an HTML page) is refused before it enters the cache', async () => {
    const cache = freshCache();
    const err = await refusal(`${origin}/html/model.gguf`, cache);
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.message).toContain('not a GGUF model');
    expect(cached(cache)).toEqual([]);
  });

  it('the same server still serves a real model (the harness works)', async () => {
    const cache = freshCache();
    const got = await resolveModel(`${origin}/model/stories.gguf`, { env: { LMZIP_CACHE_DIR: cache } });
    expect(readFileSync(got.path).equals(model)).toBe(true);
  });
});

describe('lmzip models errors: one line with a code', () => {
  // The error is the last line of stderr (a "Downloading … from …" line may come first).
  const oneLine = /(^|\n)lmzip models: [^\n]* \[[A-Z_]+\]\n$/;
  const run = async (args: string[], env: NodeJS.ProcessEnv) => {
    const r = await lmzip(['models', ...args], { cwd: dir, env: { LMZIP_HF_ENDPOINT: origin, ...env } });
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    return r;
  };

  it('a hash mismatch', async () => {
    const r = await run(['pull', `${origin}/mismatch/m.gguf`], { LMZIP_CACHE_DIR: freshCache() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(oneLine);
    expect(r.stderr).toContain('[MODEL_HASH_MISMATCH]');
  });

  it('a cache folder under a regular file (ENOTDIR)', async () => {
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    const r = await run(['pull', `${origin}/model/m.gguf`], { LMZIP_CACHE_DIR: join(file, 'cache') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(oneLine);
    expect(r.stderr).toContain('[IO_ERROR]');
  });

  it('a malformed escape in a URL', async () => {
    const r = await run(['pull', 'https://huggingface.co/a/b/resolve/main/%E0%A4%A.gguf'], { LMZIP_CACHE_DIR: freshCache(), LMZIP_OFFLINE: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(oneLine);
    expect(r.stderr).toContain('[MODEL_UNAVAILABLE]');
  });

  it('a redirect refused by the policy, and a page that is not a model', async () => {
    for (const [ref, code] of [[`${origin}/to?url=${encodeURIComponent('data:,x')}`, 'MODEL_UNAVAILABLE'], [`${origin}/html/m.gguf`, 'MODEL_INVALID']]) {
      const r = await run(['pull', ref], { LMZIP_CACHE_DIR: freshCache() });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(oneLine);
      expect(r.stderr).toContain(`[${code}]`);
    }
  });

  it('a server that is down', async () => {
    const r = await run(['pull', 'http://127.0.0.1:9/m.gguf'], { LMZIP_CACHE_DIR: freshCache() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(oneLine);
    expect(r.stderr).toContain('[MODEL_UNAVAILABLE]');
  });

  it('a model file that does not exist, and a crafted name with control characters', async () => {
    const r = await run(['info', join(dir, 'no\u001b[31mne\nx.gguf')], { LMZIP_CACHE_DIR: freshCache() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(oneLine);
    expect(r.stderr).toContain('no\\x1b[31mne\\nx.gguf');
    expect(r.stderr).toContain('[MODEL_NOT_FOUND]');
  });
});
