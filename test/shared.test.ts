/**
 * The test files that need the shared models and corpus (test/shared.ts): each is
 * reported here as skipped, with the reason, when they are missing (vitest.config.ts
 * then leaves it out of the run). The list is checked against the test files, so a
 * new file that uses the models cannot be forgotten and fail on a clone without them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NEEDS_SHARED, REPO, sharedMissing } from './shared.js';

/** What a test file that reads the shared folder mentions (helpers' exports or the path itself). */
const USES_SHARED = /\b(STORIES|RANDOM_LLAMA|GGUF_V1|MODELS|CORPUS|SHARED|corpusFiles|storiesModel)\b|\.\.\/shared\b/;

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [relative(REPO, join(dir, e.name))] : []);
}

describe('test files that need the shared models and corpus', () => {
  for (const file of NEEDS_SHARED) {
    it(file, (ctx) => {
      if (sharedMissing) ctx.skip(sharedMissing);
      expect(existsSync(join(REPO, file)), `${file} is listed in test/shared.ts but does not exist`).toBe(true);
    });
  }

  it('are all listed in test/shared.ts', () => {
    const unlisted = testFiles(join(REPO, 'test'))
      .filter((f) => f !== 'test/shared.test.ts' && !NEEDS_SHARED.includes(f))
      .filter((f) => USES_SHARED.test(readFileSync(join(REPO, f), 'utf8')));
    expect(unlisted, 'these test files use the shared models or corpus: add them to NEEDS_SHARED').toEqual([]);
  });
});
