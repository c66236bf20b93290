/**
 * Standard output that fails, as gzip handles it (issue 9, item 10): a reader that
 * goes away (EPIPE) ends lmzip quietly with status 141, as if killed by SIGPIPE; a
 * full device gives one line with a code and status 1; never a stack trace. Names
 * with control characters are escaped. Real processes, shells and pipes.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, tempDir } from '../helpers.js';
import { FAST, lmzip } from './run-cli.js';

const dir = tempDir('lmzip-stdout-');
const env = { ...process.env, LMZIP_CACHE_DIR: join(dir.path, 'cache'), LMZIP_OFFLINE: '1' };
const node = `'${process.execPath}' '${CLI}'`;

/** Runs a bash script; `$LMZIP` is the CLI. */
function sh(script: string) {
  const r = spawnSync('bash', ['-c', script], { cwd: dir.path, env: { ...env, LMZIP: node }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

afterAll(() => dir.cleanup());

describe('standard output errors', () => {
  beforeAll(async () => {
    // 1 MiB of random bytes: stored chunks, decoded far past a pipe's buffer.
    writeFileSync(join(dir.path, 'big.bin'), randomBytes(1 << 20));
    const r = await lmzip([...FAST, '-k', 'big.bin'], { cwd: dir.path, env });
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);

  it('lmzip -d -c big.lmz | head -c 10: quiet, status 141 (EPIPE), like gzip', () => {
    const r = sh(`set -o pipefail; eval "$LMZIP -d -c -m '${FAST[1]}' big.bin.lmz" 2>err.txt | head -c 10 >/dev/null; echo "status=\${PIPESTATUS[0]}"; cat err.txt`);
    expect(r.stdout).toBe('status=141\n');
  });

  it('lmzip models list into a pipe nobody reads: quiet, status 141', () => {
    // A FIFO opened for writing whose only reader was closed first: EPIPE at the first write, every time.
    const r = sh(`mkfifo p && exec 4<>p && exec 5>p && exec 4<&- && rm p; eval "$LMZIP models list" >&5 2>err.txt; echo "status=$?"; cat err.txt`);
    expect(r.stdout).toBe('status=141\n');
  });

  it('lmzip models list | head -1: never a stack trace', () => {
    const r = sh(`eval "$LMZIP models list" 2>err.txt | head -1 >/dev/null; cat err.txt`);
    expect(r.stdout).toBe('');
  });

  it('lmzip -d -c big.lmz > /dev/full: one line with a code, status 1, no stack trace', () => {
    const r = sh(`eval "$LMZIP -d -c -m '${FAST[1]}' big.bin.lmz" > /dev/full; echo "status=$?"`);
    expect(r.stdout).toBe('status=1\n');
    expect(r.stderr).toBe('lmzip: write error on standard output: no space left on the device [IO_ERROR]\n');
  });

  it('lmzip --help > /dev/full and lmzip models list > /dev/full: the same line', () => {
    for (const args of ['--help', 'models list']) {
      const r = sh(`eval "$LMZIP ${args}" > /dev/full; echo "status=$?"`);
      expect(r.stdout).toBe('status=1\n');
      expect(r.stderr).toBe('lmzip: write error on standard output: no space left on the device [IO_ERROR]\n');
    }
  });
});

describe('names are printed safely', () => {
  it('a name with a newline and escape sequences stays on one escaped line', async () => {
    const name = 'a\nb\u001b[31m\u202ec.txt';
    const r = await lmzip([...FAST, name], { cwd: dir.path, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('lmzip: a\\nb\\x1b[31m\\u202ec.txt: no such file [FILE_NOT_FOUND]\n');
  });

  it('-v statistics of such a file are escaped too, and the file is compressed', async () => {
    const name = 'x\ny\u0007.txt';
    writeFileSync(join(dir.path, name), 'Once upon a time there was a cat.');
    const r = await lmzip([...FAST.filter((a) => a !== '-q'), '-v', name], { cwd: dir.path, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^x\\ny\\x07\.txt: 33 -> \d+ bytes/);
    expect(existsSync(join(dir.path, `${name}.lmz`))).toBe(true);
  });
});
