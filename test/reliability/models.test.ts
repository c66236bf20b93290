/**
 * Bad models and mismatches: a damaged or truncated GGUF, an old GGUF version, a
 * model of an architecture llama.cpp does not know, a vocab-only model passed for
 * compression, a file decompressed with another model or with another numeric
 * profile. Each must fail with a clear LmzipError before any output exists.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compress, decompress, LmzipError, Model } from '../../src/index.js';
import {
  GGUF_V1, RANDOM_LLAMA, REPO, STORIES, VOCAB_GPT2, VOCAB_SPM, fixChecksums, outcome, storiesModel, storyText,
} from './helpers.js';

describe('bad models and mismatches', () => {
  let dir: string;
  let good: Buffer;
  let model: Model;
  let packed: Buffer;
  const text = storyText(600, 7);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lmzip-models-'));
    good = readFileSync(STORIES);
    model = await storiesModel();
    // A version-1 file (test/golden/v1-fixtures: storyText(600, 7), { lanes: 2, window: 64, overlap: 16 }): the profile edit below knows its layout.
    packed = readFileSync(join(REPO, 'test/golden/v1-fixtures/story-600.bin.lmz'));
  }, 60000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function damaged(name: string, bytes: Buffer): string {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  }

  async function loadCode(path: string, options = {}): Promise<string> {
    const r = await outcome(async () => {
      const m = await Model.load(path, { threads: 1, ...options });
      m.dispose();
      return 'loaded';
    });
    return 'code' in r ? r.code : r.ok;
  }

  it('rejects damaged and foreign model files with a typed error', async () => {
    const cases: [string, Buffer | string, string[]][] = [
      ['empty', Buffer.alloc(0), ['MODEL_INVALID']],
      ['text', Buffer.from('not a model\n'), ['MODEL_INVALID']],
      ['magic only', Buffer.from('GGUF'), ['MODEL_INVALID', 'MODEL_LOAD_FAILED']],
      ['first 64 bytes', good.subarray(0, 64), ['MODEL_LOAD_FAILED']],
      ['first half', good.subarray(0, good.length >> 1), ['MODEL_LOAD_FAILED']],
      ['all but the last byte', good.subarray(0, good.length - 1), ['MODEL_LOAD_FAILED']],
      ['version 99', patch(good, 4, [99, 0, 0, 0]), ['MODEL_LOAD_FAILED']],
      ['tensor count 2^64-1', patch(good, 8, Array(8).fill(0xff)), ['MODEL_LOAD_FAILED']],
      ['kv count 2^64-1', patch(good, 16, Array(8).fill(0xff)), ['MODEL_LOAD_FAILED']],
      ['unknown architecture', renameArchitecture(good, 'zzzzz'), ['MODEL_LOAD_FAILED']],
      ['old GGUF version 1', GGUF_V1, ['MODEL_LOAD_FAILED']],
    ];
    for (const [name, bytes, codes] of cases) {
      const path = typeof bytes === 'string' ? bytes : damaged(name.replace(/\W+/g, '-') + '.gguf', bytes);
      expect(codes, name).toContain(await loadCode(path));
    }
    expect(await loadCode(join(dir, 'missing.gguf'))).toBe('MODEL_NOT_FOUND');
    mkdirSync(join(dir, 'a-directory.gguf'));
    expect(await loadCode(join(dir, 'a-directory.gguf'))).toBe('MODEL_INVALID');
  }, 60000);

  it('refuses a vocab-only model for compression, before any output', async () => {
    for (const path of [VOCAB_SPM, VOCAB_GPT2]) {
      const vocab = await Model.load(path, { vocabOnly: true, threads: 1 });
      try {
        const r = await outcome(() => compress(text, { model: vocab }));
        expect('code' in r && r.code, path).toBe('MODEL_VOCAB_ONLY');
      } finally {
        vocab.dispose();
      }
      // Loaded as a full model, a vocab-only file has no weights: a load error.
      expect(await loadCode(path)).toBe('MODEL_LOAD_FAILED');
    }
  }, 60000);

  it('refuses to decompress with another model', async () => {
    const other = await Model.load(RANDOM_LLAMA, { threads: 1 });
    try {
      const r = await outcome(() => decompress(packed, { model: other }));
      expect('code' in r && r.code).toBe('MODEL_MISMATCH');
      // The message names what the file needs.
      await decompress(packed, { model: other }).catch((e: LmzipError) => expect(e.message).toMatch(/[0-9a-f]{16}/));
    } finally {
      other.dispose();
    }
    // The same weights under another file name are the same model.
    const copy = damaged('copy-of-stories.gguf', good);
    const same = await Model.load(copy, { threads: 1 });
    try {
      expect((await decompress(packed, { model: same })).equals(text)).toBe(true);
    } finally {
      same.dispose();
    }
  }, 60000);

  it('refuses a file written with another numeric profile', async () => {
    // The profile string ends the header body; change one character of it.
    const damagedProfile = Buffer.from(packed);
    const profileStart = findProfile(packed);
    damagedProfile[profileStart] ^= 0x01;
    const r = await outcome(() => decompress(fixChecksums(damagedProfile), { model }));
    expect('code' in r && r.code).toBe('PROFILE_MISMATCH');
  }, 60000);
});

function patch(b: Buffer, at: number, bytes: number[]): Buffer {
  const out = Buffer.from(b);
  bytes.forEach((v, i) => (out[at + i] = v));
  return out;
}

/** Replaces the value of general.architecture (same length) in a GGUF v3 file. */
function renameArchitecture(b: Buffer, name: string): Buffer {
  const key = Buffer.from('general.architecture');
  const at = b.indexOf(key);
  if (at < 0) throw new Error('no general.architecture key');
  const valueLen = Number(b.readBigUInt64LE(at + key.length + 4));
  if (valueLen !== name.length) throw new Error(`architecture name has ${valueLen} bytes`);
  const out = Buffer.from(b);
  out.write(name, at + key.length + 12, 'latin1');
  return out;
}

/** Offset of the first byte of the header's numeric profile string. */
function findProfile(file: Buffer): number {
  const b = 16;
  let p = b + 72;
  const refLen = file.readUInt16LE(p);
  p += 2 + refLen;
  const profLen = file.readUInt16LE(p);
  if (profLen === 0) throw new Error('empty profile');
  return p + 2;
}
