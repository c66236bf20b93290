/**
 * "Never lose a file" (issue 9, items 1-3, 8, 9): real `lmzip` processes on real files.
 * Races are made deterministic with the CLI's test hook (LMZIP_TEST_PAUSE, see
 * src/cli/test-hook.ts): the process stops at a named point, the test changes the
 * world, then resumes it with SIGUSR2. No sleeps.
 */
import { spawnSync } from 'node:child_process';
import {
  appendFileSync, chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync,
  renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, STORIES } from '../helpers.js';
import { CliRun, FAST, lmzip } from '../cli/run-cli.js';
import { storyText } from './helpers.js';

const TEXT = storyText(3000, 9);
const isRoot = process.getuid?.() === 0;

let root: string;
let n = 0;
/** A fresh directory with `a.txt` (the text) in it. */
function workspace(): { dir: string; input: string } {
  const dir = join(root, `w${n++}`);
  mkdirSync(dir);
  const input = join(dir, 'a.txt');
  writeFileSync(input, TEXT);
  return { dir, input };
}
const temporaries = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('file safety', () => {
  let packed: Buffer;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lmzip-file-safety-'));
    const { dir } = workspace();
    const r = await lmzip([...FAST, '-k', 'a.txt'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    packed = readFileSync(join(dir, 'a.txt.lmz'));
  }, 60_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  describe('the output is never the input (item 1)', () => {
    for (const [name, args] of [
      ['-f -o a.txt a.txt', ['-f', '-o', 'a.txt', 'a.txt']],
      ['-f -o ./a.txt a.txt', ['-f', '-o', './a.txt', 'a.txt']],
      ['-k -f -o (a symbolic link to a.txt)', ['-k', '-f', '-o', 'link', 'a.txt']],
      ['-k -f -o (a hard link to a.txt)', ['-k', '-f', '-o', 'hard', 'a.txt']],
    ] as const) {
      it(`compress ${name}: refused, the data kept`, async () => {
        const { dir, input } = workspace();
        symlinkSync('a.txt', join(dir, 'link'));
        linkSync(input, join(dir, 'hard'));
        const r = await lmzip([...FAST, ...args], { cwd: dir });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/is the input file itself.*\[SAME_FILE\]\n$/);
        expect(readFileSync(input).equals(TEXT)).toBe(true);
        expect(temporaries(dir)).toEqual([]);
      });
    }

    it('decompress -d -f -o x.lmz x.lmz: refused, the data kept', async () => {
      const { dir } = workspace();
      writeFileSync(join(dir, 'x.lmz'), packed);
      const r = await lmzip(['-d', ...FAST, '-f', '-o', 'x.lmz', 'x.lmz'], { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\[SAME_FILE\]\n$/);
      expect(readFileSync(join(dir, 'x.lmz')).equals(packed)).toBe(true);
    });
  });

  describe('an input that changes during the run is kept (item 2)', () => {
    it('appended to during the verify pass: no output, the input with its new data kept', async () => {
      const { dir, input } = workspace();
      const run = new CliRun([...FAST, 'a.txt'], { cwd: dir, pauseAt: ['output-written'] });
      await run.paused('output-written');
      appendFileSync(input, 'MORE DATA');
      run.resume();
      const r = await run.done;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/the input changed while lmzip worked \(size 3000 -> 3009 bytes.*\[INPUT_CHANGED\]\n$/);
      expect(readFileSync(input, 'utf8')).toBe(`${TEXT}MORE DATA`);
      expect(existsSync(`${input}.lmz`)).toBe(false);
      expect(temporaries(dir)).toEqual([]);
    });

    it('changed after the output was published: the input is kept, the output decodes to what was read', async () => {
      const { dir, input } = workspace();
      const run = new CliRun([...FAST, 'a.txt'], { cwd: dir, pauseAt: ['before-remove'] });
      await run.paused('before-remove');
      appendFileSync(input, 'LATE');
      run.resume();
      const r = await run.done;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\[INPUT_CHANGED\]\n$/);
      expect(readFileSync(input, 'utf8')).toBe(`${TEXT}LATE`);
      const back = await lmzip(['-d', ...FAST, '-c', 'a.txt.lmz'], { cwd: dir });
      expect(back.stdout.equals(TEXT)).toBe(true);
    });

    it('replaced by another file before removal: the new file is not deleted', async () => {
      const { dir, input } = workspace();
      const run = new CliRun([...FAST, 'a.txt'], { cwd: dir, pauseAt: ['before-remove'] });
      await run.paused('before-remove');
      writeFileSync(join(dir, 'other'), 'someone else');
      renameSync(join(dir, 'other'), input);
      run.resume();
      const r = await run.done;
      expect(r.code).toBe(1);
      // Renaming over it changes the old file's ctime, or else its path names another inode.
      expect(r.stderr).toMatch(/(status change time\)|was replaced while lmzip worked); it was kept \[INPUT_CHANGED\]\n$/);
      expect(readFileSync(input, 'utf8')).toBe('someone else');
    });

    it('a .lmz input changed before its output is published: no output, input kept', async () => {
      const { dir } = workspace();
      writeFileSync(join(dir, 'x.lmz'), packed);
      const run = new CliRun(['-d', ...FAST, 'x.lmz'], { cwd: dir, pauseAt: ['before-publish'] });
      await run.paused('before-publish');
      appendFileSync(join(dir, 'x.lmz'), 'junk');
      run.resume();
      const r = await run.done;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\[INPUT_CHANGED\]\n$/);
      expect(existsSync(join(dir, 'x'))).toBe(false);
      expect(existsSync(join(dir, 'x.lmz'))).toBe(true);
      expect(temporaries(dir)).toEqual([]);
    });
  });

  describe('a target created during the run is not clobbered without -f (item 3)', () => {
    for (const mode of ['compress', 'decompress'] as const) {
      it(`${mode}: the new file stays, the input stays, no temporary file`, async () => {
        const { dir, input } = workspace();
        writeFileSync(join(dir, 'x.lmz'), packed);
        const [args, target, source] = mode === 'compress' ? [[...FAST, 'a.txt'], `${input}.lmz`, input] : [['-d', ...FAST, 'x.lmz'], join(dir, 'x'), join(dir, 'x.lmz')];
        const before = readFileSync(source);
        const run = new CliRun(args, { cwd: dir, pauseAt: ['before-publish'] });
        await run.paused('before-publish');
        writeFileSync(target, 'precious');
        run.resume();
        const r = await run.done;
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/already exists; use -f to overwrite \[OUTPUT_EXISTS\]\n$/);
        expect(readFileSync(target, 'utf8')).toBe('precious');
        expect(readFileSync(source).equals(before)).toBe(true);
        expect(temporaries(dir)).toEqual([]);
      });
    }

    it('with -f the target is replaced', async () => {
      const { dir, input } = workspace();
      const run = new CliRun([...FAST, '-f', 'a.txt'], { cwd: dir, pauseAt: ['before-publish'] });
      await run.paused('before-publish');
      writeFileSync(`${input}.lmz`, 'old');
      run.resume();
      const r = await run.done;
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(`${input}.lmz`).subarray(0, 4).toString('latin1')).not.toBe('old');
      expect(existsSync(input)).toBe(false);
    });
  });

  describe('symbolic links and hard links (items 8, 9)', () => {
    it('an input swapped for a symbolic link before it is opened is refused: nothing leaks', async () => {
      const { dir, input } = workspace();
      const secret = join(dir, 'secret');
      writeFileSync(secret, 'root-only secret', { mode: 0o600 });
      const run = new CliRun([...FAST, 'a.txt'], { cwd: dir, pauseAt: ['input-open'] });
      await run.paused('input-open');
      unlinkSync(input);
      symlinkSync(secret, input);
      run.resume();
      const r = await run.done;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/a\.txt: is a symbolic link -- ignored \(use -f to follow it\) \[UNSAFE_INPUT\]\n$/);
      expect(readdirSync(dir).sort()).toEqual(['a.txt', 'secret']);
      expect(readFileSync(secret, 'utf8')).toBe('root-only secret');
    });

    it('an input swapped for a symbolic link after it was opened: nothing is published, the link and its target stay', async () => {
      const { dir, input } = workspace();
      const secret = join(dir, 'secret');
      writeFileSync(secret, 'root-only secret', { mode: 0o600 });
      const run = new CliRun([...FAST, 'a.txt'], { cwd: dir, pauseAt: ['output-written'] });
      await run.paused('output-written');
      renameSync(input, join(dir, 'moved'));
      symlinkSync(secret, input);
      run.resume();
      const r = await run.done;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\[INPUT_CHANGED\]\n$/);
      expect(readdirSync(dir).sort()).toEqual(['a.txt', 'moved', 'secret']);
      expect(readlinkSync(input)).toBe(secret);
      expect(readFileSync(secret, 'utf8')).toBe('root-only secret');
      expect(readFileSync(join(dir, 'moved')).equals(TEXT)).toBe(true);
    });

    it('a symbolic link as input: refused without -f; with -f its target is compressed and the link removed (gzip)', async () => {
      const { dir, input } = workspace();
      symlinkSync(input, join(dir, 'link'));
      const refused = await lmzip([...FAST, 'link'], { cwd: dir });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/\[UNSAFE_INPUT\]\n$/);
      const forced = await lmzip([...FAST, '-f', 'link'], { cwd: dir });
      expect(forced.code, forced.stderr).toBe(0);
      expect(existsSync(join(dir, 'link'))).toBe(false);
      expect(readFileSync(input).equals(TEXT)).toBe(true);
      expect(lstatSync(join(dir, 'link.lmz')).isFile()).toBe(true);
    });

    it('a hard-linked input is refused when it would be removed; -k or -f allow it', async () => {
      const { dir, input } = workspace();
      linkSync(input, join(dir, 'other-name'));
      const refused = await lmzip([...FAST, 'a.txt'], { cwd: dir });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe('lmzip: a.txt: has 1 other link -- unchanged (use -f to process it anyway) [UNSAFE_INPUT]\n');
      expect((await lmzip([...FAST, '-k', 'a.txt'], { cwd: dir })).code).toBe(0);
      expect((await lmzip([...FAST, '-f', 'a.txt'], { cwd: dir })).code).toBe(0);
      expect(existsSync(input)).toBe(false);
      expect(readFileSync(join(dir, 'other-name')).equals(TEXT)).toBe(true);
    });

    it('a dangling symbolic link at the target counts as existing; -f replaces the link itself', async () => {
      const { dir, input } = workspace();
      symlinkSync(join(dir, 'nowhere'), `${input}.lmz`);
      const refused = await lmzip([...FAST, 'a.txt'], { cwd: dir });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/already exists; use -f to overwrite \[OUTPUT_EXISTS\]\n$/);
      expect(lstatSync(`${input}.lmz`).isSymbolicLink()).toBe(true);
      const forced = await lmzip([...FAST, '-f', 'a.txt'], { cwd: dir });
      expect(forced.code, forced.stderr).toBe(0);
      expect(lstatSync(`${input}.lmz`).isFile()).toBe(true);
      expect(existsSync(join(dir, 'nowhere'))).toBe(false);
    });
  });

  describe('permissions and names (item 9)', () => {
    it('the temporary file is 0600 while written; the output gets the input mode at the end', async () => {
      const { dir, input } = workspace();
      chmodSync(input, 0o644);
      const run = new CliRun([...FAST, 'a.txt'], { cwd: dir, pauseAt: ['output-written'] });
      await run.paused('output-written');
      const [tmp] = temporaries(dir);
      expect(statSync(join(dir, tmp)).mode & 0o7777).toBe(0o600);
      run.resume();
      expect((await run.done).code).toBe(0);
      expect(statSync(`${input}.lmz`).mode & 0o7777).toBe(0o644);
    });

    it.skipIf(!isRoot)('as root, the output keeps the input owner and group (gzip)', async () => {
      const { dir, input } = workspace();
      chownSync(input, 1234, 5678);
      const r = await lmzip([...FAST, 'a.txt'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      const st = statSync(`${input}.lmz`);
      expect([st.uid, st.gid]).toEqual([1234, 5678]);
      expect((await lmzip(['-d', ...FAST, 'a.txt.lmz'], { cwd: dir })).code).toBe(0);
      expect([statSync(input).uid, statSync(input).gid]).toEqual([1234, 5678]);
    });

    for (const [what, name] of [
      ['251 ASCII characters (the target has 255)', 'n'.repeat(251)],
      ['125 two-byte characters (250 bytes)', 'é'.repeat(125)],
    ] as const) {
      it(`a name of ${what}: the temporary name still fits NAME_MAX`, async () => {
        const { dir } = workspace();
        writeFileSync(join(dir, name), TEXT);
        const r = await lmzip([...FAST, name], { cwd: dir });
        expect(r.code, r.stderr).toBe(0);
        expect(existsSync(join(dir, `${name}.lmz`))).toBe(true);
        const d = await lmzip(['-d', ...FAST, `${name}.lmz`], { cwd: dir });
        expect(d.code, d.stderr).toBe(0);
        expect(readFileSync(join(dir, name)).equals(TEXT)).toBe(true);
      });
    }

    it('-c refuses to write compressed data to a terminal (a pty), as with standard input', () => {
      const { dir } = workspace();
      const command = [process.execPath, CLI, '-c', '-m', STORIES, '-T', '1', 'a.txt'].map((a) => `'${a}'`).join(' ');
      const r = spawnSync('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/lmzip: a\.txt: compressed data not written to a terminal \(use -f to force\) \[INVALID_ARGUMENT\]/);
    });
  });

  describe('signals clean up (item 9)', () => {
    for (const [signal, status] of [['SIGHUP', 129], ['SIGQUIT', 131], ['SIGINT', 130], ['SIGTERM', 143]] as const) {
      for (const mode of ['compress', 'decompress'] as const) {
        it(`${signal} while ${mode === 'compress' ? 'compressing' : 'decompressing'}: exit ${status}, temporary file removed, input unchanged`, async () => {
          const { dir, input } = workspace();
          writeFileSync(join(dir, 'x.lmz'), packed);
          const [args, point, target, source] = mode === 'compress'
            ? [[...FAST, 'a.txt'], 'output-written', `${input}.lmz`, input]
            : [['-d', ...FAST, 'x.lmz'], 'before-publish', join(dir, 'x'), join(dir, 'x.lmz')];
          const before = readFileSync(source);
          const run = new CliRun(args, { cwd: dir, pauseAt: [point] });
          await run.paused(point);
          expect(temporaries(dir)).toHaveLength(1);
          run.child.kill(signal);
          const r = await run.done;
          expect(r.code).toBe(status);
          expect(r.stderr).toContain(`lmzip: interrupted by ${signal}; partial output removed, inputs unchanged\n`);
          expect(temporaries(dir)).toEqual([]);
          expect(existsSync(target)).toBe(false);
          expect(readFileSync(source).equals(before)).toBe(true);
        });
      }
    }
  });
});
