/**
 * Golden files of format version 1 (test/golden, made by scripts/make-golden.mjs):
 * good files must decode to the bytes beside them; damaged files must fail with the
 * code docs/FORMAT.md demands. Those codes are written here from the specification,
 * each with the sentence that demands it, and errors.json (written by the generator
 * from the decoder's answers) must agree with them.
 *
 * A build whose numeric profile differs from the goldens' cannot decode their
 * model-coded chunks: those checks are then skipped, with the reason, and the test
 * that the build refuses the files (PROFILE_MISMATCH) runs instead.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, createDecompressStream, decompress, inspect } from '../../src/index.js';
import { describeProfileDifference, numericProfile } from '../../src/profile.js';
import { REPO, STORIES } from '../helpers.js';
import { fixChecksums, layout } from '../reliability/helpers.js';

const GOLDEN = join(REPO, 'test/golden');
const manifest = JSON.parse(readFileSync(join(GOLDEN, 'errors.json'), 'utf8')) as {
  profile: string;
  errors: { file: string; code: string; why: string }[];
};

/**
 * What docs/FORMAT.md demands of each damaged golden. `afterHeader`: the damage lies
 * behind a valid header, so a build with another profile refuses the file at its
 * header before it can see the damage (the spec orders no checks).
 */
const SPEC: Record<string, { codes: string[]; rule: string; afterHeader?: true }> = {
  'errors/empty.lmz': { codes: ['TRUNCATED'], rule: 'a file shorter than its header is TRUNCATED' },
  'errors/bad-magic.lmz': { codes: ['NOT_LMZ'], rule: 'a wrong magic is NOT_LMZ' },
  'errors/gzip-file.lmz': { codes: ['NOT_LMZ'], rule: 'a wrong magic is NOT_LMZ' },
  'errors/truncated-magic.lmz': { codes: ['TRUNCATED'], rule: 'a file shorter than its header is TRUNCATED' },
  'errors/truncated-header.lmz': { codes: ['TRUNCATED'], rule: 'a file shorter than its header is TRUNCATED' },
  'errors/truncated-payload.lmz': { codes: ['TRUNCATED'], rule: 'a file that ends before its end block is TRUNCATED', afterHeader: true },
  'errors/truncated-end.lmz': { codes: ['TRUNCATED'], rule: 'a file that ends before its end block is TRUNCATED', afterHeader: true },
  'errors/header-bitflip.lmz': { codes: ['CORRUPT_HEADER'], rule: 'a wrong header_crc is CORRUPT_HEADER' },
  'errors/reserved-flag.lmz': { codes: ['CORRUPT_HEADER'], rule: 'set reserved bits are CORRUPT_HEADER' },
  'errors/version-255.lmz': { codes: ['UNSUPPORTED_VERSION'], rule: 'a version this build does not know (1 and 2 are known) is UNSUPPORTED_VERSION' },
  // The spec gives table_crc no error code of its own; CORRUPT_HEADER is the code of every
  // other structure CRC (header_crc, end_crc) and of the frame limits.
  'errors/table-bitflip.lmz': { codes: ['CORRUPT_HEADER'], rule: 'a wrong table_crc (as header_crc and end_crc) is CORRUPT_HEADER', afterHeader: true },
  // Which of the two depends on the tokens the damaged payload decodes to under the model.
  'errors/payload-bitflip.lmz': {
    codes: ['CORRUPT_DATA', 'CHECKSUM_MISMATCH'],
    rule: 'a decoded chunk of another size is CORRUPT_DATA, of the right size but another CRC-32 CHECKSUM_MISMATCH',
    afterHeader: true,
  },
  'errors/trailing-data.lmz': { codes: ['CORRUPT_HEADER'], rule: 'bytes after the end block are CORRUPT_HEADER', afterHeader: true },
  'errors/other-model.lmz': { codes: ['MODEL_MISMATCH'], rule: 'another model_sha256 is MODEL_MISMATCH', afterHeader: true },
  'errors/other-profile.lmz': { codes: ['PROFILE_MISMATCH'], rule: 'another profile is PROFILE_MISMATCH' },
};

let model: Model;
let buildProfile = '';
let sameProfile = false;
/** Why the model-coded checks cannot run on this build, shown as the skip reason. */
const otherProfile = () => `this build's numeric profile is not the goldens' (${describeProfileDifference(manifest.profile, buildProfile)})`;

beforeAll(async () => {
  model = await Model.load(STORIES, { threads: 1 });
  buildProfile = numericProfile(model);
  sameProfile = buildProfile === manifest.profile;
});
afterAll(() => model?.dispose());

const GOOD = ['story.txt', 'mixed.bin', 'one-byte.txt', 'empty.txt'];
const goldenFile = (name: string) => readFileSync(join(GOLDEN, name));
const codeOf = (bytes: Buffer) => decompress(bytes, { model }).then(() => 'no error', (e: { code?: string }) => e.code ?? String(e));

describe('golden files decode', () => {
  for (const name of GOOD) {
    it(name, async (ctx) => {
      const packed = goldenFile(`${name}.lmz`);
      const original = goldenFile(name);
      if (!inspect(packed).header.modelFree && !sameProfile) ctx.skip(otherProfile());
      expect((await decompress(packed, { model })).equals(original)).toBe(true);
      // The stream decoder, fed one byte at a time, agrees.
      const parts: Buffer[] = [];
      await pipeline(
        Readable.from((function* () { for (const b of packed) yield Buffer.from([b]); })()),
        createDecompressStream({ model }),
        new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }),
      );
      expect(Buffer.concat(parts).equals(original)).toBe(true);
    });
  }

  it('are refused, not decoded, by a build with another numeric profile', async () => {
    const modelCoded = GOOD.filter((name) => !inspect(goldenFile(`${name}.lmz`)).header.modelFree);
    expect(modelCoded).toEqual(['story.txt', 'mixed.bin']);
    // On this build when its profile differs; else the goldens' own other-profile copy stands in.
    const files = sameProfile ? ['errors/other-profile.lmz'] : modelCoded.map((name) => `${name}.lmz`);
    for (const file of files) expect(await codeOf(goldenFile(file)), file).toBe('PROFILE_MISMATCH');
  });

  it('records what the format promises', () => {
    const info = inspect(goldenFile('story.txt.lmz'));
    expect(info.header.modelReference).toBe('stories260k');
    expect(info.header.modelSha256).toBe('270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
    expect(info.header).toMatchObject({ lanes: 4, window: 64, overlap: 32, ubatch: 512, flashAttention: false, freqAlgorithm: 1, originalSize: 1563n });
    expect(info.header.profile).toBe(manifest.profile);
    expect(info.chunks.model).toBeGreaterThan(1);
    const mixed = inspect(goldenFile('mixed.bin.lmz'));
    expect(mixed.chunks).toEqual({ model: 1, brotli: 2, stored: 0 }); // story; noise over 222 values and a run of 'Z' both shrink under brotli
    expect(inspect(goldenFile('empty.txt.lmz')).header.modelFree).toBe(true);
  });
});

describe('damaged golden files are rejected with the code docs/FORMAT.md names', () => {
  it('errors.json lists exactly these files, each with a code the spec allows', () => {
    expect(manifest.errors.map((e) => e.file).sort()).toEqual(Object.keys(SPEC).sort());
    for (const { file, code } of manifest.errors) expect(SPEC[file].codes, `${file} in errors.json`).toContain(code);
  });

  for (const [file, { codes, rule, afterHeader }] of Object.entries(SPEC)) {
    it(`${file}: ${rule}`, async (ctx) => {
      if (afterHeader && !sameProfile) ctx.skip(`${otherProfile()}: refused at the header`);
      expect(codes).toContain(await codeOf(goldenFile(file)));
    });
  }
});

describe('story.txt.lmz with one field changed and its CRCs recomputed', () => {
  // The damage reaches the checks after decoding, whose codes the spec fixes exactly.
  const story = () => goldenFile('story.txt.lmz');
  const cases: [string, string, string, (b: Buffer) => void][] = [
    ['a chunk_crc', 'CHECKSUM_MISMATCH', 'a decoded chunk whose CRC-32 is not chunk_crc is CHECKSUM_MISMATCH',
      (b) => { const e = layout(b).frames[0].chunks[0].entry; b.writeUInt32LE(~b.readUInt32LE(e + 14) >>> 0, e + 14); }],
    ['the content_crc', 'CHECKSUM_MISMATCH', 'a content_crc that does not match is CHECKSUM_MISMATCH',
      (b) => { const e = layout(b).endBlock; b.writeUInt32LE(~b.readUInt32LE(e + 13) >>> 0, e + 13); }],
    ['the total_size', 'CORRUPT_DATA', 'a total_size other than the decoded bytes is CORRUPT_DATA',
      (b) => { const e = layout(b).endBlock; b.writeBigUInt64LE(b.readBigUInt64LE(e + 1) + 1n, e + 1); }],
    ['the frame_count', 'CORRUPT_HEADER', 'a frame_count other than the frames read is CORRUPT_HEADER',
      (b) => { const e = layout(b).endBlock; b.writeUInt32LE(b.readUInt32LE(e + 9) + 1, e + 9); }],
  ];
  for (const [field, code, rule, edit] of cases) {
    it(`${field}: ${rule}`, async (ctx) => {
      if (!sameProfile) ctx.skip(otherProfile());
      const damaged = story();
      edit(damaged);
      expect(await codeOf(fixChecksums(damaged))).toBe(code);
    });
  }
});
