/**
 * The corpus features of the lmzip command, run as a person runs them (a real
 * `node dist/cli/main.js`, the real stories260K model, the real `tar`): directories,
 * tar pipelines, random access, reindexing, shards and join, resumption after SIGKILL,
 * JSON progress. Inputs are a few KB so that each run takes a second or two.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, CORPUS, STORIES, tempDir } from '../helpers.js';
import { CliRun, lmzip as run } from '../cli/run-cli.js';

const dir = tempDir('lmzip-corpora-');
const env = { LMZIP_CACHE_DIR: join(dir.path, 'cache'), LMZIP_OFFLINE: '1', LMZIP_MODEL: '' };
const text = readFileSync(join(CORPUS, 'tinystories-valid-part1.txt'));
const M = ['-m', STORIES, '-T', '1', '-q'];

function lmzip(args: string[], input?: Buffer) {
  return run(args, { cwd: dir.path, env, input });
}

function put(name: string, content: Buffer | string): string {
  const p = join(dir.path, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  return p;
}

const at = (name: string) => join(dir.path, name);

beforeAll(() => {
  // A decoder given no -m finds the model a file names in the cache.
  mkdirSync(join(dir.path, 'cache', 'models'), { recursive: true });
  copyFileSync(STORIES, join(dir.path, 'cache', 'models', 'stories260K.gguf'));
});
afterAll(() => dir.cleanup());

describe('directories (-r)', () => {
  it('compresses every regular file under a directory, skips links, specials and *.lmz, and -d -r brings them back', async () => {
    put('tree/a.txt', text.subarray(0, 3000));
    put('tree/sub/b.txt', text.subarray(3000, 5000));
    put('tree/sub/deeper/c.txt', '');
    put('tree/done.lmz', 'not touched');
    symlinkSync('a.txt', at('tree/link'));
    expect(spawnSync('mkfifo', [at('tree/fifo')]).status).toBe(0);
    const c = await lmzip(['-m', STORIES, '-T', '1', '-r', 'tree']);
    expect(c.stderr).toBe('lmzip: tree/fifo: is not a regular file -- skipped\nlmzip: tree/link: is a symbolic link -- skipped\n');
    expect(c.code).toBe(0);
    expect(readdirSync(at('tree')).sort()).toEqual(['a.txt.lmz', 'done.lmz', 'fifo', 'link', 'sub']);
    expect(readdirSync(at('tree/sub')).sort()).toEqual(['b.txt.lmz', 'deeper']);
    expect(readFileSync(at('tree/done.lmz'), 'utf8')).toBe('not touched');

    const d = await lmzip(['-q', '-d', '-r', 'tree']); // no -m: each file's model, from the cache
    // done.lmz is no lmzip file: it fails, the others are decoded all the same.
    expect(d.stderr).toMatch(/^lmzip: tree\/done\.lmz: not an lmzip file.*\[NOT_LMZ\]\nlmzip: 1 of 4 files failed: tree\/done\.lmz\n$/);
    expect(d.code).toBe(1);
    expect(readFileSync(at('tree/a.txt')).equals(text.subarray(0, 3000))).toBe(true);
    expect(readFileSync(at('tree/sub/b.txt')).equals(text.subarray(3000, 5000))).toBe(true);
    expect(readFileSync(at('tree/sub/deeper/c.txt')).length).toBe(0);
    expect(existsSync(at('tree/a.txt.lmz'))).toBe(false);
  });

  it('goes on after a failing file and names every failure at the end, exit status 1', async () => {
    put('mixed/1.txt', text.subarray(0, 1000));
    put('mixed/2.txt', text.subarray(1000, 2000));
    put('mixed/2.txt.lmz', 'already here');
    put('mixed/3.txt', text.subarray(2000, 3000));
    put('mixed/locked/4.txt', 'x');
    chmodSync(at('mixed/locked'), 0o000);
    const asRoot = process.getuid?.() === 0; // root reads any directory
    const r = await lmzip([...M, '-r', 'mixed']);
    chmodSync(at('mixed/locked'), 0o755);
    expect(r.code).toBe(1);
    const failures = ['mixed/2.txt', ...(asRoot ? [] : ['mixed/locked'])];
    expect(r.stderr).toContain('lmzip: mixed/2.txt: mixed/2.txt.lmz already exists; use -f to overwrite [OUTPUT_EXISTS]\n');
    expect(r.stderr).toContain(`lmzip: ${failures.length} of 4 files failed: ${failures.join(', ')}\n`);
    expect(existsSync(at('mixed/1.txt.lmz')) && existsSync(at('mixed/3.txt.lmz'))).toBe(true);
    expect(readFileSync(at('mixed/2.txt.lmz'), 'utf8')).toBe('already here');
    expect(existsSync(at('mixed/2.txt'))).toBe(true);
  });
});

describe('tar', () => {
  it('tar -I lmzip, and tar cf - DIR | lmzip > DIR.tar.lmz, round trip through the real tar', async () => {
    put('proj/readme.txt', text.subarray(0, 2500));
    put('proj/src/story.txt', text.subarray(2500, 4000));
    // tar -I runs "PROGRAM" and "PROGRAM -d": a wrapper names the model.
    const wrapper = put('bin/lmzip-stories', `#!/bin/sh\nexec "${process.execPath}" "${CLI}" -m "${STORIES}" -T 1 -q "$@"\n`);
    chmodSync(wrapper, 0o755);
    const tarEnv = { ...process.env, ...env };
    const tar = (args: string[], input?: Buffer) => spawnSync('tar', args, { cwd: dir.path, env: tarEnv, input, maxBuffer: 1 << 26 });
    const c = tar(['-I', wrapper, '-cf', 'proj.tar.lmz', 'proj']);
    expect(c.stderr.toString()).toBe('');
    expect(c.status).toBe(0);
    mkdirSync(at('out1'));
    const x1 = spawnSync('tar', ['-I', wrapper, '-xf', at('proj.tar.lmz')], { cwd: at('out1'), env: tarEnv });
    expect(x1.stderr.toString()).toBe('');
    expect(x1.status).toBe(0);
    expect(readFileSync(at('out1/proj/src/story.txt')).equals(text.subarray(2500, 4000))).toBe(true);

    const tarball = tar(['-cf', '-', 'proj']).stdout;
    const packed = await lmzip(M, tarball);
    expect(packed.code).toBe(0);
    const unpacked = await lmzip([...M, '-d'], packed.stdout);
    expect(unpacked.stdout.equals(tarball)).toBe(true);
    mkdirSync(at('out2'));
    const x2 = spawnSync('tar', ['-xf', '-'], { cwd: at('out2'), input: unpacked.stdout });
    expect(x2.status).toBe(0);
    expect(readFileSync(at('out2/proj/readme.txt')).equals(text.subarray(0, 2500))).toBe(true);
  });
});

describe('random access', () => {
  const input = text.subarray(0, 9000);

  it('-d --range decodes the bytes asked for, from files with and without an index, and joined files', async () => {
    put('r.txt', input);
    expect((await lmzip([...M, '-k', '--block-size', '2K', 'r.txt'])).code).toBe(0);
    for (const [offset, length] of [[0, 10], [2040, 20], [5000, 4000], [8990, 100], [9000, 5], [0, 9000]]) {
      const r = await lmzip([...M, '-d', '--range', `${offset}:${length}`, 'r.txt.lmz']);
      expect(r.code).toBe(0);
      expect(r.stdout.equals(input.subarray(offset, offset + length)), `${offset}:${length}`).toBe(true);
    }
    const rest = await lmzip(['-q', '-d', '--range', '1K:', 'r.txt.lmz']);
    expect(rest.stdout.equals(input.subarray(1024))).toBe(true);
    const bad = await lmzip(['-d', '--range', '5', 'r.txt.lmz']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--range expects OFFSET:LENGTH");
  });

  it('--reindex adds an index in place to a file whose members have none, safely (same bytes otherwise)', async () => {
    put('s.txt', input.subarray(0, 800));
    const one = await lmzip([...M, '-c', 's.txt']); // one block: no index
    writeFileSync(at('two.lmz'), Buffer.concat([one.stdout, one.stdout]));
    chmodSync(at('two.lmz'), 0o640);
    const before = (await lmzip(['-l', 'two.lmz'])).stdout.toString();
    expect(before).toContain('members         2 (v2: 1 block(s))\n');
    const r = await lmzip(['-v', '--reindex', 'two.lmz']);
    expect(r.stderr).toBe('two.lmz: index added to 2 member(s)\n');
    expect((await lmzip(['-l', 'two.lmz'])).stdout.toString()).toContain('members         2 (v2: 1 block(s), indexed)\n');
    expect(statSync(at('two.lmz')).mode & 0o777).toBe(0o640);
    expect((await lmzip(['-v', '--reindex', 'two.lmz'])).stderr).toBe('two.lmz: already indexed\n');
    const back = await lmzip(['-q', '-d', '-c', 'two.lmz']);
    expect(back.stdout.equals(Buffer.concat([input.subarray(0, 800), input.subarray(0, 800)]))).toBe(true);
    expect(readdirSync(dir.path).filter((f) => f.endsWith('.tmp') || f.includes('reindex'))).toEqual([]);
    const notLmz = await lmzip(['--reindex', 's.txt']);
    expect(notLmz.code).toBe(1);
    expect(statSync(at('s.txt')).size).toBe(800);
  });
});

describe('shards and join', () => {
  const corpus = text.subarray(0, 7000);

  it('4 shards (I/N and Slurm variables) join into a file equal to cat, that decodes to the input and keeps random access', async () => {
    put('c.jsonl', corpus);
    for (let i = 0; i < 4; i++) {
      const viaSlurm = i % 2 === 1;
      const r = await run([...M, '--block-size', '1K', '--shard', viaSlurm ? 'auto' : `${i}/4`, 'c.jsonl'],
        { cwd: dir.path, env: { ...env, ...(viaSlurm ? { SLURM_ARRAY_TASK_ID: String(i + 1), SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '4' } : {}) } });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const parts = readdirSync(dir.path).filter((f) => f.startsWith('c.jsonl.shard-')).sort();
    expect(parts).toEqual([0, 1, 2, 3].map((i) => `c.jsonl.shard-000${i}-of-0004.lmz`));
    expect(existsSync(at('c.jsonl'))).toBe(true); // a shard's input is shared: kept
    // Each part ends after a line end (the text has many).
    let offset = 0;
    for (const part of parts.slice(0, 3)) {
      const d = await lmzip(['-q', '-d', '-c', part]);
      offset += d.stdout.length;
      expect(corpus[offset - 1]).toBe(10);
    }
    const j = await lmzip(['join', 'c.lmz', ...parts]);
    expect(j.code).toBe(0);
    expect(readFileSync(at('c.lmz')).equals(Buffer.concat(parts.map((p) => readFileSync(at(p)))))).toBe(true);
    expect((await lmzip(['-q', '-d', '-c', 'c.lmz'])).stdout.equals(corpus)).toBe(true);
    const listed = (await lmzip(['-l', '-v', 'c.lmz'])).stdout.toString();
    expect(listed).toMatch(/members +4 \(v2: \d+ block\(s\), indexed\)/);
    expect(listed).toMatch(/ member 4 +at byte \d+, \d+ bytes: original bytes \d+ to 7000, v2, \d+ block\(s\), blocks of 1024 bytes, indexed\n$/);
    const slice = await lmzip(['-q', '-d', '--range', '3000:1500', 'c.lmz']);
    expect(slice.stdout.equals(corpus.subarray(3000, 4500))).toBe(true);

    // A retried shard replaces its part with the same bytes.
    const before = readFileSync(at(parts[2]));
    expect((await lmzip([...M, '--block-size', '1K', '--shard', '2/4', 'c.jsonl'])).code).toBe(0);
    expect(readFileSync(at(parts[2])).equals(before)).toBe(true);

    // join refuses a set with a part missing, and an existing OUT without -f.
    const missing = await lmzip(['join', 'x.lmz', parts[0], parts[1], parts[3]]);
    expect(missing.stderr).toBe(`lmzip: join x.lmz: shard 2 of 4 is missing (or out of order): found ${parts[3]} [INVALID_ARGUMENT]\n`);
    expect(existsSync(at('x.lmz'))).toBe(false);
    expect((await lmzip(['join', 'c.lmz', ...parts])).stderr).toBe('lmzip: join c.lmz: c.lmz already exists; use -f to overwrite [OUTPUT_EXISTS]\n');
    writeFileSync(at('broken.lmz'), readFileSync(at(parts[1])).subarray(0, 100));
    const broken = await lmzip(['join', 'y.lmz', parts[0], 'broken.lmz']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^lmzip: join y.lmz: broken.lmz: .*\[TRUNCATED\]\n$/);
  });
});

describe('--resume', () => {
  const big = text.subarray(0, 16000);

  it('continues from the last complete block of a compression killed with SIGKILL, and writes the bytes a fresh run writes', async () => {
    put('k.txt', big);
    const fresh = await lmzip([...M, '-c', '--block-size', '1K', 'k.txt']);
    expect(fresh.code).toBe(0);
    const first = new CliRun([...M, '-k', '--resume', '--block-size', '1K', '--progress=json', 'k.txt'], { cwd: dir.path, env: { ...process.env, ...env } });
    await first.waitFor(/"blocks":([3-9]|[1-9]\d+),.*"done":false/); // JSON progress: some blocks (3 or more; ticks are a second apart) are on disk
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(at('k.txt.lmz'))).toBe(false); // never under the final name before it is complete
    const partialSize = statSync(at('k.txt.lmz.partial')).size;
    expect(partialSize).toBeGreaterThan(0);

    const second = await lmzip(['-m', STORIES, '-T', '1', '-k', '--resume', '--block-size', '1K', 'k.txt']);
    expect(second.code).toBe(0);
    const kept = /^lmzip: k\.txt: resuming from k\.txt\.lmz\.partial: (\d+) complete block\(s\) kept, (\d+) of 16000 bytes done\n$/.exec(second.stderr);
    expect(kept, second.stderr).not.toBeNull();
    expect(Number(kept![1])).toBeGreaterThanOrEqual(3);
    expect(Number(kept![2])).toBe(Number(kept![1]) * 1024);
    expect(existsSync(at('k.txt.lmz.partial'))).toBe(false);
    expect(readFileSync(at('k.txt.lmz')).equals(fresh.stdout)).toBe(true);
  });

  it('starts afresh from a partial file of other settings or another input, and keeps nothing of it', async () => {
    put('m.txt', big.subarray(0, 4000));
    put('other.txt', big.subarray(4000, 8000));
    const other = await lmzip([...M, '-c', '--block-size', '1K', 'other.txt']);
    writeFileSync(at('m.txt.lmz.partial'), other.stdout.subarray(0, other.stdout.length - 300));
    const r = await lmzip(['-m', STORIES, '-T', '1', '--resume', '--block-size', '1K', 'm.txt']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(at('m.txt'))).toBe(false); // verified, then removed as usual
    expect((await lmzip(['-q', '-d', '-c', 'm.txt.lmz'])).stdout.equals(big.subarray(0, 4000))).toBe(true);
  });

  it('a partial output cut inside a block resumes from the block before', async () => {
    put('t.txt', big.subarray(0, 6000));
    const full = (await lmzip([...M, '-c', '--block-size', '1K', 't.txt'])).stdout;
    writeFileSync(at('t.txt.lmz.partial'), full);
    truncateSync(at('t.txt.lmz.partial'), Math.floor(full.length / 2));
    const r = await lmzip(['-m', STORIES, '-T', '1', '-k', '--resume', '--block-size', '1K', 't.txt']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/resuming from t\.txt\.lmz\.partial: [1-5] complete block\(s\) kept, [1-5]\d{3} of 6000 bytes done\n$/);
    expect(readFileSync(at('t.txt.lmz')).equals(full)).toBe(true);
  });
});

describe('--progress=json', () => {
  it('prints one JSON object per line, the last with done: true and the final sizes', async () => {
    put('p.txt', text.subarray(0, 3000));
    const r = await lmzip(['-m', STORIES, '-T', '1', '-k', '--block-size', '1K', '--progress=json', 'p.txt']);
    expect(r.code).toBe(0);
    const lines = r.stderr.trimEnd().split('\n').map((l) => JSON.parse(l));
    const last = lines[lines.length - 1];
    expect(last).toMatchObject({ file: 'p.txt', bytesIn: 3000, bytesTotal: 3000, bytesOut: statSync(at('p.txt.lmz')).size, blocks: 3, done: true });
    expect(typeof last.rate).toBe('number');
    expect(last.run).toBeUndefined(); // one file: no run totals
  });

  it('adds the run\'s totals (files, bytes done/total) to each line of a run over several files', async () => {
    put('pr/a.txt', text.subarray(0, 2000));
    put('pr/b.txt', text.subarray(2000, 3000));
    const r = await lmzip(['-m', STORIES, '-T', '1', '-k', '--block-size', '1K', '--progress=json', '-r', 'pr']);
    expect(r.code).toBe(0);
    const done = r.stderr.trimEnd().split('\n').map((l) => JSON.parse(l)).filter((l) => l.done);
    expect(done.map((l) => [l.file, l.run])).toEqual([
      ['a.txt', { files: 2, filesDone: 0, bytesIn: 2000, bytesTotal: 3000 }],
      ['b.txt', { files: 2, filesDone: 1, bytesIn: 3000, bytesTotal: 3000 }],
    ]);
  });
});

describe('-N', () => {
  it('records the model file\'s full path instead of its name', async () => {
    put('n.txt', text.subarray(0, 500));
    expect((await lmzip([...M, '-k', '-N', '-o', 'n1.lmz', 'n.txt'])).code).toBe(0);
    expect((await lmzip([...M, '-k', '-o', 'n2.lmz', 'n.txt'])).code).toBe(0);
    expect((await lmzip(['-l', 'n1.lmz'])).stdout.toString()).toContain(`model           ${STORIES}\n`);
    expect((await lmzip(['-l', 'n2.lmz'])).stdout.toString()).toContain('model           stories260k\n');
  });
});
