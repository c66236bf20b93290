/**
 * `lmzip join [-f] [-v] OUT.lmz PART.lmz...`: one .lmz file from parts (the shards of
 * `--shard`, or any .lmz files), without decoding or re-encoding anything. The result
 * is the parts' bytes in the order given — what `cat` writes, which is also valid
 * (docs/FORMAT.md, "Concatenation") — with a seek index added to every member that
 * lacks one, so the joined file keeps random access. Before writing, join checks that
 * each part is a complete .lmz file and, when the parts carry shard names
 * (NAME.shard-I-of-N.lmz), that all N are there, in order. The parts are kept; OUT is
 * written like any output (a temporary file, never clobbered without -f).
 */
import { pipeline } from 'node:stream/promises';
import { reindexFile } from '../../archive/reindex.js';
import { ErrorCode, LmzipError, toLmzipError } from '../../errors.js';
import { parseShardName } from '../../shard.js';
import type { Io } from '../file-run.js';
import { describeError, fileSystemError, printable } from '../output.js';
import { checkTarget, InputFile, TemporaryOutput } from '../safe-files.js';
import { membersWithoutIndex } from './reindex.js';

export const JOIN_HELP = `Usage: lmzip join [-f] [-v] OUT.lmz PART.lmz...
Join .lmz files (e.g. the shards written by lmzip --shard I/N) into OUT.lmz, which
decodes to the parts' contents one after another and has a seek index for random
access. Nothing is decoded or re-encoded. Parts named NAME.shard-I-of-N.lmz must be
all N, in order (a shell glob lists them so). The parts are kept.

  -f, --force     overwrite OUT.lmz if it exists
  -v, --verbose   say what was joined
  -h, --help      show this help`;

/** Refuses a shard set with a part missing, repeated or out of order. */
function checkShardSet(parts: string[]): void {
  const shards = parts.map(parseShardName);
  if (shards.some((s) => s === undefined)) return; // not all shard names: the order given is the order
  const count = shards[0]!.count;
  shards.forEach((s, i) => {
    if (s!.count !== count) throw new LmzipError(ErrorCode.INVALID_ARGUMENT, `${parts[i]} is a shard of ${s!.count}, not of ${count}`);
    if (s!.index !== i)
      throw new LmzipError(ErrorCode.INVALID_ARGUMENT, i < count ? `shard ${i} of ${count} is missing (or out of order): found ${parts[i]}` : `${parts[i]}: more parts than ${count}`);
  });
  if (parts.length !== count) throw new LmzipError(ErrorCode.INVALID_ARGUMENT, `only ${parts.length} of ${count} shards given: shard ${parts.length} is missing`);
}

/**
 * @example
 * process.exitCode = await runJoinCommand(['corpus.lmz', 'corpus.shard-0000-of-0002.lmz', 'corpus.shard-0001-of-0002.lmz'], io);
 */
export async function runJoinCommand(argv: string[], io: Io): Promise<number> {
  let force = false;
  let verbose = false;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') names.push(...argv.slice(i + 1)), (i = argv.length);
    else if (a === '-f' || a === '--force') force = true;
    else if (a === '-v' || a === '--verbose') verbose = true;
    else if (a === '-h' || a === '--help') return io.stdout.write(`${JOIN_HELP}\n`), 0;
    else if (a.startsWith('-') && a !== '-') return usage(io, `unknown option ${a}`);
    else names.push(a);
  }
  if (names.length < 2) return usage(io, 'join needs OUT.lmz and at least one part');
  const [target, ...parts] = names;
  try {
    await join(target, parts, force, verbose, io);
    return 0;
  } catch (e) {
    io.stderr.write(`lmzip: join ${printable(target)}: ${describeError(e)}\n`);
    return 1;
  }
}

function usage(io: Io, message: string): number {
  io.stderr.write(`lmzip: ${printable(message)}\nTry 'lmzip join --help' for more information.\n`);
  return 2;
}

/** An error about one part, named in its message. */
function about(part: string, e: unknown): LmzipError {
  const err = toLmzipError(fileSystemError(e, part, 'cannot read'));
  return new LmzipError(err.code, `${part}: ${err.message}`, { cause: e });
}

async function join(target: string, parts: string[], force: boolean, verbose: boolean, io: Io): Promise<void> {
  checkShardSet(parts);
  const inputs: InputFile[] = [];
  try {
    let missing = 0;
    for (const part of parts) {
      const input = await InputFile.open(part, { followSymlinks: true, allowHardLinks: true }).catch((e) => Promise.reject(about(part, e)));
      inputs.push(input);
      await checkTarget(target, input, { force });
      missing += await membersWithoutIndex(input).catch((e) => Promise.reject(about(part, e))); // also checks that the part is whole
    }
    const out = await TemporaryOutput.create(target);
    try {
      try {
        await pipeline(async function* () {
          for (const input of inputs) yield* input.readStream();
        }, out.writeStream());
        if (missing) {
          await reindexFile(out.path);
          await out.reopen(); // reindexFile may have renamed a new file over the temporary one
        }
      } catch (e) {
        throw fileSystemError(e, target, 'cannot write');
      }
      await out.finish(inputs[0].stat);
      for (const input of inputs) await input.checkUnchanged();
      await out.publish({ force });
    } finally {
      await out.close();
    }
    if (verbose) io.stderr.write(`lmzip: ${printable(target)}: joined ${parts.length} part(s)${missing ? `, index added to ${missing} member(s)` : ''}\n`);
  } finally {
    for (const input of inputs) await input.close();
  }
}
