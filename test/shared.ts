/**
 * The test models and corpus: where they are and which test files need them.
 *
 * They live in `$LMZIP_SHARED_DIR`, else in `../shared` beside the repository (never
 * copied into it). Without them, vitest.config.ts leaves the files below out of the
 * run and test/shared.test.ts reports each one as skipped, with the reason, so a
 * clone without the models still runs every test that does not need them.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED = process.env.LMZIP_SHARED_DIR ? resolve(process.env.LMZIP_SHARED_DIR) : resolve(REPO, '../shared');

/** Why the shared files cannot be used, or undefined when they are there. */
export const sharedMissing: string | undefined = existsSync(join(SHARED, 'models/stories260K.gguf'))
  ? undefined
  : `no test models at ${SHARED}/models (set LMZIP_SHARED_DIR to the folder with models/ and corpus/)`;

/**
 * Test files that read models or corpus files from SHARED. test/shared.test.ts fails
 * when a test file outside this list refers to them, so the list stays complete.
 */
export const NEEDS_SHARED = [
  'test/analyze/baselines.test.ts',
  'test/analyze/cli.test.ts',
  'test/analyze/records.test.ts',
  'test/analyze/report-browser.test.ts',
  'test/bench/reference.test.ts',
  'test/cli/cli.test.ts',
  'test/compressor/golden.test.ts',
  'test/corpora/cli-corpora.test.ts',
  'test/corpora/one-model.test.ts',
  'test/corpora/run-progress.test.ts',
  'test/compressor/roundtrip.test.ts',
  'test/compressor/shift-context.test.ts',
  'test/format/archive.test.ts',
  'test/format/golden-v2.test.ts',
  'test/format/mutate-v2.test.ts',
  'test/foundation/model.test.ts',
  'test/gpu/cuda-build.test.ts',
  'test/gpu/loader.test.ts',
  'test/gpu/make-test-model.test.ts',
  'test/gpu/profile.test.ts',
  'test/mix/method2.test.ts',
  'test/models/local-models.test.ts',
  'test/models/models-command.test.ts',
  'test/models/resolve.test.ts',
  'test/package/pack.test.ts',
  'test/reliability/cli-faults.test.ts',
  'test/reliability/concurrency.test.ts',
  'test/reliability/downloads.test.ts',
  'test/reliability/file-safety.test.ts',
  'test/reliability/hostile-models.test.ts',
  'test/reliability/hostile-references.test.ts',
  'test/reliability/models.test.ts',
  'test/reliability/mutate.test.ts',
  'test/reliability/threads.test.ts',
];
