#!/usr/bin/env node
// Regenerates test/golden/: .lmz files that must decode to known bytes, and damaged
// ones that must be rejected with the code listed in errors.json. Run after a change
// to the format or to the numeric profile (a new llama.cpp, another ISA baseline).
// Needs the built package (npm run build) and ../shared/models/stories260K.gguf.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { Model, compress, decompress, inspect } = await import(join(root, 'dist/index.js'));
const out = join(root, 'test/golden');
const model = await Model.load(join(root, '../shared/models/stories260K.gguf'), { threads: 1 });

// Original texts written for these files (nothing copied from the corpus).
const story = [
  'Once upon a time, there was a little girl named Lily. She liked to play in the park with her red ball.',
  'One day, the ball rolled into the pond. Lily was sad. A big duck swam to the ball and pushed it back to her.',
  '"Thank you, duck!" said Lily. The duck quacked and swam away. Lily smiled and went home to tell her mom.',
  '',
  'Tom had a small dog called Max. Max loved to run and jump. Every morning, Tom and Max went for a walk.',
  'They saw a cat on the wall. Max barked, and the cat ran away. Tom laughed. "Be nice, Max," he said.',
  '',
].join('\n').repeat(3);
let seed = 12345;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
const mixed = Buffer.concat([
  Buffer.from(story.slice(0, 1500).replace(/[^\n]*$/, '')),
  Buffer.from(Array.from({ length: 1500 }, () => 0x21 + (random() % 0xde))),
  Buffer.alloc(1500, 0x5a),
]);

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'errors'), { recursive: true });
const files = {
  'story.txt': { data: Buffer.from(story), options: { lanes: 4, window: 64, chunkSize: 512 } },
  'mixed.bin': { data: mixed, options: { lanes: 3, chunkSize: 1500 } },
  'one-byte.txt': { data: Buffer.from('A'), options: {} },
  'empty.txt': { data: Buffer.alloc(0), options: {} },
};
const packed = {};
for (const [name, { data, options }] of Object.entries(files)) {
  packed[name] = await compress(data, { model, modelReference: 'stories260k', ...options });
  if (!(await decompress(packed[name], { model })).equals(data)) throw new Error(`${name} does not round-trip`);
  writeFileSync(join(out, name), data);
  writeFileSync(join(out, `${name}.lmz`), packed[name]);
}

// Damaged files: each edit recomputes a CRC where noted, so the check that must fire is the intended one.
const story_lmz = packed['story.txt'];
const info = inspect(story_lmz);
const headerSize = 16 + story_lmz.readUInt32LE(12) + 4;
const fixHeaderCrc = (b) => (b.writeUInt32LE(crc32(b.subarray(0, headerSize - 4)), headerSize - 4), b);
const edit = (fn) => { const b = Buffer.from(story_lmz); fn(b); return b; };
const frameTable = headerSize; // first frame starts right after the header
const firstPayload = frameTable + 5 + 18 * story_lmz.readUInt32LE(frameTable + 1) + 4;
const errors = [
  ['empty.lmz', Buffer.alloc(0), 'TRUNCATED', 'an empty input'],
  ['bad-magic.lmz', edit((b) => (b[1] = 0x58)), 'NOT_LMZ', 'the magic number is wrong'],
  ['gzip-file.lmz', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), 'NOT_LMZ', 'a gzip header'],
  ['truncated-magic.lmz', story_lmz.subarray(0, 5), 'TRUNCATED', 'cut inside the magic'],
  ['truncated-header.lmz', story_lmz.subarray(0, 40), 'TRUNCATED', 'cut inside the header'],
  ['truncated-payload.lmz', story_lmz.subarray(0, firstPayload + 10), 'TRUNCATED', 'cut inside the first frame'],
  ['truncated-end.lmz', story_lmz.subarray(0, story_lmz.length - 3), 'TRUNCATED', 'cut inside the end block'],
  ['header-bitflip.lmz', edit((b) => (b[16 + 40] ^= 0x04)), 'CORRUPT_HEADER', 'a flipped bit in the header body'],
  ['reserved-flag.lmz', fixHeaderCrc(edit((b) => (b[9] |= 0x80))), 'CORRUPT_HEADER', 'a reserved flag set (CRC fixed up)'],
  ['version-2.lmz', fixHeaderCrc(edit((b) => (b[8] = 2))), 'UNSUPPORTED_VERSION', 'a future format version (CRC fixed up)'],
  ['table-bitflip.lmz', edit((b) => (b[frameTable + 5 + 3] ^= 0x10)), 'CORRUPT_HEADER', 'a flipped bit in a chunk table'],
  ['payload-bitflip.lmz', edit((b) => (b[firstPayload + 20] ^= 0x01)), null, 'a flipped bit in a model payload'],
  ['trailing-data.lmz', Buffer.concat([story_lmz, Buffer.from('x')]), 'CORRUPT_HEADER', 'bytes after the end block'],
  ['other-model.lmz', fixHeaderCrc(edit((b) => (b[16] ^= 0xff))), 'MODEL_MISMATCH', 'model_sha256 of another model (CRC fixed up)'],
  ['other-profile.lmz', fixHeaderCrc(edit((b) => { const i = b.indexOf('isa=x86_64'); b.write('isa=x86_65', i); })), 'PROFILE_MISMATCH', 'a profile from another build (CRC fixed up)'],
];
const manifest = [];
for (const [file, bytes, expected, why] of errors) {
  let code = expected;
  if (code === null) {
    // A damaged payload decodes to other tokens: which check fires first (length or CRC) is fixed for this file.
    code = await decompress(bytes, { model }).then(() => 'NO ERROR', (e) => e.code);
  }
  const got = await decompress(bytes, { model }).then(() => 'NO ERROR', (e) => e.code);
  if (got !== code) throw new Error(`${file}: expected ${code}, got ${got}`);
  writeFileSync(join(out, 'errors', file), bytes);
  manifest.push({ file: `errors/${file}`, code, why });
}
writeFileSync(join(out, 'errors.json'), JSON.stringify({ profile: info.header.profile, model: info.header.modelSha256, errors: manifest }, null, 2) + '\n');
model.dispose();
console.log(`test/golden: ${Object.keys(files).length} good files, ${errors.length} damaged ones (profile ${info.header.profile})`);
