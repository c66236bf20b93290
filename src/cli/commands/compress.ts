/**
 * `lmzip FILE` and `lmzip < in > out`: compression, with the file safety rules of
 * ../safe-files.ts. Before an input is removed, the new file is decoded again and
 * compared with what was read (unless --no-verify).
 */
import { createHash, type Hash } from 'node:crypto';
import { basename } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CompressStats } from '../../codec.js';
import { ErrorCode, LmzipError } from '../../errors.js';
import type { Model } from '../../model.js';
import { findResumePoint, type ResumePoint } from '../../archive/resume.js';
import { resolveShard, shardName, shardRange } from '../../shard.js';
import { createCompressStream, createDecompressStream, type CompressStreamOptions } from '../../stream.js';
import type { FileRun } from '../file-run.js';
import { discardSink, fileSystemError, printable, stdoutSink } from '../output.js';
import { checkTarget, InputFile, publishAndRemoveInput, TemporaryOutput } from '../safe-files.js';
import { pauseAt } from '../test-hook.js';

export const SUFFIX = '.lmz';

/** Compressed data is not written to a terminal unless forced (gzip's rule). */
export function refuseTerminal(run: FileRun): void {
  if (run.io.stdout.isTTY && !run.options.force)
    throw new LmzipError(ErrorCode.INVALID_ARGUMENT, 'compressed data not written to a terminal (use -f to force)');
}

/** Standard input to standard output. */
export async function compressStdio(run: FileRun): Promise<void> {
  refuseTerminal(run);
  const options = await run.compressOptions(undefined);
  await pipeline(run.io.stdin, createCompressStream(options), stdoutSink(run.io.stdout));
}

/**
 * FILE to FILE.lmz (or -o, or -c); with --shard one part of FILE to its shard file,
 * with --resume through FILE.lmz.partial (resumeFrom, below; docs/CORPORA.md).
 */
export async function compressFile(run: FileRun, path: string): Promise<void> {
  const o = run.options;
  if (path.endsWith(SUFFIX) && !o.force && !o.stdout)
    throw new LmzipError(ErrorCode.INVALID_ARGUMENT, `already has ${SUFFIX} suffix -- unchanged`);
  if (o.stdout) refuseTerminal(run);
  // A shard's input is shared by all workers: never removed.
  const removesInput = !o.keep && !o.stdout && o.shard === undefined;
  await pauseAt('input-open', run.io);
  const input = await InputFile.open(path, { followSymlinks: o.force || o.stdout || o.shard !== undefined, allowHardLinks: o.force || !removesInput });
  try {
    const shard = o.shard === undefined ? undefined : resolveShard(o.shard, run.io.env);
    const [start, end] = shard ? await shardRange(input, shard.index, shard.count) : [0, input.size];
    const target = o.stdout ? undefined : (o.output ?? (shard ? shardName(path, shard.index, shard.count) : path + SUFFIX));
    // A retried shard replaces its own part (idempotent); anything else is never clobbered without -f.
    const force = o.force || shard !== undefined;
    if (target) await checkTarget(target, input, { force });
    const options = await run.compressOptions(end - start);
    if (shard && o.verbose) run.info(`${printable(path)}: shard ${shard.index} of ${shard.count}: bytes ${start} to ${end}`);
    const started = performance.now();
    if (!target) {
      const progress = run.fileProgress(basename(path), input.size);
      const stream = createCompressStream({ ...options, onProgress: progress && ((p) => progress.update(p.bytesIn, p.bytesTotal, p.bytesOut)) });
      await pipeline(input.readStream(), stream, stdoutSink(run.io.stdout));
      progress?.finish();
      await input.checkUnchanged(); // the data already went out: report, at least
      report(run, path, stream.stats, started);
      return;
    }
    const out = o.resume ? await TemporaryOutput.openPartial(target) : await TemporaryOutput.create(target);
    try {
      const inputHash = createHash('sha256');
      const resumed = o.resume ? await resumeFrom(run, out, input, [start, end], options, inputHash) : undefined;
      const from = start + (resumed?.inputOffset ?? 0);
      const progress = run.fileProgress(basename(path), end - start, from - start);
      const stream = createCompressStream({ ...options, resume: resumed,
        onProgress: progress && ((p) => progress.update(p.bytesIn, p.bytesTotal, (resumed?.keepBytes ?? 0) + p.bytesOut)) });
      try {
        await pipeline(input.readStream(from, end), hashTap(inputHash), stream, out.writeStream(resumed?.keepBytes ?? 0));
      } catch (e) {
        throw fileSystemError(e, out.keptOnFailure ? out.path : target, 'cannot write');
      }
      progress?.finish(undefined, (await out.handle.stat()).size);
      await pauseAt('output-written', run.io);
      if (o.verify && (removesInput || resumed)) await verify(run, out, inputHash.digest('hex'), options.model);
      await publishAndRemoveInput(run.io, input, out,
        { force, removeInput: removesInput, afterPublish: () => report(run, path, stream.stats, started) });
    } finally {
      await out.close();
    }
  } finally {
    await input.close();
  }
}

/**
 * --resume: how much of the partial output `out` to keep (findResumePoint checks its
 * header against these settings and each block's CRC against the input), truncated
 * to that; the kept input bytes are fed to `inputHash` so verification covers all.
 * Undefined: nothing kept, the partial output is emptied and written afresh.
 */
async function resumeFrom(run: FileRun, out: TemporaryOutput, input: InputFile, [start, end]: [number, number],
  options: CompressStreamOptions, inputHash: Hash): Promise<ResumePoint | undefined> {
  const part = { size: end - start, read: (offset: number, length: number) => input.read(start + offset, Math.min(length, end - start - offset)) };
  const point = (await out.handle.stat()).size > 0 ? await findResumePoint(out.path, part, options) : undefined;
  await out.handle.truncate(point?.keepBytes ?? 0);
  if (!point || point.keepBytes === 0) return undefined;
  await pipeline(input.readStream(start, start + point.inputOffset), hashTap(inputHash), discardSink());
  run.warn(`${printable(input.path)}: resuming from ${printable(out.path)}: ${point.blocks.length} complete block(s) kept, ` +
      `${point.inputOffset} of ${end - start} bytes done`);
  return point;
}

/** A pass-through that hashes what flows through it. */
function hashTap(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
}

/** Decodes the freshly written file (through its own descriptor) and compares it with the input's hash. */
async function verify(run: FileRun, out: TemporaryOutput, expectedSha256: string, model: Model): Promise<void> {
  const hash = createHash('sha256');
  await pipeline(out.readStream(), createDecompressStream(await run.decompressOptions(model)), hashTap(hash), discardSink());
  if (hash.digest('hex') !== expectedSha256)
    throw new LmzipError(ErrorCode.CORRUPT_DATA, 'verification failed: the compressed file does not decode to the input; the input was kept (please report this)');
}

function report(run: FileRun, path: string, stats: CompressStats | undefined, started: number): void {
  if (!run.options.verbose || !stats) return;
  const seconds = (performance.now() - started) / 1000;
  const bpb = stats.inputBytes ? ((stats.outputBytes * 8) / stats.inputBytes).toFixed(3) : '0';
  const saved = stats.inputBytes ? (100 * (1 - stats.outputBytes / stats.inputBytes)).toFixed(1) : '0.0';
  run.info(`${printable(path)}: ${stats.inputBytes} -> ${stats.outputBytes} bytes, ${bpb} bits/byte, ${saved}% saved, ` +
    `${stats.tokens} tokens in ${seconds.toFixed(2)} s (${Math.round(stats.tokens / Math.max(seconds, 1e-9))} tokens/s), ` +
    `chunks: ${stats.modelChunks} model, ${stats.brotliChunks} brotli, ${stats.storedChunks} stored` +
    (stats.modelBits > stats.tableBits ? `, mixing saved ${Math.round((stats.modelBits - stats.tableBits) / 8)} bytes` +
      ` (${(100 * (1 - stats.tableBits / stats.modelBits)).toFixed(1)}% of the model's ${Math.round(stats.modelBits / 8)})` : ''));
}
