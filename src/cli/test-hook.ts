/**
 * A test hook, for the race tests only (test/reliability/file-safety.test.ts):
 * `LMZIP_TEST_PAUSE=<point>[,<point>…]` makes the CLI stop at each named point, print
 * `lmzip: test hook: paused at <point>` on stderr and wait for SIGUSR2 before going on.
 * A test thus changes files at an exact moment (append to the input, create the
 * target, swap in a symbolic link, send a signal) without sleeping. Nothing else
 * reads the variable; unset, the hook costs one lookup.
 *
 * Points: `input-open` (before the input is opened), `output-written` (the temporary
 * file is complete, before verification), `before-publish`, `before-remove` (the
 * output is published, the input not yet removed).
 *
 * @example
 * await pauseAt('before-publish', io);
 */
export type PausePoint = 'input-open' | 'output-written' | 'before-publish' | 'before-remove';

/** What the hook needs of a run's I/O. */
export type PauseIo = { env: NodeJS.ProcessEnv; stderr: NodeJS.WritableStream };

export async function pauseAt(point: PausePoint, io: PauseIo): Promise<void> {
  const points = io.env.LMZIP_TEST_PAUSE;
  if (!points || !points.split(',').includes(point)) return;
  // A signal listener does not keep Node running: the timer does, until SIGUSR2.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const resumed = new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()));
  io.stderr.write(`lmzip: test hook: paused at ${point}\n`);
  await resumed;
  clearInterval(keepAlive);
}
