/**
 * The numeric profile's GPU keys (src/profile.ts): what they are, what a mismatch says,
 * and which backend a file is decoded with. The CPU profile must stay byte-for-byte what
 * it was, or every existing file would be refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDecodable, modelIdentity } from '../../src/codec.js';
import { FREQ_ALGORITHM } from '../../src/format/constants.js';
import type { FileHeader } from '../../src/format/types.js';
import { Model } from '../../src/model.js';
import { native } from '../../src/native.js';
import { backendToDecode, describeProfileDifference, gpuProfileKeys, hasMachineCode, howToDecode, numericProfile } from '../../src/profile.js';
import { STORIES } from '../helpers.js';

const H200 = {
  architectures: '80-real,86-real,89-real,90-real,90-virtual', runtimeVersion: 13000, driverVersion: 13000, cublasVersion: 130101, error: '',
  devices: [{ name: 'NVIDIA H200', computeCapability: '9.0', multiprocessors: 132, memoryBytes: 150e9 }],
};

describe('GPU profile keys', () => {
  it('name the device, its compute capability and SM count, the offload, cudart, cuBLAS and the compiled architectures', () => {
    expect(gpuProfileKeys(H200, -1, 30)).toBe('gpu=NVIDIA H200;cc=9.0;sms=132;offload=31;cudart=13000;cublas=130101;archs=80-real,86-real,89-real,90-real,90-virtual');
    expect(gpuProfileKeys(H200, 12, 30)).toContain(';offload=12;');
    expect(gpuProfileKeys(H200, 99, 30)).toContain(';offload=31;');
  });

  it('add the driver version when the driver compiles the kernels from PTX', () => {
    const blackwell = { ...H200, driverVersion: 13010, devices: [{ ...H200.devices[0]!, name: 'NVIDIA B200', computeCapability: '10.0', multiprocessors: 148 }] };
    expect(gpuProfileKeys(blackwell, -1, 30)).toMatch(/;jit=13010$/);
  });

  it('know which machine code runs where', () => {
    expect(hasMachineCode('86-real', '8.9')).toBe(true); // same major, newer minor
    expect(hasMachineCode('89-real', '8.6')).toBe(false);
    expect(hasMachineCode('90-virtual', '9.0')).toBe(false); // PTX only
    expect(hasMachineCode('90', '9.0')).toBe(true); // plain: SASS + PTX
    expect(hasMachineCode('80-real,90-real', '12.0')).toBe(false);
  });

  it('describe a file from another GPU model by the keys that differ, and what would decode it', () => {
    const h200 = `isa=x;llama=y;backend=cuda;kv=f16;${gpuProfileKeys(H200, -1, 30)}`;
    const h100 = h200.replace('gpu=NVIDIA H200', 'gpu=NVIDIA H100 80GB HBM3').replace('sms=132', 'sms=114');
    expect(describeProfileDifference(h200, h100)).toBe('gpu: file has NVIDIA H200, this build has NVIDIA H100 80GB HBM3; sms: file has 132, this build has 114');
    expect(howToDecode(h200)).toMatch(/on a NVIDIA H200 \(compute capability 9\.0, 132 multiprocessors\) with --backend cuda and 31 layers offloaded/);
    expect(howToDecode('isa=x;llama=y;backend=cpu;kv=f16')).toMatch(/on the CPU \(--backend cpu\)$/);
  });

  it('decode CPU-written files on the CPU unless a backend is asked for', () => {
    expect(backendToDecode('isa=x;llama=y;backend=cpu;kv=f16', undefined, {})).toBe('cpu');
    expect(backendToDecode('isa=x;llama=y;backend=cpu;kv=f16', 'cuda', {})).toBe('cuda');
    expect(backendToDecode('isa=x;llama=y;backend=cpu;kv=f16', undefined, { LMZIP_BACKEND: 'auto' })).toBe('auto');
    expect(backendToDecode('isa=x;backend=cuda', undefined, {})).toBeUndefined();
  });
});

describe('with a real model on the CPU', () => {
  let model: Model;
  beforeAll(async () => {
    model = await Model.load(STORIES, { threads: 1, backend: 'cpu' });
  });
  afterAll(() => model.dispose());

  it('the CPU profile is unchanged: isa, llama.cpp, backend=cpu, kv=f16', () => {
    const info = native().backendInfo();
    expect(numericProfile(model)).toBe(`isa=${info.isa};llama=${info.llamaCommit};backend=cpu;kv=f16`);
  });

  it('a GPU-written file is refused with PROFILE_MISMATCH naming the differences and the GPU that decodes it', async () => {
    const cpu = numericProfile(model);
    const header: FileHeader = {
      version: 1, modelFree: false, modelSha256: await model.fingerprint(), tokenizerFingerprint: '', vocabSize: 512, modelReference: 'stories260k',
      profile: cpu.replace('backend=cpu;kv=f16', `backend=cuda;kv=f16;${gpuProfileKeys(H200, -1, 5)}`),
      lanes: 16, window: 256, overlap: 128, ubatch: 512, flashAttention: false, freqAlgorithm: FREQ_ALGORITHM, originalSize: undefined,
    };
    await expect(checkDecodable(modelIdentity(header), model)).rejects.toMatchObject({
      code: 'PROFILE_MISMATCH',
      message: expect.stringMatching(/backend: file has cuda, this build has cpu; gpu: file has NVIDIA H200, this build has \(none\).*on a NVIDIA H200 \(compute capability 9\.0, 132 multiprocessors\) with --backend cuda/),
    });
  });
});
