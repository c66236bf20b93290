/**
 * The overall progress of a run over several files (issue 11 item 6): one line on a
 * terminal, redrawn in place, with files done/total, bytes done/total, rate and time
 * left; the run's totals in the --progress=json lines. Unit tests with an injected
 * clock and a fake terminal, then one real run of the file command (stories260K)
 * through a fake terminal stderr.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonProgress, RunProgress } from '../../src/cli/progress.js';
import { runFileCommand } from '../../src/cli/commands/files.js';
import { Shutdown } from '../../src/cli/signals.js';
import { CORPUS, STORIES, tempDir } from '../helpers.js';
import { sharedMissing } from '../shared.js';

function fakeStream(isTTY: boolean, columns = 200) {
  const writes: string[] = [];
  const stream = { isTTY, columns, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

describe('RunProgress on a terminal', () => {
  it('draws one line: files, bar, bytes done/total, rate, time left and the file at work', () => {
    const { stream, writes } = fakeStream(true);
    let t = 0;
    const run = new RunProgress({ stream, sizes: [1024, 3072], draw: true, now: () => t });
    const a = run.file('a.txt', 1024);
    t = 1000;
    a.update(512);
    expect(writes).toEqual(['\r0/2 files [###---------------------]  13% 512 B/4.0 KiB 512 B/s 7s left  a.txt']);
    t = 1050;
    a.update(1024); // within 100 ms of the last draw: counted, not drawn
    expect(writes).toHaveLength(1);
    expect(run.totals()).toEqual({ files: 2, filesDone: 0, bytesIn: 1024, bytesTotal: 4096 });
    a.finish();
    run.fileEnded();
    const b = run.file('b.txt', 3072);
    t = 2000;
    b.update(1024);
    expect(writes.at(-1)).toBe('\r1/2 files [############------------]  50% 2.0 KiB/4.0 KiB 1.0 KiB/s 2s left  b.txt');
    b.finish();
    run.fileEnded();
    t = 4000;
    run.finish();
    // The summary overwrites the line (padded over its longer text) and ends it.
    expect(writes.at(-2)).toMatch(/^\r2 files 4\.0 KiB in 4s \(1\.0 KiB\/s\) +$/);
    expect(writes.at(-1)).toBe('\n');
    expect(writes.filter((w) => w.includes('\n'))).toHaveLength(1); // a single redrawn line, no scrolling
  });

  it('prints nothing without a terminal, but still counts (for the JSON lines)', () => {
    const { stream, writes } = fakeStream(false);
    const run = new RunProgress({ stream, sizes: [100, 200], draw: true, now: () => 0 });
    const a = run.file('a', 100);
    a.update(50);
    run.interrupt();
    a.finish();
    run.fileEnded();
    run.finish();
    expect(writes).toEqual([]);
    expect(run.totals()).toEqual({ files: 2, filesDone: 1, bytesIn: 100, bytesTotal: 300 });
  });

  it('drops a failed or skipped file from the total, and takes a shard\'s own total for its file', () => {
    const { stream } = fakeStream(true);
    const run = new RunProgress({ stream, sizes: [1000, 4000, 500], draw: true, now: () => 0 });
    run.fileEnded(); // failed before any progress
    expect(run.totals()).toEqual({ files: 3, filesDone: 1, bytesIn: 0, bytesTotal: 4500 });
    const shard = run.file('big', 1000); // its part, 1000 of 4000 bytes
    expect(run.totals().bytesTotal).toBe(1500);
    shard.update(300);
    run.fileEnded(); // failed part-way: what was done stays done
    expect(run.totals()).toEqual({ files: 3, filesDone: 2, bytesIn: 300, bytesTotal: 800 });
  });

  it('counts a resumed file\'s earlier bytes as done but not in the rate', () => {
    const { stream, writes } = fakeStream(true);
    let t = 0;
    const run = new RunProgress({ stream, sizes: [4096, 4096], draw: true, now: () => t });
    const a = run.file('a', 4096, 3072);
    t = 1000;
    a.update(3584);
    expect(writes.at(-1)).toContain('3.5 KiB/8.0 KiB 512 B/s 9s left  a');
  });

  it('clears its line before another message and redraws at the next update', () => {
    const { stream, writes } = fakeStream(true);
    let t = 0;
    const run = new RunProgress({ stream, sizes: [10, 10], draw: true, now: () => t });
    const a = run.file('a', 10);
    a.update(5);
    const drawn = writes[0].length - 1;
    run.interrupt();
    expect(writes[1]).toBe(`\r${' '.repeat(drawn)}\r`);
    t = 10; // well within 100 ms: redrawn all the same
    a.update(6);
    expect(writes[2]).toMatch(/^\r0\/2 files .* 6 B\/20 B /);
  });

  it('shows nothing at the end when the line was never drawn (nothing reported progress)', () => {
    const { stream, writes } = fakeStream(true);
    const run = new RunProgress({ stream, sizes: [10, 10], draw: true, now: () => 0 });
    run.fileEnded();
    run.fileEnded();
    run.finish();
    expect(writes).toEqual([]);
  });
});

describe('JsonProgress in a run', () => {
  it('adds the run\'s totals to each line', () => {
    const { stream, writes } = fakeStream(false);
    let t = 0;
    const run = new RunProgress({ stream, sizes: [3000, 1000], draw: false, now: () => t });
    run.fileEnded();
    const sink = run.file('b.txt', 1000, 0, new JsonProgress({ stream, file: 'b.txt', total: 1000, blockSize: 1024, now: () => t, run }));
    t = 1000;
    sink.update(400, 1000, 100);
    sink.finish(undefined, 250);
    const lines = writes.map((w) => JSON.parse(w));
    expect(lines[0]).toMatchObject({ file: 'b.txt', bytesIn: 400, done: false, run: { files: 2, filesDone: 1, bytesIn: 400, bytesTotal: 1000 } });
    expect(lines[1]).toMatchObject({ file: 'b.txt', bytesIn: 1000, bytesOut: 250, done: true, run: { files: 2, filesDone: 1, bytesIn: 1000, bytesTotal: 1000 } });
  });
});

describe('lmzip -r DIR with stderr on a terminal', () => {
  const dir = tempDir('lmzip-run-progress-');
  afterAll(() => dir.cleanup());

  it('shows one overall line instead of a bar per file, and ends it once', async (ctx) => {
    if (sharedMissing) ctx.skip(sharedMissing);
    const text = readFileSync(join(CORPUS, 'tinystories-valid-part1.txt'));
    const tree = join(dir.path, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    writeFileSync(join(tree, 'a.txt'), text.subarray(0, 1500));
    writeFileSync(join(tree, 'sub', 'b.txt'), text.subarray(1500, 2500));
    const { stream: stderr, writes } = fakeStream(true);
    const { stream: stdout } = fakeStream(false);
    const shutdown = new Shutdown(stderr, ((code: number) => { throw new Error(`exit ${code}`); }) as (code: number) => never);
    let code: number;
    try {
      code = await runFileCommand(['-m', STORIES, '-T', '1', '-k', '--block-size', '1K', '-r', tree],
        { stdin: process.stdin, stdout, stderr, env: { ...process.env, LMZIP_OFFLINE: '1' } }, shutdown);
    } finally {
      shutdown.dispose();
    }
    expect(code).toBe(0);
    expect(statSync(join(tree, 'sub', 'b.txt.lmz')).size).toBeGreaterThan(0);
    const out = writes.join('');
    const lines = out.split('\n').filter(Boolean);
    // Possibly a model-loading line first (shown only when loading takes over a second); then the run's one line.
    const runLine = lines.at(-1)!;
    expect(runLine).toMatch(/^\r0\/2 files \[.*\] +\d+% .*\/2\.4 KiB .*\/s .* left {2}a\.txt/);
    expect(runLine).toContain('1/2 files');
    expect(runLine).toContain('  b.txt');
    expect(runLine.split('\r').at(-1)).toMatch(/^2 files 2\.4 KiB in \d+s \(.*\/s\) *$/);
    expect(out).not.toMatch(/a\.txt \[/); // no per-file bar
  });
});
