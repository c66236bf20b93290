/**
 * Many files, one model: a run of `lmzip` over a directory loads each model once,
 * however many files it compresses or decodes (src/cli/file-run.ts). Checked in
 * process, by counting Model.load calls during real runs of the command.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/file-run.js';
import { Model } from '../../src/model.js';
import { CORPUS, STORIES, tempDir } from '../helpers.js';

const dir = tempDir('lmzip-one-model-');
afterAll(() => dir.cleanup());

async function lmzip(args: string[]): Promise<{ code: number; stderr: string }> {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (d) => (text += d));
  const io = { stdin: Readable.from([]), stdout: new PassThrough(), stderr, env: { ...process.env, LMZIP_OFFLINE: '1', LMZIP_MODEL: '', LMZIP_CACHE_DIR: join(dir.path, 'cache') } } as unknown as Io;
  const code = await main(args, io);
  return { code, stderr: text };
}

describe('several files on one command line', () => {
  it('share one loaded model when compressing, decompressing (no -m) and testing', async () => {
    mkdirSync(join(dir.path, 'cache', 'models'), { recursive: true });
    copyFileSync(STORIES, join(dir.path, 'cache', 'models', 'stories260K.gguf'));
    const text = readFileSync(join(CORPUS, 'tinystories-valid-part1.txt'));
    mkdirSync(join(dir.path, 'many/sub'), { recursive: true });
    const files = ['a', 'b', 'sub/c', 'sub/d'].map((name, i) => {
      const p = join(dir.path, 'many', `${name}.txt`);
      writeFileSync(p, text.subarray(i * 700, i * 700 + 600));
      return p;
    });
    const load = vi.spyOn(Model, 'load');
    try {
      expect(await lmzip(['-m', STORIES, '-T', '1', '-q', '-r', join(dir.path, 'many')])).toEqual({ code: 0, stderr: '' });
      expect(load).toHaveBeenCalledTimes(1);
      load.mockClear();
      expect(await lmzip(['-q', '-t', '-m', STORIES, '-r', join(dir.path, 'many')])).toEqual({ code: 0, stderr: '' });
      expect(load).toHaveBeenCalledTimes(1);
      load.mockClear();
      const d = await lmzip(['-q', '-d', '-r', join(dir.path, 'many')]); // no -m: the model the files name, from the cache
      expect(d).toEqual({ code: 0, stderr: '' });
      expect(load).toHaveBeenCalledTimes(1);
      files.forEach((f, i) => expect(readFileSync(f).equals(text.subarray(i * 700, i * 700 + 600))).toBe(true));
    } finally {
      load.mockRestore();
    }
  });
});
