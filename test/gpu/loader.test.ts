/**
 * Which native binary the loader picks (src/native.ts): the decision itself with the
 * machine's answers replaced (chooseBinding + fake probes), the real probes against fake
 * package contents, and the CLI's one-line error on this machine, which has no NVIDIA
 * driver. The real CUDA build is checked in cuda-build.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseBinding, CUDA_PACKAGE, defaultProbes, type LoaderProbes, type NativeGpuInfo } from '../../src/native.js';
import { LmzipError } from '../../src/errors.js';
import { CLI, STORIES, tempDir } from '../helpers.js';

const dir = tempDir('lmzip-loader-');
afterAll(() => dir.cleanup());

/** A "CUDA package" whose lmzip.node is not a shared object at all. */
const fakePackage = join(dir.path, 'node_modules', CUDA_PACKAGE);
mkdirSync(fakePackage, { recursive: true });
writeFileSync(join(fakePackage, 'package.json'), JSON.stringify({ name: CUDA_PACKAGE, version: '0.1.0' }));
const fakeBinary = join(fakePackage, 'lmzip.node');
writeFileSync(fakeBinary, 'not an ELF file');

const CPU = '/cpu/lmzip.node';
const H200: NativeGpuInfo = {
  architectures: '90-real', runtimeVersion: 13000, driverVersion: 13000, cublasVersion: 130101, error: '',
  devices: [{ name: 'NVIDIA H200', computeCapability: '9.0', multiprocessors: 132, memoryBytes: 150e9 }],
};

/** Probes that answer as told and fail the test if asked what they should not be asked. */
function probes(p: Partial<LoaderProbes> & { source?: 'env' | 'checkout' | 'package' }): LoaderProbes {
  const never = (what: string) => () => {
    throw new Error(`the loader should not have looked at ${what}`);
  };
  return {
    cpuBinary: () => CPU,
    cudaCandidates: p.cudaCandidates ?? (() => [{ path: fakeBinary, source: p.source ?? 'package' }]),
    nvidiaDriver: p.nvidiaDriver ?? never('the driver'),
    probe: p.probe ?? never('the binary'),
  };
}

function gpuUnavailable(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LmzipError);
    expect((e as LmzipError).code).toBe('GPU_UNAVAILABLE');
    return (e as Error).message;
  }
  throw new Error('expected GPU_UNAVAILABLE');
}

describe('chooseBinding', () => {
  it('backend cpu takes the CPU binary without looking for a GPU', () => {
    const never = () => {
      throw new Error('looked');
    };
    expect(chooseBinding('cpu', { cpuBinary: () => CPU, cudaCandidates: never, nvidiaDriver: never, probe: never })).toEqual({ path: CPU, backend: 'cpu' });
  });

  it('auto without the CUDA package: the CPU binary, and no note', () => {
    expect(chooseBinding('auto', probes({ cudaCandidates: () => [{ path: join(dir.path, 'absent.node'), source: 'package' }] })))
      .toEqual({ path: CPU, backend: 'cpu' });
  });

  it('auto with the CUDA package but no driver: the CPU binary with a one-line note', () => {
    const c = chooseBinding('auto', probes({ nvidiaDriver: () => null }));
    expect(c.path).toBe(CPU);
    expect(c.note).toMatch(/^lmzip: the CUDA build is installed but no NVIDIA driver was found .*; running on the CPU$/);
    expect(c.note).not.toContain('\n');
  });

  it("a checkout's own build-cuda/ falls back without a note", () => {
    expect(chooseBinding('auto', probes({ source: 'checkout', nvidiaDriver: () => null }))).toEqual({ path: CPU, backend: 'cpu' });
  });

  it('cuda without the CUDA package names the package to install', () => {
    const m = gpuUnavailable(() => chooseBinding('cuda', probes({ cudaCandidates: () => [] })));
    expect(m).toContain(`npm install ${CUDA_PACKAGE}`);
  });

  it('cuda without a driver says so', () => {
    expect(gpuUnavailable(() => chooseBinding('cuda', probes({ nvidiaDriver: () => null })))).toMatch(/no NVIDIA driver was found/);
  });

  it('a binary that does not load: auto falls back with the reason, cuda fails with it', () => {
    const p = probes({ nvidiaDriver: () => 'NVRM version: 580', probe: () => ({ error: 'libcudart.so.13: cannot open shared object file' }) });
    expect(chooseBinding('auto', p).note).toMatch(/does not load .*libcudart\.so\.13: cannot open/);
    expect(gpuUnavailable(() => chooseBinding('cuda', p))).toMatch(/libcudart\.so\.13: cannot open/);
  });

  it('a GPU but no cuBLAS (the binary opens it at run time): says how to install it', () => {
    const p = probes({ nvidiaDriver: () => 'NVRM', probe: () => ({ info: { ...H200, cublasVersion: 0 } }) });
    expect(chooseBinding('auto', p).note).toMatch(/cuBLAS 13 \(libcublas\.so\.13\) was not found: .*pip install nvidia-cublas.*LMZIP_CUBLAS_DIR/);
    expect(gpuUnavailable(() => chooseBinding('cuda', p))).toMatch(/cuBLAS 13/);
  });

  it('a driver but no GPU: auto falls back, cuda fails naming the runtime error', () => {
    const p = probes({ nvidiaDriver: () => 'NVRM', probe: () => ({ info: { ...H200, devices: [], error: 'no CUDA-capable device is detected' } }) });
    expect(chooseBinding('auto', p).backend).toBe('cpu');
    expect(gpuUnavailable(() => chooseBinding('cuda', p))).toMatch(/no CUDA-capable device/);
  });

  it('a driver, a binary that loads and a GPU: the CUDA binary', () => {
    const p = probes({ nvidiaDriver: () => 'NVRM', probe: () => ({ info: H200 }) });
    expect(chooseBinding('auto', p)).toEqual({ path: fakeBinary, backend: 'cuda' });
    expect(chooseBinding('cuda', p)).toEqual({ path: fakeBinary, backend: 'cuda' });
  });
});

describe('the real probes on this machine', () => {
  const machineHasDriver = existsSync('/proc/driver/nvidia/version');

  it('find no NVIDIA driver here', (ctx) => {
    if (machineHasDriver) ctx.skip(); // a GPU machine: the driver check is exercised by scripts/gpu-check.sh
    expect(defaultProbes({ ...process.env, LD_LIBRARY_PATH: '' }).nvidiaDriver()).toBeNull();
  });

  it('load a candidate in a child process and report why it failed, without crashing the caller', () => {
    const r = defaultProbes().probe(fakeBinary);
    expect(r.info).toBeUndefined();
    expect(r.error).toMatch(/invalid ELF header|file too short/);
  });

  it('report a CPU-only binary as "not a CUDA build"', () => {
    const cpu = defaultProbes().cpuBinary();
    expect(defaultProbes().probe(cpu)).toEqual({ error: 'it is not a CUDA build' });
  });

  it('list LMZIP_CUDA_BINARY first and a checkout\'s build-cuda/ after it', () => {
    const c = defaultProbes({ ...process.env, LMZIP_CUDA_BINARY: fakeBinary }).cudaCandidates();
    expect(c[0]).toEqual({ path: fakeBinary, source: 'env' });
    expect(c[1]!.path).toMatch(/build-cuda\/Release\/lmzip\.node$/);
  });
});

describe('the CLI on a machine without a GPU', () => {
  const input = join(dir.path, 'in.txt');
  writeFileSync(input, 'Once upon a time there was a cat.\n'.repeat(20));
  const run = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, LMZIP_OFFLINE: '1', ...env }, encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr, stdout: r.stdout };
  };

  it('--backend cuda exits 1 with one line naming what is missing and the code', (ctx) => {
    if (existsSync('/proc/driver/nvidia/version')) ctx.skip();
    // With a CUDA package present (LMZIP_CUDA_BINARY), the missing piece is the driver.
    const r = run(['-c', '-m', STORIES, '--backend', 'cuda', input], { LMZIP_CUDA_BINARY: fakeBinary, LD_LIBRARY_PATH: '' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/backend cuda: no NVIDIA driver was found.*\[GPU_UNAVAILABLE\]$/m);
    const env = run(['-c', '-m', STORIES, input], { LMZIP_BACKEND: 'cuda', LMZIP_CUDA_BINARY: fakeBinary, LD_LIBRARY_PATH: '' });
    expect(env.status).toBe(1);
    expect(env.stderr).toMatch(/\[GPU_UNAVAILABLE\]$/m);
  });

  it('auto with an installed CUDA package and no driver runs on the CPU with a one-line note', (ctx) => {
    if (existsSync('/proc/driver/nvidia/version')) ctx.skip();
    const r = run(['-c', '-T', '1', '-m', STORIES, input], { LMZIP_CUDA_BINARY: fakeBinary, LD_LIBRARY_PATH: '' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^lmzip: the CUDA build is installed but no NVIDIA driver was found .*; running on the CPU\n$/);
  });

  it('--backend cpu runs quietly; an unknown backend is a usage error', () => {
    const ok = run(['-c', '-T', '1', '-m', STORIES, '--backend', 'cpu', input], { LMZIP_CUDA_BINARY: fakeBinary });
    expect(ok.status).toBe(0);
    expect(ok.stderr).toBe('');
    const bad = run(['-c', '-m', STORIES, '--backend', 'opencl', input]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--backend expects auto, cpu or cuda/);
  });
});
