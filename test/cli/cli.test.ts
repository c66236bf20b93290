/**
 * The lmzip command as a person uses it: a real `node dist/cli/main.js` process,
 * checking files, exit status and the exact one-line messages.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, CORPUS, RANDOM_LLAMA, STORIES, tempDir } from '../helpers.js';

const dir = tempDir('lmzip-cli-');
const env = { ...process.env, LMZIP_CACHE_DIR: join(dir.path, 'cache'), LMZIP_OFFLINE: '1', LMZIP_MODEL: '' };
const text = readFileSync(join(CORPUS, 'tinystories-valid-part1.txt')).subarray(0, 6000);

function lmzip(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir.path, env, input, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

function file(name: string, content: Buffer | string = text): string {
  const p = join(dir.path, name);
  writeFileSync(p, content);
  return p;
}

const M = ['-m', STORIES, '-T', '1'];
afterAll(() => dir.cleanup());

describe('lmzip CLI', () => {
  beforeAll(() => {
    // Files record the model by hash and name, not by where it lies (format v2): a
    // decoder given no -m finds it in the model cache, where it is placed here by hand.
    mkdirSync(join(dir.path, 'cache', 'models'), { recursive: true });
    copyFileSync(STORIES, join(dir.path, 'cache', 'models', 'stories260K.gguf'));
  });

  it('compresses FILE to FILE.lmz, removes FILE, and -d brings it back', () => {
    const p = file('a.txt');
    chmodSync(p, 0o640);
    const c = lmzip([...M, 'a.txt']);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    expect(existsSync(p)).toBe(false);
    expect(statSync(`${p}.lmz`).size).toBeLessThan(text.length / 4);
    const d = lmzip(['-d', 'a.txt.lmz']); // no -m: the file names its model, found in the cache
    expect(d.status).toBe(0);
    expect(readFileSync(p).equals(text)).toBe(true);
    expect(statSync(p).mode & 0o777).toBe(0o640);
    expect(existsSync(`${p}.lmz`)).toBe(false);
    expect(readdirSync(dir.path).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('-k keeps the input, -c writes to stdout, -o names the output', () => {
    file('b.txt');
    expect(lmzip([...M, '-k', 'b.txt']).status).toBe(0);
    expect(existsSync(join(dir.path, 'b.txt'))).toBe(true);
    const c = lmzip([...M, '-c', 'b.txt']);
    expect(c.status).toBe(0);
    expect(c.stdout.equals(readFileSync(join(dir.path, 'b.txt.lmz')))).toBe(true);
    expect(lmzip(['-d', '-o', 'b.out', 'b.txt.lmz']).status).toBe(0);
    expect(readFileSync(join(dir.path, 'b.out')).equals(text)).toBe(true);
    expect(existsSync(join(dir.path, 'b.txt.lmz'))).toBe(false);
  });

  it('refuses to overwrite without -f, and overwrites with it', () => {
    file('c.txt');
    file('c.txt.lmz', 'precious');
    const r = lmzip([...M, 'c.txt']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`lmzip: c.txt: ${join(dir.path, 'c.txt.lmz').replace(dir.path + '/', '')} already exists; use -f to overwrite [OUTPUT_EXISTS]\n`);
    expect(readFileSync(join(dir.path, 'c.txt.lmz'), 'utf8')).toBe('precious');
    expect(existsSync(join(dir.path, 'c.txt'))).toBe(true);
    expect(lmzip([...M, '-f', 'c.txt']).status).toBe(0);
  });

  it('stdin to stdout both ways', () => {
    const c = lmzip([...M], text);
    expect(c.status).toBe(0);
    const d = lmzip(['-d', ...M], c.stdout);
    expect(d.status).toBe(0);
    expect(d.stdout.equals(text)).toBe(true);
  });

  it('-t tests integrity and -l lists what a file holds', () => {
    file('d.txt');
    lmzip([...M, '-k', 'd.txt']);
    const t = lmzip(['-t', '-v', 'd.txt.lmz']);
    expect(t.status).toBe(0);
    expect(t.stderr).toBe('d.txt.lmz: OK\n');
    const l = lmzip(['-l', 'd.txt.lmz']);
    expect(l.status).toBe(0);
    const out = l.stdout.toString();
    expect(out).toContain('uncompressed    6000 bytes');
    expect(out).toMatch(/bits per byte/);
    expect(out).toContain(`model           stories260k`); // the built-in name, never a local path (format v2)
    expect(out).toMatch(/methods\s+model 100\.0%/);
    expect(out).toMatch(/lanes\/ctx\s+1 lanes, window 256, overlap 128 \(shifted\)/); // stories260K's window shifts (SHIFT_CONTEXT)
    const damaged = readFileSync(join(dir.path, 'd.txt.lmz'));
    damaged[damaged.length - 40] ^= 0x20;
    file('damaged.lmz', damaged);
    const bad = lmzip(['-t', 'damaged.lmz']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^lmzip: damaged\.lmz: .* \[(CHECKSUM_MISMATCH|CORRUPT_DATA|CORRUPT_HEADER)\]\n$/);
  });

  it('a wrong model is refused before any output, and the input stays', () => {
    file('e.txt');
    lmzip([...M, 'e.txt']);
    const r = lmzip(['-d', '-m', RANDOM_LLAMA, 'e.txt.lmz']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^lmzip: e\.txt\.lmz: this file was compressed with model stories260k \(sha256 270cba1bd5109f42…\), but the model given is .*llama-2-tiny-random\.gguf .* \[MODEL_MISMATCH\]\n$/);
    expect(existsSync(join(dir.path, 'e.txt'))).toBe(false);
    expect(existsSync(join(dir.path, 'e.txt.lmz'))).toBe(true);
  });

  it('clear one-line errors with exit 1; usage errors exit 2', () => {
    expect(lmzip([...M, 'nope.txt'])).toMatchObject({ status: 1, stderr: 'lmzip: nope.txt: no such file [FILE_NOT_FOUND]\n' });
    file('f.txt.lmz', 'x');
    expect(lmzip([...M, 'f.txt.lmz'])).toMatchObject({ status: 1, stderr: 'lmzip: f.txt.lmz: already has .lmz suffix -- unchanged [INVALID_ARGUMENT]\n' });
    file('g.txt');
    expect(lmzip(['-d', 'g.txt'])).toMatchObject({ status: 1, stderr: 'lmzip: g.txt: unknown suffix -- ignored (expected .lmz; use -o or -c) [INVALID_ARGUMENT]\n' });
    expect(lmzip(['-d', 'f.txt.lmz'])).toMatchObject({ status: 1, stderr: 'lmzip: f.txt.lmz: not an lmzip file (unknown magic number) [NOT_LMZ]\n' });
    mkdirSync(join(dir.path, 'folder'), { recursive: true });
    expect(lmzip([...M, 'folder'])).toMatchObject({ status: 1, stderr: 'lmzip: folder: is a directory -- ignored [IO_ERROR]\n' });
    expect(lmzip(['--bogus'])).toMatchObject({ status: 2, stderr: "lmzip: unknown option --bogus\nTry 'lmzip --help' for more information.\n" });
    expect(lmzip(['--lanes', '0', 'x'])).toMatchObject({ status: 2, stderr: "lmzip: --lanes expects an integer from 1 to 256, got '0'\nTry 'lmzip --help' for more information.\n" });
    expect(lmzip(['-m', join(dir.path, 'missing.gguf'), 'g.txt']).stderr).toMatch(/^lmzip: g\.txt: .*missing\.gguf.* \[MODEL_NOT_FOUND\]\n$/);
  });

  it('--help and --version', () => {
    const h = lmzip(['--help']);
    expect(h.status).toBe(0);
    expect(h.stdout.toString()).toMatch(/^Usage: lmzip \[OPTION\]\.\.\. \[FILE\]\.\.\./);
    const v = lmzip(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout.toString()).toMatch(/^lmzip \d+\.\d+\.\d+\nllama\.cpp v0\.5\.0-de3ff815/);
  });
});
