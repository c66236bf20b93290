/**
 * Running a program as a child process and measuring it: wall time from Node's
 * monotonic clock around the spawn, peak resident memory from GNU `time`
 * (`/usr/bin/time -f %M`, the child's ru_maxrss in KiB) when it is installed.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';

/** Where GNU time lives on Debian (package `time`); null when it is not installed. */
export const GNU_TIME: string | null = findGnuTime();

function findGnuTime(): string | null {
  for (const p of ['/usr/bin/time', '/bin/time']) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* try the next one */
    }
  }
  return null;
}

/** The absolute path of `name` on PATH, or null. */
export function which(name: string, envPath = process.env.PATH ?? ''): string | null {
  for (const dir of envPath.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

export interface TimedRunOptions {
  /** A file given to the child as its standard input. */
  stdinFile?: string;
  /** A file that receives the child's standard output (created or truncated). */
  stdoutFile?: string;
  /** Capture standard output in memory instead (for small outputs such as JSON). */
  captureStdout?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the child after this many milliseconds. */
  timeoutMs?: number;
}

export interface TimedRunResult {
  /** Exit status; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Wall-clock seconds from spawn to exit (Node's monotonic clock). */
  seconds: number;
  /** Peak resident set size of the child in KiB (GNU time %M), or null without GNU time. */
  peakRssKiB: number | null;
  /** Captured standard output when `captureStdout` was set. */
  stdout: string;
  /** The last 4 KB of standard error. */
  stderr: string;
}

/**
 * Runs `command args…` once and measures it. Never throws for a failing child:
 * the caller checks `code`.
 */
export async function runTimed(
  command: string,
  args: readonly string[],
  opts: TimedRunOptions = {},
): Promise<TimedRunResult> {
  const timeFile = GNU_TIME ? join(tmpdir(), `lmzip-bench-time-${randomBytes(6).toString('hex')}`) : null;
  const file = GNU_TIME ?? command;
  const argv = GNU_TIME ? ['-f', '%M', '-o', timeFile!, command, ...args] : [...args];
  const inFd = opts.stdinFile ? openSync(opts.stdinFile, 'r') : null;
  const outFd = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : null;
  let stdout = '';
  let stderr = '';
  const started = process.hrtime.bigint();
  try {
    const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; end: bigint }>(
      (resolve, reject) => {
        // Its own process group, so that a timeout kills the program under GNU time too.
        const child = spawn(file, argv, {
          cwd: opts.cwd,
          env: opts.env ?? process.env,
          stdio: [inFd ?? 'ignore', outFd ?? (opts.captureStdout ? 'pipe' : 'ignore'), 'pipe'],
          detached: true,
        });
        let timer: NodeJS.Timeout | undefined;
        if (opts.timeoutMs) {
          timer = setTimeout(() => {
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              child.kill('SIGKILL');
            }
          }, opts.timeoutMs);
        }
        child.stdout?.setEncoding('utf8');
        child.stdout?.on('data', (d: string) => (stdout += d));
        child.stderr!.setEncoding('utf8');
        child.stderr!.on('data', (d: string) => {
          stderr = (stderr + d).slice(-4096);
        });
        child.on('error', reject);
        child.on('close', (code, signal) => {
          if (timer) clearTimeout(timer);
          resolve({ code, signal, end: process.hrtime.bigint() });
        });
      },
    );
    const seconds = Number(result.end - started) / 1e9;
    let peakRssKiB: number | null = null;
    let code = result.code;
    if (timeFile) {
      try {
        const text = readFileSync(timeFile, 'utf8');
        // GNU time writes "Command exited with non-zero status N" before the format line.
        const lines = text.trim().split('\n');
        const last = Number(lines[lines.length - 1]);
        if (Number.isFinite(last)) peakRssKiB = last;
      } catch {
        /* killed before GNU time wrote the file */
      }
    }
    return { code, signal: result.signal, seconds, peakRssKiB, stdout, stderr };
  } finally {
    if (inFd !== null) closeSync(inFd);
    if (outFd !== null) closeSync(outFd);
    if (timeFile) rmSync(timeFile, { force: true });
  }
}

/** Runs a command and returns its standard output and error joined, or null if it cannot start. */
export async function runQuiet(command: string, args: readonly string[]): Promise<string | null> {
  return new Promise((resolve) => {
    let out = '';
    let child;
    try {
      child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {
      resolve(null);
      return;
    }
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.stderr.on('data', (d: string) => (out += d));
    child.on('error', () => resolve(null));
    child.on('close', () => resolve(out));
  });
}
