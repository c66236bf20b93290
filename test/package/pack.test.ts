/**
 * The path a user takes: `npm pack` the package (with the prebuilt addon for this
 * platform), install the tarball into an empty project without building anything,
 * and compress with a real model through the installed package.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, STORIES, tempDir } from '../helpers.js';

// Asynchronous child processes: a blocked event loop starves vitest's worker RPC.
const run = promisify(execFile);
const dir = tempDir('lmzip-pack-');
afterAll(() => dir.cleanup());

describe('npm package', () => {
  it('installs from its tarball with no compiler step and compresses with a real model', async () => {
    await run(process.execPath, [join(REPO, 'scripts/prebuild.mjs')], { cwd: REPO });
    const prebuilds = readdirSync(join(REPO, 'prebuilds', `${process.platform}-${process.arch}`));
    expect(prebuilds.some((f) => f.endsWith('.node'))).toBe(true);

    const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir.path], { cwd: REPO, maxBuffer: 1 << 26 });
    const tarball = packed.stdout.trim().split('\n').pop()!;
    const project = join(dir.path, 'app');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module' }));
    // --ignore-scripts: prove that nothing is built on install (npm 11 also blocks
    // dependencies' install scripts by default).
    await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', join(dir.path, tarball)], { cwd: project });
    const installed = join(project, 'node_modules/lmzip');
    expect(existsSync(join(installed, 'build'))).toBe(false);

    writeFileSync(join(project, 'main.mjs'), `
      import { Model, compress, decompress } from 'lmzip';
      const model = await Model.load(${JSON.stringify(STORIES)}, { threads: 1 });
      const text = Buffer.from('Once upon a time, there was a little cat. The cat liked to play.');
      const packed = await compress(text, { model });
      const back = await decompress(packed, { model });
      console.log(JSON.stringify({ ok: back.equals(text), size: packed.length, arch: model.facts.architecture }));
    `);
    const main = await run(process.execPath, ['main.mjs'], { cwd: project });
    expect(main.stderr).toBe('');
    expect(JSON.parse(main.stdout)).toMatchObject({ ok: true, arch: 'llama' });

    const cjs = await run(process.execPath, ['-e', "const l = require('lmzip'); console.log(typeof l.compress)"], { cwd: project });
    expect(cjs.stdout.trim()).toBe('function');

    const version = await run(join(project, 'node_modules/.bin/lmzip'), ['--version'], { cwd: project });
    expect(version.stdout).toContain(join('node_modules/lmzip/prebuilds', `${process.platform}-${process.arch}`));
  });
});
