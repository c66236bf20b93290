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
import { createCompressStream, createDecompressStream } from '../../stream.js';
import type { FileRun } from '../file-run.js';
import { discardSink, fileSystemError, printable, stdoutSink } from '../output.js';
import { checkTarget, InputFile, removeInput, TemporaryOutput } from '../safe-files.js';
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

/** FILE to FILE.lmz (or -o, or -c). */
export async function compressFile(run: FileRun, path: string): Promise<void> {
  const o = run.options;
  if (path.endsWith(SUFFIX) && !o.force && !o.stdout)
    throw new LmzipError(ErrorCode.INVALID_ARGUMENT, `already has ${SUFFIX} suffix -- unchanged`);
  if (o.stdout) refuseTerminal(run);
  const removesInput = !o.keep && !o.stdout;
  await pauseAt('input-open', run.io);
  const input = await InputFile.open(path, { followSymlinks: o.force || o.stdout, allowHardLinks: o.force || !removesInput });
  try {
    const target = o.stdout ? undefined : (o.output ?? path + SUFFIX);
    if (target) await checkTarget(target, input, { force: o.force });
    const options = await run.compressOptions(input.size);
    const bar = run.progressBar(basename(path), input.size);
    const stream = createCompressStream({ ...options, onProgress: bar && ((p) => bar.update(p.bytesIn, p.bytesTotal)) });
    const started = performance.now();
    if (!target) {
      await pipeline(input.readStream(), stream, stdoutSink(run.io.stdout));
      bar?.finish();
      await input.checkUnchanged(); // the data already went out: report, at least
      report(run, path, stream.stats, started);
      return;
    }
    const out = await TemporaryOutput.create(target);
    try {
      const inputHash = createHash('sha256');
      try {
        await pipeline(input.readStream(), hashTap(inputHash), stream, out.writeStream());
      } catch (e) {
        throw fileSystemError(e, target, 'cannot write');
      }
      bar?.finish();
      await pauseAt('output-written', run.io);
      if (o.verify && removesInput) await verify(run, out, inputHash.digest('hex'), options.model);
      await out.finish(input.stat);
      await pauseAt('before-publish', run.io);
      await input.checkUnchanged();
      await out.publish({ force: o.force });
      report(run, path, stream.stats, started);
      if (removesInput) {
        await pauseAt('before-remove', run.io);
        await removeInput(input, out);
      }
    } finally {
      await out.close();
    }
  } finally {
    await input.close();
  }
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
