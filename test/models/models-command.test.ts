import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runModelsCommand } from '../../src/cli/commands/models.js';
import { STORIES as MODEL_PATH } from '../helpers.js';
import { FakeHub } from './hub-server.js';

const SHA = '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d';
const REV = '499bc8821c6b12b4e53c5bffcb21ec206f212d81';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let hub: FakeHub;
let cache: string;
let env: NodeJS.ProcessEnv;

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await runModelsCommand(args, { stdout, stderr, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

beforeEach(async () => {
  hub = new FakeHub();
  hub.add('ggml-org', 'models', REV, 'tinyllamas/stories260K.gguf', { body: await readFile(MODEL_PATH) });
  cache = await mkdtemp(join(tmpdir(), 'lmzip-models-cli-'));
  env = { LMZIP_CACHE_DIR: cache, LMZIP_HF_ENDPOINT: await hub.start() };
});

afterEach(async () => {
  await hub.stop();
  await rm(cache, { recursive: true, force: true });
});

describe('lmzip models', () => {
  it('prints help and rejects bad usage with status 2', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: lmzip models <command>/);
    expect(help.stdout).toContain(`LMZIP_CACHE_DIR      Cache folder (now: ${cache})`);
    expect(await run()).toMatchObject({ code: 2, stdout: '' });
    expect((await run()).stderr).toBe('lmzip models: missing command (list, pull, info or rm)\nRun "lmzip models --help" for usage.\n');
    expect((await run('frobnicate')).stderr).toMatch(/^lmzip models: unknown command "frobnicate"/);
    expect((await run('pull')).code).toBe(2);
    expect((await run('list', '--fast')).stderr).toMatch(/unknown option --fast/);
  });

  it('pulls, lists, describes and removes a model', async () => {
    const pulled = await run('pull', 'stories260k');
    expect(pulled.code).toBe(0);
    const dest = join(cache, 'models', 'ggml-org', 'models', REV, 'tinyllamas', 'stories260K.gguf');
    expect(pulled.stdout).toBe(`stories260k\n  path    ${dest}\n  size    1.1 MiB\n  sha256  ${SHA}\n`);
    // Not a terminal: no progress bar, just the one line saying where from.
    expect(pulled.stderr).toBe(`Downloading stories260k from ${hub.origin}/ggml-org/models/resolve/${REV}/tinyllamas/stories260K.gguf\n`);

    const list = await run('list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`Model cache: ${cache}`);
    expect(list.stdout).toMatch(/stories260k\s+1\.1 MiB\s+270cba1bd510\s+ggml-org\/models\/499bc8821c6b12b4e53c5bffcb21ec206f212d81\/tinyllamas\/stories260K\.gguf/);
    expect(list.stdout).toMatch(/stories260k\s+1\.2 MB\s+MIT\s+yes/);
    expect(list.stdout).toMatch(/smollm2-135m \(default\)\s+145 MB\s+Apache-2\.0\s+no/);
    const json = JSON.parse((await run('list', '--json')).stdout);
    expect(json.models).toEqual([
      { path: dest, size: 1185376, partial: false, sha256: SHA, references: ['stories260k'], verified: true },
    ]);

    await hub.stop();
    const info = await run('info', 'stories260k');
    expect(info.stderr).toBe('');
    expect(info.code).toBe(0);
    expect(info.stdout).toContain(`  fingerprint   ${SHA}`);
    expect(info.stdout).toMatch(/architecture {2}llama/);
    expect(info.stdout).toMatch(/vocabulary {4}512 tokens/);
    expect(info.stdout).toMatch(/context {7}2048 tokens/);
    expect(info.stdout).toMatch(/parameters {4}292,800/);
    expect(info.stdout).toMatch(/quantisation {2}all F32/);

    const removed = await run('rm', 'stories260k');
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe(`removed ${dest} (1.1 MiB)\n`);
    expect((await run('list')).stdout).toContain('  (empty)');
    const again = await run('rm', 'stories260k');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/nothing in the cache matches "stories260k"/);
  });

  it('describes a local file, and a built-in that is not cached without downloading it', async () => {
    const local = await run('info', '--json', MODEL_PATH);
    expect(local.code).toBe(0);
    expect(JSON.parse(local.stdout)).toMatchObject({ path: MODEL_PATH, sha256: SHA, architecture: 'llama', size: 1185376 });
    const named = await run('info', 'smollm2-135m');
    expect(named.code).toBe(0);
    expect(named.stdout).toMatch(/^smollm2-135m: not in the cache \(fetch it with: lmzip models pull smollm2-135m\)/);
    expect(named.stdout).toContain('hf:QuantFactory/SmolLM2-135M-GGUF/SmolLM2-135M.Q8_0.gguf@');
    expect(hub.requests).toEqual([]);
  });

  it('fails a pull with one clear message when the server is down', async () => {
    await hub.stop();
    env.LMZIP_OFFLINE = '';
    const r = await run('pull', 'hf:ggml-org/models/tinyllamas/stories260K.gguf');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Downloading hf:.*\nlmzip models: Could not download model hf:ggml-org\/models\/tinyllamas\/stories260K\.gguf@main/);
    expect(r.stderr).toMatch(/refused the connection/);
    expect(r.stderr).toContain('place it at ');
  });
});
