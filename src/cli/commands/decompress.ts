/**
 * `lmzip -d FILE.lmz` and `lmzip -t FILE.lmz`: decompression and integrity tests,
 * with the file safety rules of ../safe-files.ts. The CLI streams to disk and sets
 * no output limit of its own (files over 4 GiB decode).
 */
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, LmzipError } from '../../errors.js';
import { createDecompressStream } from '../../stream.js';
import type { FileRun } from '../file-run.js';
import { discardSink, fileSystemError, printable, stdoutSink } from '../output.js';
import { checkTarget, InputFile, removeInput, TemporaryOutput } from '../safe-files.js';
import { pauseAt } from '../test-hook.js';
import { SUFFIX } from './compress.js';

/** Standard input to standard output (or nowhere, for -t). */
export async function decompressStdio(run: FileRun): Promise<void> {
  const testing = run.options.mode === 'test';
  const sink = testing ? discardSink() : stdoutSink(run.io.stdout);
  await pipeline(run.io.stdin, createDecompressStream(await run.decompressOptions()), sink);
  if (testing && run.options.verbose) run.info('(stdin): OK');
}

/** FILE.lmz to FILE (or -o, or -c), or only checked (-t). */
export async function decompressFile(run: FileRun, path: string): Promise<void> {
  const o = run.options;
  const testing = o.mode === 'test';
  const toFile = !testing && !o.stdout;
  if (toFile && o.output === undefined && !path.endsWith(SUFFIX))
    throw new LmzipError(ErrorCode.INVALID_ARGUMENT, `unknown suffix -- ignored (expected ${SUFFIX}; use -o or -c)`);
  const removesInput = toFile && !o.keep;
  await pauseAt('input-open', run.io);
  const input = await InputFile.open(path, { followSymlinks: o.force || !toFile, allowHardLinks: o.force || !removesInput });
  try {
    const target = toFile ? (o.output ?? path.slice(0, -SUFFIX.length)) : undefined;
    if (target) await checkTarget(target, input, { force: o.force });
    const stream = createDecompressStream(await run.decompressOptions());
    const bar = run.progressBar(basename(path), input.size);
    let read = 0;
    // Reading starts with the 'data' listener: call this only right in a pipeline.
    const source = () => input.readStream().on('data', (chunk) => {
      read += chunk.length;
      bar?.update(read, input.size);
    });
    if (!target) {
      await pipeline(source(), stream, testing ? discardSink() : stdoutSink(run.io.stdout));
      bar?.finish();
      if (testing && o.verbose) run.info(`${printable(path)}: OK`);
      return;
    }
    const out = await TemporaryOutput.create(target);
    try {
      try {
        await pipeline(source(), stream, out.writeStream());
      } catch (e) {
        throw fileSystemError(e, target, 'cannot write');
      }
      bar?.finish();
      await out.finish(input.stat);
      await pauseAt('before-publish', run.io);
      await input.checkUnchanged();
      await out.publish({ force: o.force });
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
