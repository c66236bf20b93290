/**
 * Faults while writing, tested for real on a real `lmzip` process:
 *  - the output path is a directory;
 *  - a read-only target (as root, which ignores permission bits: a read-only tmpfs
 *    mount, else a directory with the immutable attribute; otherwise a chmod 555
 *    directory);
 *  - disk full (a 64 KiB tmpfs mount when permitted, else skipped with the reason),
 *    and always RLIMIT_FSIZE on the child with SIGXFSZ ignored, so writes fail with EFBIG;
 *  - SIGINT and SIGTERM in the middle of compression and decompression, and SIGKILL;
 *  - damaged input for -d and -t.
 * Every time: the input is unchanged, no file under the final name, no temporary file
 * left (SIGKILL: only the one it was writing), exit status 1 (130/143 for signals) and
 * a message naming the problem.
 * Runs dist/cli/main.js when built (npm test builds it), else src/cli/main.ts via tsx.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, STORIES, storyText } from './helpers.js';

const DIST_CLI = resolve(REPO, 'dist/cli/main.js');
const CLI_ARGS = existsSync(DIST_CLI) ? [DIST_CLI] : ['--import', 'tsx', resolve(REPO, 'src/cli/main.ts')];
const FAST = ['-m', STORIES, '-T', '1', '--lanes', '2', '--ctx', '64', '-q'];
const isRoot = process.getuid?.() === 0;

interface Run { code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: Buffer }

function start(args: string[], options: { shell?: string } = {}): { child: ChildProcess; done: Promise<Run> } {
  const child = options.shell
    ? spawn('bash', ['-c', `${options.shell} exec "$0" "$@"`, process.execPath, ...CLI_ARGS, ...args], { cwd: REPO })
    : spawn(process.execPath, [...CLI_ARGS, ...args], { cwd: REPO });
  let stderr = '';
  const out: Buffer[] = [];
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => out.push(d));
  const done = new Promise<Run>((res) => child.on('close', (code, signal) => res({ code, signal, stderr, stdout: Buffer.concat(out) })));
  return { child, done };
}
const lmzip = (args: string[], options: { shell?: string } = {}) => start(args, options).done;

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const entries = (dir: string) => readdirSync(dir).sort();
const temporaries = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

function tryMount(dir: string, options: string): boolean {
  if (!isRoot) return false;
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]).status === 0;
}
function unmount(dir: string): void {
  spawnSync('umount', [dir]);
}

/** Makes `dir` a directory nothing can be written into, by the first method open to this process. */
function makeReadOnly(dir: string): { how: string; undo: () => void } | { skip: string } {
  if (tryMount(dir, 'size=1m,ro')) return { how: 'read-only tmpfs', undo: () => unmount(dir) };
  mkdirSync(dir, { recursive: true });
  if (isRoot) {
    // Root ignores permission bits but not the immutable attribute (ext4, xfs, btrfs): EPERM.
    if (spawnSync('chattr', ['+i', dir]).status === 0) return { how: 'chattr +i', undo: () => spawnSync('chattr', ['-i', dir]) };
    return { skip: 'running as root, and neither a tmpfs mount nor chattr +i is permitted here' };
  }
  chmodSync(dir, 0o555);
  return { how: 'chmod 555', undo: () => chmodSync(dir, 0o755) };
}

describe('CLI under faults', () => {
  let dir: string;
  let input: string; // 12 KB of text the model codes: a few seconds each way
  let inputSha: string;
  let packed: string; // input compressed, for the decompression faults
  const undo: (() => void)[] = []; // mounts and attributes to remove before cleaning up

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lmzip-faults-'));
    input = join(dir, 'story.txt');
    writeFileSync(input, storyText(12000, 5));
    inputSha = sha(input);
    const r = await lmzip([...FAST, '-k', input]);
    expect(r.code, r.stderr).toBe(0);
    packed = join(dir, 'packed.lmz');
    writeFileSync(packed, readFileSync(`${input}.lmz`));
    rmSync(`${input}.lmz`);
  }, 60000);
  afterAll(() => {
    for (const u of undo) u();
    rmSync(dir, { recursive: true, force: true });
  });

  function expectUnharmed(where: string[], finalName: string | undefined) {
    expect(sha(input)).toBe(inputSha);
    if (finalName) expect(existsSync(finalName), `${finalName} must not exist`).toBe(false);
    for (const d of where) expect(temporaries(d), `temporary files in ${d}`).toEqual([]);
  }

  it('refuses an output path that is a directory', async () => {
    const target = join(dir, 'a-dir');
    mkdirSync(target);
    const r = await lmzip([...FAST, '-k', '-f', '-o', target, input]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/director/i);
    expectUnharmed([dir, target], undefined);
    expect(entries(target)).toEqual([]);
    // FILE.lmz already exists as a directory.
    mkdirSync(`${input}.lmz`);
    const r2 = await lmzip([...FAST, '-f', input]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/director|exists/i);
    expectUnharmed([dir], undefined);
    expect(entries(`${input}.lmz`)).toEqual([]);
    rmSync(`${input}.lmz`, { recursive: true });
  }, 60000);

  it('fails cleanly on a read-only target', async (ctx) => {
    const ro = join(dir, 'readonly');
    const made = makeReadOnly(ro);
    if ('skip' in made) return ctx.skip(made.skip);
    undo.push(made.undo);
    const { how } = made;
    const target = join(ro, 'out.lmz');
    for (const args of [[...FAST, '-k', '-o', target, input], ['-d', ...FAST, '-k', '-o', join(ro, 'back.txt'), packed]]) {
      const r = await lmzip(args);
      expect(r.code, how).toBe(1);
      expect(r.stderr, how).toMatch(/read-only|permission denied/i);
      expectUnharmed([dir, ro], target);
      expect(entries(ro)).toEqual([]);
    }
  }, 60000);

  it('fails cleanly when the disk is full (64 KiB tmpfs)', async (ctx) => {
    const full = join(dir, 'full');
    if (!tryMount(full, 'size=64k'))
      return ctx.skip(`no tmpfs mount here (${isRoot ? 'mount refused' : 'not root'}): ENOSPC untested, EFBIG is (RLIMIT_FSIZE test)`);
    undo.push(() => unmount(full));
    // Data that does not compress below 64 KiB: random bytes (stored chunks).
    const big = join(dir, 'random.bin');
    writeFileSync(big, randomBytes(150000));
    const bigSha = sha(big);
    const r = await lmzip([...FAST, '-k', '-o', join(full, 'random.bin.lmz'), big]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space left/i);
    expect(sha(big)).toBe(bigSha);
    expect(entries(full)).toEqual([]);
    // Decompression of a file whose output does not fit.
    const r0 = await lmzip([...FAST, '-k', '-f', big]);
    expect(r0.code, r0.stderr).toBe(0);
    const r2 = await lmzip(['-d', ...FAST, '-k', '-o', join(full, 'back.bin'), `${big}.lmz`]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/no space left/i);
    expect(entries(full)).toEqual([]);
    expect(existsSync(`${big}.lmz`)).toBe(true);
    // And the space is free again.
    const df = spawnSync('df', ['--output=used', '-B1', full]).stdout.toString().trim().split('\n').pop();
    expect(Number(df)).toBeLessThan(8192);
  }, 60000);

  it('fails cleanly past RLIMIT_FSIZE (EFBIG)', async () => {
    const out = join(dir, 'limited');
    mkdirSync(out);
    const big = join(dir, 'random2.bin');
    writeFileSync(big, randomBytes(150000));
    const bigSha = sha(big);
    // ulimit -f counts 1024-byte blocks; SIGXFSZ ignored so write() returns EFBIG.
    const limit = "trap '' XFSZ; ulimit -f 32;";
    const r = await lmzip([...FAST, '-k', '-o', join(out, 'random2.bin.lmz'), big], { shell: limit });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/too large|EFBIG/i);
    expect(sha(big)).toBe(bigSha);
    expect(entries(out)).toEqual([]);
  }, 60000);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const mode of ['compress', 'decompress'] as const) {
      it(`stops cleanly on ${signal} while it ${mode}es`, async () => {
        const work = mkdtempSync(join(dir, `${signal}-${mode}-`));
        const src = join(work, mode === 'compress' ? 'story.txt' : 'story.txt.lmz');
        writeFileSync(src, readFileSync(mode === 'compress' ? input : packed));
        const srcSha = sha(src);
        const args = mode === 'compress' ? [...FAST, src] : ['-d', ...FAST, src];
        const final = mode === 'compress' ? `${src}.lmz` : join(work, 'story.txt');
        const { child, done } = start(args);
        // Wait until it is writing its temporary file, then signal it.
        const t0 = Date.now();
        while (temporaries(work).length === 0 && Date.now() - t0 < 20000 && child.exitCode === null)
          await new Promise((r) => setTimeout(r, 20));
        expect(temporaries(work).length, 'a temporary file appeared').toBe(1);
        await new Promise((r) => setTimeout(r, 150));
        child.kill(signal);
        const r = await done;
        expect(r.code, r.stderr).toBe(signal === 'SIGINT' ? 130 : 143);
        expect(r.stderr).toContain(`interrupted by ${signal}`);
        expect(sha(src)).toBe(srcSha);
        expect(existsSync(final)).toBe(false);
        expect(entries(work)).toEqual([src.split('/').pop()]);
      }, 60000);
    }
  }

  it('never leaves a partial file under the final name on SIGKILL', async () => {
    const work = mkdtempSync(join(dir, 'kill-'));
    const src = join(work, 'story.txt');
    writeFileSync(src, readFileSync(input));
    const { child, done } = start([...FAST, src]);
    const t0 = Date.now();
    while (temporaries(work).length === 0 && Date.now() - t0 < 20000 && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 20));
    // Killed while it writes: the temporary file must exist, or the kill proves nothing.
    const writing = temporaries(work);
    expect(writing, 'a temporary file appeared').toHaveLength(1);
    child.kill('SIGKILL');
    const r = await done;
    expect(r.signal).toBe('SIGKILL');
    expect(sha(src)).toBe(inputSha);
    expect(existsSync(`${src}.lmz`)).toBe(false);
    // A killed process cannot clean up: the temporary file it was writing stays (documented), nothing else.
    expect(temporaries(work)).toEqual(writing);
  }, 60000);

  it('rejects damaged input for -d and -t without output', async () => {
    const work = mkdtempSync(join(dir, 'damaged-'));
    const bytes = readFileSync(packed);
    const cases: [string, Buffer][] = [
      ['truncated', bytes.subarray(0, bytes.length - 30)],
      ['flipped', (() => { const b = Buffer.from(bytes); b[Math.floor(b.length * 0.6)] ^= 0x10; return b; })()],
      ['not lmz', Buffer.from('plain text, not compressed\n')],
      ['empty', Buffer.alloc(0)],
    ];
    for (const [name, b] of cases) {
      const f = join(work, `${name.replace(' ', '-')}.lmz`);
      writeFileSync(f, b);
      const d = await lmzip(['-d', ...FAST, f]);
      expect(d.code, `${name}: ${d.stderr}`).toBe(1);
      expect(d.stderr).toMatch(/\[(TRUNCATED|CORRUPT_HEADER|CORRUPT_DATA|CHECKSUM_MISMATCH|NOT_LMZ)\]/);
      expect(existsSync(f.slice(0, -4)), `${name}: no output`).toBe(false);
      expect(readFileSync(f).equals(b), `${name}: input kept`).toBe(true);
      const t = await lmzip(['-t', ...FAST, f]);
      expect(t.code, `${name} -t`).toBe(1);
    }
    expect(temporaries(work)).toEqual([]);
  }, 60000);

  it('exits 1 on a missing input and 2 on a usage error', async () => {
    const missing = await lmzip([...FAST, join(dir, 'nope.txt')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/FILE_NOT_FOUND|no such file/i);
    const usage = await lmzip(['--no-such-option']);
    expect(usage.code).toBe(2);
  }, 60000);
});
