/**
 * `lmzip -d FILE.lmz` and `lmzip -t FILE.lmz`: decompression and integrity tests,
 * with the file safety rules of ../safe-files.ts. The CLI streams to disk and sets
 * no output limit of its own (files over 4 GiB decode).
 */
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, LmzipError } from '../../errors.js';
import { open } from '../../archive/open.js';
import { createDecompressStream } from '../../stream.js';
import type { FileRun } from '../file-run.js';
import { discardSink, fileSystemError, printable, stdoutSink } from '../output.js';
import { checkTarget, InputFile, publishAndRemoveInput, TemporaryOutput } from '../safe-files.js';
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
    const stream = createDecompressStream(await run.decompressOptions(await run.modelForFile(path)));
    const bar = run.fileProgress(basename(path), input.size);
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
      await publishAndRemoveInput(run.io, input, out, { force: o.force, removeInput: removesInput });
    } finally {
      await out.close();
    }
  } finally {
    await input.close();
  }
}

/** The most original bytes --range decodes before writing them out. */
const RANGE_STEP = 4 << 20;

/**
 * `lmzip -d --range OFFSET:LENGTH FILE.lmz`: original bytes [OFFSET, OFFSET+LENGTH),
 * clipped to the file's size, to standard output. Only the blocks that cover them are
 * read and decoded (open().read(), through the seek index or a scan of block tables).
 */
export async function decompressRange(run: FileRun, path: string): Promise<void> {
  const { offset, length } = run.options.range!;
  const model = run.options.model ? await run.model(run.options.model) : await run.modelForFile(path);
  const archive = await open(path, { model, threads: run.options.threads, gpuLayers: run.options.gpuLayers,
    backend: run.options.backend, signal: run.signal }).catch((e) => {
    throw fileSystemError(e, path, 'cannot read');
  });
  try {
    const end = Math.min(archive.size, offset + Math.min(length, Number.MAX_SAFE_INTEGER - offset));
    const sink = stdoutSink(run.io.stdout);
    await pipeline(async function* () {
      for (let pos = offset; pos < end; pos += RANGE_STEP) yield await archive.read(pos, Math.min(RANGE_STEP, end - pos));
    }, sink);
    if (run.options.verbose) run.info(`${printable(path)}: bytes ${Math.min(offset, archive.size)} to ${Math.max(end, Math.min(offset, archive.size))} of ${archive.size}`);
  } finally {
    await archive.close();
  }
}
