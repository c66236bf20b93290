/**
 * `lmzip --reindex FILE.lmz`: gives every member of FILE a seek index (a file written
 * to a pipe, or joined from parts written without one), in place and safely: the
 * index is added to a copy beside FILE, which then replaces FILE by rename, so FILE is
 * at every moment either the old file or the new one (docs/RELIABILITY.md). Nothing
 * is decoded: the block tables give the index (src/archive/reindex.ts).
 */
import { lstat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { reindexFile } from '../../archive/reindex.js';
import { scanArchive } from '../../archive/scan.js';
import { fileSource } from '../../archive/source.js';
import { ErrorCode, LmzipError } from '../../errors.js';
import type { FileRun } from '../file-run.js';
import { fileSystemError, printable } from '../output.js';
import { InputFile, TemporaryOutput } from '../safe-files.js';

/** Members that a reindex gives an index: version 2 without one (version 1 cannot have one). */
export async function membersWithoutIndex(input: InputFile): Promise<number> {
  const members = await scanArchive({ size: input.size, read: (o, n) => input.read(o, n), close: async () => {} });
  return members.filter((m) => m.version === 2 && !m.indexed).length;
}

export async function reindexCommand(run: FileRun, path: string): Promise<void> {
  // Replacing FILE by rename would cut it from its other hard links: only with -f.
  const input = await InputFile.open(path, { followSymlinks: false, allowHardLinks: run.options.force });
  try {
    const missing = await membersWithoutIndex(input);
    if (missing === 0) {
      if (run.options.verbose) run.info(`${printable(path)}: already indexed`);
      return;
    }
    const out = await TemporaryOutput.create(path);
    try {
      try {
        await pipeline(input.readStream(), out.writeStream());
        await reindexFile(out.path);
      } catch (e) {
        throw fileSystemError(e, path, 'cannot write');
      }
      await out.reopen(); // reindexFile may have written a new file and renamed it over the copy
      await out.finish(input.stat);
      await input.checkUnchanged();
      const now = await lstat(path, { bigint: true }).catch(() => undefined);
      if (!now || now.ino !== input.stat.ino || now.dev !== input.stat.dev)
        throw new LmzipError(ErrorCode.INPUT_CHANGED, `${path} was replaced while lmzip worked; it was kept`);
      await out.publish({ force: true });
      if (run.options.verbose) run.info(`${printable(path)}: index added to ${missing} member(s)`);
    } finally {
      await out.close();
    }
  } finally {
    await input.close();
  }
}
