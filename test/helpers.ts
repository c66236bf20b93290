/**
 * Paths and small utilities shared by the tests. Models and corpora live in
 * $LMZIP_SHARED_DIR or ../shared (test/shared.ts); files that use them are listed there.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { REPO, SHARED } from './shared.js';

export { REPO, SHARED };
export const MODELS = join(SHARED, 'models');
export const CORPUS = join(SHARED, 'corpus');
export const STORIES = join(MODELS, 'stories260K.gguf');
export const RANDOM_LLAMA = join(MODELS, 'llama-2-tiny-random.gguf');
export const GGUF_V1 = join(MODELS, 'stories260K-f32-ggufv1.gguf');
export const VOCABS = join(REPO, 'vendor/llama.cpp/models');
export const CLI = join(REPO, 'dist/cli/main.js');

export function vocab(name: string): string {
  return join(VOCABS, `ggml-vocab-${name}.gguf`);
}

export function corpusFiles(): string[] {
  return readdirSync(CORPUS).filter((f) => f !== 'MANIFEST.md').sort();
}

export function tempDir(prefix = 'lmzip-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A small deterministic PRNG (mulberry32) for property tests. */
export { prng as rng } from './prng.js';

/**
 * Feeds `file` to a streaming parser in pieces of `pieceSize` bytes and counts the bytes
 * the parser copies with Buffer.concat, so linear buffering is tested by work done, not
 * by time. `push` returns how many structures a piece completed. Stops early once the
 * copying is clearly not linear (8× the file).
 * @example
 * const { found, copied } = feedInPieces(file, 1 << 16, (p) => reader.push(p).length);
 */
export function feedInPieces(file: Buffer, pieceSize: number, push: (piece: Buffer) => number): { found: number; copied: number } {
  const concat = Buffer.concat;
  let copied = 0;
  const spy = vi.spyOn(Buffer, 'concat').mockImplementation((list, total) => {
    const out = concat(list, total);
    copied += out.length;
    return out;
  });
  let found = 0;
  try {
    for (let i = 0; i < file.length && copied <= 8 * file.length; i += pieceSize) found += push(file.subarray(i, i + pieceSize));
  } finally {
    spy.mockRestore();
  }
  return { found, copied };
}
