/**
 * `npm run bench -- [options]`: the benchmark from the repository, writing to
 * bench/results/ (see docs/benchmark.md). `--help` lists the options.
 */
import { fileURLToPath } from 'node:url';
import { runBenchCommand } from '../src/bench/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
process.chdir(root);
const code = await runBenchCommand(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: { LMZIP_BENCH_OUT: 'bench/results', ...process.env },
});
process.exitCode = code;
