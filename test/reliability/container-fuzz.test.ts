/**
 * The container parser under coverage-guided fuzzing (fuzz-container.ts): replays the
 * kept crashers and the golden files, then fuzzes for LMZIP_FUZZ_SECONDS (default 15).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRASH_DIR, checkInput, fuzz } from './fuzz-container.js';
import { REPO } from './helpers.js';

describe('container parser fuzzing', () => {
  it('replays the kept crashers and golden files', () => {
    const dirs = [CRASH_DIR, join(REPO, 'test/golden'), join(REPO, 'test/golden/errors')];
    let n = 0;
    for (const dir of dirs) {
      let names: string[] = [];
      try { names = readdirSync(dir); } catch { continue; }
      for (const name of names.filter((f) => !f.startsWith('.') && (dir === CRASH_DIR || f.endsWith('.lmz')))) {
        checkInput(readFileSync(join(dir, name)));
        n++;
      }
    }
    expect(n).toBeGreaterThan(0);
  });

  it('finds no crash in a short run', () => {
    const stats = fuzz(Number(process.env.LMZIP_FUZZ_SECONDS ?? 15), { seed: 12345 });
    console.log(`container fuzz: ${stats.execs} execs in ${stats.seconds.toFixed(0)} s, ${stats.features} features, corpus ${stats.corpus}`);
    expect(stats.crashes).toEqual([]);
    expect(stats.execs).toBeGreaterThan(100);
  }, 60000);
});
