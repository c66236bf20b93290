/**
 * Paths and small utilities shared by the tests. Models and corpora live in
 * $LMZIP_SHARED_DIR or ../shared (test/shared.ts); files that use them are listed there.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

