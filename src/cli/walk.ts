/**
 * The files a command works on: its operands, and with -r every regular file under
 * the directories among them, as gzip -r does — in name order, never following a
 * symbolic link, skipping (with a warning) links and special files met inside a
 * directory, and skipping silently the names the mode does not take: compressing
 * skips *.lmz (and resumable *.lmz.partial outputs), the other modes take *.lmz only.
 *
 * @example
 * for await (const item of operands(['notes', 'a.txt'], { recursive: true, mode: 'compress' }, warn)) …
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CliOptions } from './args.js';
import { SUFFIX } from './commands/compress.js';
import { partialPathFor } from './safe-files.js';

/** A file to work on, or a directory that could not be read (reported as a failure). */
export interface Operand {
  path: string;
  error?: unknown;
}

/** Whether the walk hands `name` to the command in this mode. */
function wanted(name: string, mode: CliOptions['mode']): boolean {
  if (mode === 'compress') return !name.endsWith(SUFFIX) && !name.endsWith(partialPathFor(SUFFIX));
  return name.endsWith(SUFFIX);
}

export async function* operands(files: string[], o: Pick<CliOptions, 'recursive' | 'mode'>, warn: (message: string) => void): AsyncGenerator<Operand> {
  for (const file of files) {
    if (o.recursive && file !== '-' && (await lstat(file).catch(() => undefined))?.isDirectory()) yield* walk(file, o.mode, warn);
    else yield { path: file }; // the command itself says what is wrong with a non-file
  }
}

async function* walk(dir: string, mode: CliOptions['mode'], warn: (message: string) => void): AsyncGenerator<Operand> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    yield { path: dir, error: e };
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path, mode, warn);
    else if (entry.isFile()) {
      if (wanted(entry.name, mode)) yield { path };
    } else warn(`${path}: ${entry.isSymbolicLink() ? 'is a symbolic link' : 'is not a regular file'} -- skipped`);
  }
}
