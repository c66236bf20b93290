/**
 * Ending lmzip early, promptly and cleanly: on SIGINT, SIGTERM, SIGHUP and SIGQUIT,
 * and when standard output fails. The work in progress is cancelled, every temporary
 * file is removed at once (synchronously) and the process exits: 128 + the signal's
 * number for a signal, 141 (as if killed by SIGPIPE, like gzip) and no message for a
 * reader that went away, 1 for another output error.
 *
 * Nothing waits for the running job: each native call stops at its next step (cancel
 * flag), a model load between tensors, hashing between 1 MiB reads, and no input is
 * ever opened in a way that blocks, so the exit is not held up by a worker thread.
 * The signal handlers are removed first, so a second signal acts at once.
 *
 * @example
 * const shutdown = new Shutdown(process.stderr);
 * try { return await work(shutdown.signal); } finally { shutdown.dispose(); }
 */
import { constants } from 'node:os';
import { describeError, StdoutError } from './output.js';
import { removeTemporaryFilesNow } from './safe-files.js';

const HANDLED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;
/** The exit status of a process killed by SIGPIPE, as a shell reports gzip's. */
export const EXIT_BROKEN_PIPE = 128 + constants.signals.SIGPIPE;

export class Shutdown {
  readonly #controller = new AbortController();
  readonly #stderr: NodeJS.WritableStream;
  readonly #exit: (code: number) => never;
  #interruptMessage = 'partial output removed, inputs unchanged';
  #stdoutReported = false;
  #onSignal = (name: NodeJS.Signals) => this.now(128 + constants.signals[name], `interrupted by ${name}; ${this.#interruptMessage}`);

  constructor(stderr: NodeJS.WritableStream, exit: (code: number) => never = process.exit) {
    this.#stderr = stderr;
    this.#exit = exit;
    for (const name of HANDLED) process.on(name, this.#onSignal);
  }

  /** Aborted when lmzip must stop. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** What an interrupted command says after "interrupted by SIGxxx; ". */
  set interruptMessage(message: string) {
    this.#interruptMessage = message;
  }

  /**
   * Watches standard output: a write error ends the run at once (EPIPE quietly,
   * anything else with one line), whether or not a command was waiting on it.
   */
  watchStdout(stdout: NodeJS.WritableStream): void {
    stdout.on('error', (e) => this.stdoutFailed(new StdoutError(e)));
  }

  /** Reports a standard-output failure once and stops. */
  stdoutFailed(e: StdoutError): never {
    if (e.brokenPipe) this.now(EXIT_BROKEN_PIPE);
    const first = !this.#stdoutReported;
    this.#stdoutReported = true;
    return this.now(1, first ? describeError(e) : undefined);
  }

  /** Cancels everything, removes temporary files, says why (if given) and exits. */
  now(code: number, message?: string): never {
    this.dispose();
    this.#controller.abort();
    removeTemporaryFilesNow();
    if (message) this.#stderr.write(`lmzip: ${message}\n`);
    return this.#exit(code);
  }

  /** Removes the signal handlers (a later signal has its default effect). */
  dispose(): void {
    for (const name of HANDLED) process.off(name, this.#onSignal);
  }
}
