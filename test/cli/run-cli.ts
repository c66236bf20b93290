/**
 * Runs the real `lmzip` (dist/cli/main.js) as a child process for the CLI tests, and
 * drives its test hook (src/cli/test-hook.ts): wait until it says it paused at a
 * point, change the world, then resume it with SIGUSR2. No sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, STORIES } from '../helpers.js';

/** A small, fast model setting for file-handling tests (the model is not what is tested). */
export const FAST = ['-m', STORIES, '-T', '1', '--lanes', '2', '--ctx', '64', '-q'];

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export class CliRun {
  readonly child: ChildProcess;
  readonly done: Promise<Finished>;
  #stderr = '';
  #waiters: { pattern: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; pauseAt?: string[]; input?: Buffer }) {
    const env = { ...process.env, ...options.env, ...(options.pauseAt ? { LMZIP_TEST_PAUSE: options.pauseAt.join(',') } : {}) };
    this.child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    this.child.stdout!.on('data', (d: Buffer) => out.push(d));
    this.child.stderr!.on('data', (d: Buffer) => {
      this.#stderr += d.toString();
      this.#waiters = this.#waiters.filter((w) => (w.pattern.test(this.#stderr) ? (w.resolve(), false) : true));
    });
    if (options.input) this.child.stdin!.end(options.input);
    else this.child.stdin!.end();
    this.done = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        for (const w of this.#waiters) w.reject(new Error(`lmzip exited (${code ?? signal}) before printing ${w.pattern}: ${this.#stderr}`));
        resolve({ code, signal, stdout: Buffer.concat(out), stderr: this.#stderr });
      });
    });
  }

  /** Resolves once stderr matches `pattern`; rejects if the process ends first. */
  waitFor(pattern: RegExp): Promise<void> {
    if (pattern.test(this.#stderr)) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ pattern, resolve, reject }));
  }

  /** Waits until the CLI is paused at `point` (LMZIP_TEST_PAUSE). */
  paused(point: string): Promise<void> {
    return this.waitFor(new RegExp(`test hook: paused at ${point}\\n`));
  }

  /** Lets a paused CLI go on. */
  resume(): void {
    this.child.kill('SIGUSR2');
  }
}

/** Runs lmzip to the end. */
export function lmzip(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; input?: Buffer }): Promise<Finished> {
  return new CliRun(args, options).done;
}
