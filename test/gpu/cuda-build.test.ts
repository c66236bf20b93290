/**
 * The real CUDA build (build-cuda/Release/lmzip.node from `LMZIP_CUDA=1 npm run
 * build:native`) on a machine without a GPU: what it links, that it loads, sees no device,
 * and computes on the CPU exactly what the CPU build computes. The build takes an hour or
 * more on 2 cores and is too big to commit, so these tests skip, saying so, where it has
 * not been built. Its behaviour on a GPU is checked by scripts/gpu-check.sh.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, CORPUS, REPO, STORIES, tempDir } from '../helpers.js';

const CUDA = join(REPO, 'build-cuda/Release/lmzip.node');
const CPU = join(REPO, 'build/Release/lmzip.node');
const built = existsSync(CUDA);
const noDriver = !existsSync('/proc/driver/nvidia/version');
const dir = tempDir('lmzip-cuda-build-');
afterAll(() => dir.cleanup());

function skipUnlessBuilt(ctx: { skip: () => void }, needNoDriver = false) {
  if (!built) {
    console.log(`skipped: the CUDA build is not there (${CUDA}); LMZIP_CUDA=1 npm run build:native builds it`);
    ctx.skip();
  }
  if (needNoDriver && !noDriver) {
    console.log('skipped: this machine has an NVIDIA driver; scripts/gpu-check.sh covers it');
    ctx.skip();
  }
}

function lmzip(binary: string, args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input, maxBuffer: 1 << 26,
    env: { ...process.env, LMZIP_NATIVE_BINARY: binary, LMZIP_OFFLINE: '1', LD_LIBRARY_PATH: '', LMZIP_CUBLAS_DIR: '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('the CUDA build without a GPU', () => {
  it('links no CUDA driver, runtime or cuBLAS (they are opened at run time or linked in)', (ctx) => {
    skipUnlessBuilt(ctx);
    const needed = spawnSync('readelf', ['-d', CUDA], { encoding: 'utf8' }).stdout
      .split('\n').map((l) => /\(NEEDED\).*\[(.+)\]/.exec(l)?.[1]).filter(Boolean);
    expect(needed.length).toBeGreaterThan(0);
    expect(needed.filter((n) => /cuda|cublas|cudart/.test(n!))).toEqual([]);
  });

  it('loads, reports its CUDA runtime and architectures, and finds no device', (ctx) => {
    skipUnlessBuilt(ctx, true);
    const r = spawnSync(process.execPath, ['-e', `const b = require(${JSON.stringify(CUDA)}); console.log(JSON.stringify({ gpu: b.gpuInfo(), devices: b.backendInfo().devices }))`],
      { encoding: 'utf8', env: { ...process.env, LMZIP_CUBLAS_DIR: '', LD_LIBRARY_PATH: '' } });
    expect(r.status).toBe(0);
    const { gpu, devices } = JSON.parse(r.stdout);
    expect(gpu.runtimeVersion).toBeGreaterThanOrEqual(13000);
    expect(gpu.architectures).toMatch(/\d+-(real|virtual)/);
    expect(gpu.devices).toEqual([]);
    expect(gpu.error).not.toBe('');
    expect(gpu.cublasVersion).toBe(0); // no cuBLAS on the search path here
    expect(devices.every((d: string) => d.startsWith('CPU'))).toBe(true);
  });

  it('compresses on the CPU to the very bytes of the CPU build, and each decodes the other\'s file', (ctx) => {
    skipUnlessBuilt(ctx);
    const text = readFileSync(join(CORPUS, 'tinystories-valid-part1.txt')).subarray(0, 4000);
    const args = ['-c', '-T', '1', '--lanes', '4', '--backend', 'cpu', '-m', STORIES];
    const fromCuda = lmzip(CUDA, args, text);
    const fromCpu = lmzip(CPU, args, text);
    expect(fromCuda.stderr).toBe('');
    expect(fromCuda.status).toBe(0);
    expect(fromCpu.status).toBe(0);
    expect(Buffer.compare(fromCuda.stdout, fromCpu.stdout)).toBe(0);
    const f = join(dir.path, 'cuda.lmz');
    writeFileSync(f, fromCuda.stdout);
    expect(lmzip(CPU, ['-d', '-c', '-m', STORIES, f]).stdout.equals(text)).toBe(true);
    writeFileSync(f, fromCpu.stdout);
    expect(lmzip(CUDA, ['-d', '-c', '-m', STORIES, f]).stdout.equals(text)).toBe(true);
  });

  it('--backend cuda exits 1 with one line: no usable GPU, and why', (ctx) => {
    skipUnlessBuilt(ctx, true);
    const r = lmzip(CUDA, ['-c', '--backend', 'cuda', '-m', STORIES], Buffer.from('hello'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/backend cuda: the CUDA runtime finds no usable GPU \(.+\).*\[GPU_UNAVAILABLE\]/);
  });
});
