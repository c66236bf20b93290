/**
 * Thread counts that stay safe under load (issue 9, item 13). The speed itself is
 * measured by scripts/threads-under-load.mjs (docs/RELIABILITY.md has the numbers),
 * never timed here. What is tested: a count above the cores is capped (more threads
 * than cores can only wait on each other at ggml's spinning barrier); the CLI says
 * so; and the per-step thread governor (native/threads.h), which changes the count
 * between steps, never changes a byte: files made with 1 and with several threads are
 * identical and decode with either.
 */
import { availableParallelism } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compress, decompress, Model } from '../../src/index.js';
import { REPO, SHARED, STORIES } from '../helpers.js';
import { lmzip } from '../cli/run-cli.js';
import { storyText } from './helpers.js';

const cores = availableParallelism();
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lmzip-threads-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('threads under load', () => {
  it('a requested count above the cores is capped at the cores', async () => {
    const model = await Model.load(STORIES, { threads: cores + 3 });
    try {
      expect(model.threads).toBe(cores);
    } finally {
      model.dispose();
    }
  });

  it('the CLI says when -T is above the cores', async () => {
    writeFileSync(join(dir, 'a.txt'), storyText(300, 2));
    const r = await lmzip(['-k', '-m', STORIES, '-T', String(cores + 1), 'a.txt'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`lmzip: -T ${cores + 1}: there are only ${cores} cores here; using ${cores} threads at most\n`);
  });

  it.skipIf(cores < 2)('files are identical whatever the thread count, and decode with any count', async () => {
    const text = storyText(4000, 21);
    const one = await Model.load(STORIES, { threads: 1 });
    const many = await Model.load(STORIES, { threads: cores });
    try {
      const options = { lanes: 4, window: 64 };
      const a = await compress(text, { model: one, ...options });
      const b = await compress(text, { model: many, ...options });
      expect(b.equals(a)).toBe(true);
      expect((await decompress(a, { model: many })).equals(text)).toBe(true);
      expect((await decompress(b, { model: one })).equals(text)).toBe(true);
    } finally {
      one.dispose();
      many.dispose();
    }
  });

  it('the measuring script runs (one thread, no load, a tiny input)', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['scripts/threads-under-load.mjs', '--busy', '0', '--threads', '1', '--bytes', '200', '--timeout', '60'],
      { cwd: REPO, env: { ...process.env, LMZIP_SHARED_DIR: SHARED }, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^threads {2}wall s {2}cpu s {2}note\n1 +\d+\.\d\d +\d+\.\d\d {2}\n/m);
  });
});
