#!/usr/bin/env node
/**
 * The lmzip command: picks the subcommand and sets up what every run shares —
 * signals and standard-output failures end it promptly and cleanly (./signals.ts),
 * and any error that escapes a command is one line with its code.
 *
 *   lmzip [OPTION]... [FILE]...   ./commands/files.ts (compress, -d, -t, -l)
 *   lmzip models …                ./commands/models.ts
 *   lmzip bench …                 ./commands/bench.ts
 *   lmzip join OUT PART…          ./commands/join.ts
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runBench } from './commands/bench.js';
import { runFileCommand } from './commands/files.js';
import { runJoinCommand } from './commands/join.js';
import { runModelsCommand } from './commands/models.js';
import type { Io } from './file-run.js';
import { describeError } from './output.js';
import { Shutdown } from './signals.js';

/**
 * Runs lmzip with these arguments; resolves to the exit status.
 *
 * @example
 * process.exitCode = await main(['-d', 'a.txt.lmz'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
 */
export async function main(argv: string[], io: Io): Promise<number> {
  const shutdown = new Shutdown(io.stderr);
  shutdown.watchStdout(io.stdout);
  try {
    switch (argv[0]) {
      case 'models':
        shutdown.interruptMessage = 'an unfinished download is kept and resumes next time';
        return await runModelsCommand(argv.slice(1), { ...io, signal: shutdown.signal });
      case 'bench':
        return await runBench(argv.slice(1), io);
      case 'join':
        return await runJoinCommand(argv.slice(1), io);
      case 'analyze':
        return await (await import('./commands/analyze.js')).runAnalyzeCommand(argv.slice(1), io);
      default:
        return await runFileCommand(argv, io, shutdown);
    }
  } catch (e) {
    io.stderr.write(`lmzip: ${describeError(e)}\n`);
    return 1;
  } finally {
    shutdown.dispose();
  }
}

const invokedDirectly = process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (invokedDirectly) {
  let settled = false;
  // Node exits when nothing is left to wait for; if that happened before lmzip was done,
  // the run is incomplete and must not look like a success.
  process.once('beforeExit', () => {
    if (settled) return;
    process.stderr.write('lmzip: stopped before finishing (internal error) [NATIVE_ERROR]\n');
    process.exitCode = 1;
  });
  main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      settled = true;
      process.exitCode = code;
    },
    (e) => {
      settled = true;
      process.stderr.write(`lmzip: ${describeError(e)}\n`);
      process.exitCode = 1;
    },
  );
}
