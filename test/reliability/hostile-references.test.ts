/**
 * A .lmz header's model reference is untrusted (issue 9, item 6). Decompressing
 * without -m, lmzip looks for the model the file names: it must only consider
 * regular files that start like a GGUF, never block on a FIFO or /proc/kmsg, never
 * hash /proc/self/pagemap or any readable file, never print the reference raw, and
 * a signal must end it promptly even while it hashes a large candidate.
 * Each file is made with the library's `modelReference` and `recordModelPath` options; the CLI runs as a
 * real process with an empty model cache.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compress, Model } from '../../src/index.js';
import { CliRun, lmzip } from '../cli/run-cli.js';
import { STORIES } from '../helpers.js';
import { storyText } from './helpers.js';

let dir: string;
let model: Model;
// A cache folder per run: a model lmzip has hashed is found again by its hash alone
// (fingerprints.json), which would make the hostile references below unnecessary.
let runs = 0;
let cache = '';
const env = () => {
  cache = join(dir, `cache-${++runs}`);
  return { LMZIP_CACHE_DIR: cache, LMZIP_OFFLINE: '1', LMZIP_MODEL: '' };
};

/** A real .lmz of story text whose header names `reference` as its model. */
async function fileNaming(reference: string, name: string): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, await compress(storyText(600, 3), { model, modelReference: reference, recordModelPath: true, lanes: 1, window: 64 }));
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lmzip-hostile-refs-'));
  model = await Model.load(STORIES, { threads: 1 });
});
afterAll(() => {
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('untrusted model references in a header', () => {
  it('the reference is used when it names the right model (the harness works)', async () => {
    const f = await fileNaming(STORIES, 'good.lmz');
    const r = await lmzip(['-d', '-c', f], { cwd: dir, env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(storyText(600, 3))).toBe(true);
  });

  const hostile: [string, () => string][] = [
    ['a FIFO nobody writes to (it would block the open)', () => {
      const fifo = join(dir, 'model.fifo');
      if (!existsSync(fifo)) expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      return fifo;
    }],
    ['/proc/self/pagemap (hundreds of GB to hash)', () => '/proc/self/pagemap'],
    ['a regular file that is not a GGUF', () => '/etc/hostname'],
    ['a character device', () => '/dev/zero'],
  ];
  if (existsSync('/proc/kmsg')) hostile.push(['/proc/kmsg (blocks every reader)', () => '/proc/kmsg']);

  for (const [what, reference] of hostile) {
    it(`${what}: refused at once with MODEL_NOT_FOUND, never read`, async () => {
      const ref = reference();
      const f = await fileNaming(ref, `${what.replace(/\W+/g, '-')}.lmz`);
      const r = await lmzip(['-d', '-c', f], { cwd: dir, env: env() });
      expect(r.signal).toBeNull();
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\[MODEL_NOT_FOUND\]\n$/);
      expect(r.stdout.length).toBe(0);
      // Nothing was hashed and remembered about it.
      const fingerprints = join(cache, 'fingerprints.json');
      if (existsSync(fingerprints)) expect(readFileSync(fingerprints, 'utf8')).not.toContain(ref);
    });
  }

  it('control characters in the reference are escaped, and the error stays on one line', async () => {
    const f = await fileNaming('/tmp/\u001b[2J\u001b[31mevil\nmodel\u202e.gguf', 'escapes.lmz');
    const r = await lmzip(['-d', '-c', f], { cwd: dir, env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202e]/);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr).toContain('\\x1b[2J\\x1b[31mevil\\nmodel\\u202e.gguf');
  });

  it('a signal ends the process promptly while it hashes a large candidate', async () => {
    // A sparse 64 GiB file that starts like a GGUF: worth hashing, and far too long to finish.
    const big = join(dir, 'huge.gguf');
    const fd = openSync(big, 'w');
    const header = Buffer.alloc(24);
    header.write('GGUF', 0, 'latin1');
    header.writeUInt32LE(3, 4);
    writeSync(fd, header);
    ftruncateSync(fd, 64 * 1024 ** 3);
    closeSync(fd);
    const f = await fileNaming(big, 'huge-model.lmz');
    const run = new CliRun(['-d', '-c', f], { cwd: dir, env: env() });
    // Wait until the CLI has the candidate open (it is hashing it), then interrupt it.
    const pid = run.child.pid!;
    const opened = () => {
      try {
        return readdirSync(`/proc/${pid}/fd`).some((n) => {
          try {
            return readlinkSync(`/proc/${pid}/fd/${n}`) === big;
          } catch {
            return false;
          }
        });
      } catch {
        return false;
      }
    };
    while (!opened()) {
      if (run.child.exitCode !== null) throw new Error(`lmzip ended before hashing: ${(await run.done).stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 5)); // waiting for a condition, not for time
    }
    const signalled = Date.now();
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('interrupted by SIGTERM');
    expect(Date.now() - signalled).toBeLessThan(5000);
    rmSync(big);
  }, 120_000);
});
