/**
 * `lmzip bench`: the benchmark against gzip, xz, zstd, brotli (src/bench/, loaded
 * only when asked for).
 */
import type { Io } from '../file-run.js';

export async function runBench(args: string[], io: Io): Promise<number> {
  const { runBenchCommand } = await import('../../bench/index.js');
  return runBenchCommand(args, io);
}
