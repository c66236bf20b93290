#!/usr/bin/env node
// Regenerates the golden files: .lmz files that must decode to known bytes, and
// damaged ones that must be rejected with the code their errors.json names.
//
//  * test/golden/v2/ (format version 2, what lmzip writes): every file. The damaged
//    files' codes are chosen from docs/FORMAT.md, never recorded from the decoder: the
//    script only checks that the decoder agrees, and fails if it does not.
//  * test/golden/ (format version 1): lmzip writes version 1 no more, so the good
//    files are frozen; the damaged ones are derived again from story.txt.lmz.
//
// Run after a change to the format or to the numeric profile (a new llama.cpp,
// another ISA baseline). Needs the built package (npm run build) and the shared
// models (../shared, or LMZIP_SHARED_DIR).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.LMZIP_SHARED_DIR ?? join(root, '../shared');
const { Model, compress, decompress, inspect } = await import(join(root, 'dist/index.js'));
const { writeHeaderV2, parseHeaderV2 } = await import(join(root, 'dist/format/v2/header.js'));
const { parseBlockTable, writeEnd } = await import(join(root, 'dist/format/v2/block.js'));
const { ByteCursor, pushVarint } = await import(join(root, 'dist/format/varint.js'));
const model = await Model.load(join(shared, 'models/stories260K.gguf'), { threads: 1 });
const golden = join(root, 'test/golden');

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
const longStory = story + story.replace(/Lily/g, 'Mia').replace(/Max/g, 'Rex').replace(/duck/g, 'goose');
let seed = 12345;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
const mixed = Buffer.concat([
  Buffer.from(story.slice(0, 1500).replace(/[^\n]*$/, '')),
  Buffer.from(Array.from({ length: 1500 }, () => 0x21 + (random() % 0xde))),
  Buffer.alloc(1500, 0x5a),
]);

/** Checks that `bytes` fail with `code` (one-shot decoder); returns the manifest entry. */
async function expectCode(dir, file, bytes, code, why) {
  const got = await decompress(bytes, { model }).then(() => 'NO ERROR', (e) => e.code);
  if (got !== code) throw new Error(`${file}: docs/FORMAT.md says ${code}, the decoder says ${got}`);
  writeFileSync(join(dir, 'errors', file), bytes);
  return { file: `errors/${file}`, code, why };
}

// ---- version 2 ---------------------------------------------------------------------------
const v2 = join(golden, 'v2');
rmSync(v2, { recursive: true, force: true });
mkdirSync(join(v2, 'errors'), { recursive: true });
// mix: false: coding method 1 (the model alone), and shiftContext: false: full lanes
// restart, as these files were first written (each later addition has files of its own).
// The committed ones come from an earlier chunker (blocks.txt has 10 chunks where today's
// writer cuts 7): a regeneration rewrites them, still valid, in today's layout.
const restart = { shiftContext: false };
const files = {
  'story.txt': { data: Buffer.from(story), options: { ...restart, lanes: 4, window: 64, chunkSize: 512, mix: false } },
  'mixed.bin': { data: mixed, options: { ...restart, lanes: 3, chunkSize: 1500, mix: false } },
  'one-byte.txt': { data: Buffer.from('A'), options: { ...restart, mix: false } },
  'empty.txt': { data: Buffer.alloc(0), options: { ...restart, mix: false } },
  // Three 1 KiB blocks and a short one, with a seek index.
  'blocks.txt': { data: Buffer.from(longStory.slice(0, 3100)), options: { ...restart, lanes: 2, window: 64, blockSize: 1024, chunkSize: 512, mix: false } },
  // The same, written without an index (a reader scans forward).
  'no-index.txt': { data: Buffer.from(longStory.slice(0, 3100)), options: { ...restart, lanes: 2, window: 64, blockSize: 1024, chunkSize: 512, index: 'never', mix: false } },
  // Coding method 2 (the model mixed with context models, docs/MIXING.md): story.txt again,
  // and two blocks (the mixer's state starts fresh in each).
  'mix-story.txt': { data: Buffer.from(story), options: { ...restart, lanes: 4, window: 64, chunkSize: 512 } },
  'mix-blocks.txt': { data: Buffer.from(longStory.slice(0, 2000)), options: { ...restart, lanes: 2, window: 64, blockSize: 1024, chunkSize: 512 } },
  // SHIFT_CONTEXT: a full lane moves its kept tokens down in llama.cpp's cache instead of
  // feeding them again. Chunks of ~130 tokens in a window of 64: every lane shifts twice.
  // Without COMPACT_SHIFT (compactShift: false), as these were first written: the kept
  // tokens stay in their cache cells.
  'shift-story.txt': { data: Buffer.from(story), options: { compactShift: false, lanes: 4, window: 64, chunkSize: 512, mix: false } },
  'shift-mix-blocks.txt': { data: Buffer.from(longStory.slice(0, 2000)), options: { compactShift: false, lanes: 2, window: 64, blockSize: 1024, chunkSize: 512 } },
  // COMPACT_SHIFT (what lmzip writes by default): each shift first moves the kept cells
  // to the lowest cells of the lane's cache. The same inputs and settings.
  'compact-story.txt': { data: Buffer.from(story), options: { lanes: 4, window: 64, chunkSize: 512, mix: false } },
  'compact-mix-blocks.txt': { data: Buffer.from(longStory.slice(0, 2000)), options: { lanes: 2, window: 64, blockSize: 1024, chunkSize: 512 } },
};
const packed = {};
if (files['blocks.txt'].data.length !== 3100) throw new Error('blocks.txt must hold three full blocks and a short one');
for (const [name, { data, options }] of Object.entries(files)) {
  packed[name] = await compress(data, { model, modelReference: 'stories260k', ...options });
  if (!(await decompress(packed[name], { model })).equals(data)) throw new Error(`${name} does not round-trip`);
  writeFileSync(join(v2, name), data);
  writeFileSync(join(v2, `${name}.lmz`), packed[name]);
}
// Members back to back: v2, a frozen v1 file, v2 with an index.
const v1Story = readFileSync(join(golden, 'story.txt.lmz'));
const concat = Buffer.concat([packed['story.txt'], v1Story, packed['blocks.txt']]);
const concatOriginal = Buffer.concat([files['story.txt'].data, readFileSync(join(golden, 'story.txt')), files['blocks.txt'].data]);
if (!(await decompress(concat, { model })).equals(concatOriginal)) throw new Error('concat does not round-trip');
writeFileSync(join(v2, 'concat.txt'), concatOriginal);
writeFileSync(join(v2, 'concat.txt.lmz'), concat);

// The layout of a one-member file, to aim damage at one field.
function layout(file) {
  const header = parseHeaderV2(file);
  const blocks = [];
  let pos = header.size;
  for (;;) {
    const parsed = parseBlockTable(new ByteCursor(file, pos), header.blockSize, header.modelFree, 'golden');
    if (parsed.kind === 'end') return { header, blocks, end: pos };
    blocks.push({ offset: pos, ...parsed.table });
    pos += parsed.table.encodedSize;
  }
}
/** The file with its header re-encoded from edited fields (the header CRC stays valid). */
function withHeader(file, edit) {
  const h = parseHeaderV2(file);
  const fields = { modelFree: h.modelFree, blockSize: h.blockSize, modelSha256: h.modelHash, modelName: h.modelName, lanes: h.lanes,
    window: h.window, overlap: h.overlap, ubatch: h.ubatch, flashAttention: h.flashAttention, shiftContext: h.shiftContext, compactShift: h.compactShift, codingMethod: h.codingMethod,
    methodParams: h.methodParams, profile: h.profile };
  edit(fields);
  return Buffer.concat([writeHeaderV2(fields), file.subarray(h.size)]);
}
const edit = (file, fn) => { const b = Buffer.from(file); fn(b); return b; };
const fixHeaderCrc = (b) => { const size = layoutHeaderSize(b); b.writeUInt32LE(crc32(b.subarray(0, size - 4)), size - 4); return b; };
function layoutHeaderSize(b) {
  // magic, version, flags, varint body size, body, CRC
  let p = 10, size = 0, scale = 1;
  for (;;) { const x = b[p++]; size += (x & 0x7f) * scale; scale *= 128; if (!(x & 0x80)) break; }
  return p + size + 4;
}
const varint = (v) => { const o = []; pushVarint(o, v); return Buffer.from(o); };

const s = packed['story.txt'];
const sl = layout(s);
const first = sl.blocks[0];
const blocksFile = packed['blocks.txt'];
const bl = layout(blocksFile);
const one = packed['one-byte.txt'];
const ol = layout(one);
const tableEnd = (b) => b.offset + b.tableSize; // first byte of the model stream
const ms = packed['mix-story.txt'];
const msl = layout(ms);
/** `file` with one more byte at the end of the model stream of `t` (one of its blocks), its size one larger. */
function streamLonger(file, t) {
  const table = [];
  pushVarint(table, 2 * t.chunks.length + (t.last ? 1 : 0));
  for (const c of t.chunks) {
    pushVarint(table, c.originalSize * 8 + (c.stripLeadingSpace ? 4 : 0) + c.method);
    if (c.method === 2) pushVarint(table, c.payloadSize);
  }
  pushVarint(table, t.streamSize + 1);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(t.blockCrc);
  const streamEnd = tableEnd(t) + t.streamSize;
  return Buffer.concat([file.subarray(0, t.offset), Buffer.from(table), crc, file.subarray(tableEnd(t), streamEnd), Buffer.of(0), file.subarray(streamEnd)]);
}
/** mix-story's method parameters with byte `i` set to `v`. */
const mixParams = (i, v) => withHeader(ms, (h) => { h.methodParams = Uint8Array.from(h.methodParams); h.methodParams[i] = v; });
const v2errors = [
  ['empty.lmz', Buffer.alloc(0), 'TRUNCATED', 'an empty file'],
  ['bad-magic.lmz', edit(s, (b) => (b[1] = 0x58)), 'NOT_LMZ', 'the magic number is wrong'],
  ['truncated-magic.lmz', s.subarray(0, 5), 'TRUNCATED', 'cut inside the magic'],
  ['version-255.lmz', edit(s, (b) => (b[8] = 255)), 'UNSUPPORTED_VERSION', 'a version this build does not know'],
  ['truncated-header.lmz', s.subarray(0, sl.header.size - 2), 'TRUNCATED', 'cut inside the header'],
  ['header-bitflip.lmz', edit(s, (b) => (b[14] ^= 0x04)), 'CORRUPT_HEADER', 'a flipped bit in the header body (header_crc)'],
  ['reserved-flag.lmz', fixHeaderCrc(edit(s, (b) => (b[9] |= 0x80))), 'CORRUPT_HEADER', 'a reserved flag set (CRC fixed up)'],
  ['model-free-shift.lmz', fixHeaderCrc(edit(one, (b) => (b[9] |= 0x04))), 'CORRUPT_HEADER', 'SHIFT_CONTEXT in a model-free header (CRC fixed up)'],
  ['compact-without-shift.lmz', fixHeaderCrc(edit(s, (b) => (b[9] |= 0x08))), 'CORRUPT_HEADER', 'COMPACT_SHIFT without SHIFT_CONTEXT (CRC fixed up)'],
  ['long-varint.lmz', (() => { // body_size written with a needless zero byte, CRC fixed up
    const bodySize = sl.header.size - 10 - 1 - 4;
    const b = Buffer.concat([s.subarray(0, 10), Buffer.of(0x80 | bodySize, 0x00), s.subarray(11)]);
    return fixHeaderCrc(b);
  })(), 'CORRUPT_HEADER', 'a varint that is not minimal'],
  ['unknown-method.lmz', withHeader(s, (h) => (h.codingMethod = 99)), 'UNSUPPORTED_VERSION', 'coding method 99'],
  ['method-params.lmz', withHeader(s, (h) => (h.methodParams = Uint8Array.of(1))), 'CORRUPT_HEADER', 'coding method 1 with a parameter byte'],
  ['lanes-0.lmz', withHeader(s, (h) => (h.lanes = 0)), 'CORRUPT_HEADER', 'lanes = 0'],
  ['window-over-block.lmz', withHeader(s, (h) => (h.window = h.blockSize + 2)), 'CORRUPT_HEADER', 'a window longer than a block can use'],
  ['overlap.lmz', withHeader(s, (h) => (h.overlap = h.window - 1)), 'CORRUPT_HEADER', 'overlap = window - 1'],
  ['block-size.lmz', withHeader(s, (h) => (h.blockSize = 0)), 'CORRUPT_HEADER', 'a block size of 0 KiB'],
  ['other-model.lmz', withHeader(s, (h) => (h.modelSha256 = 'ff' + h.modelSha256.slice(2))), 'MODEL_MISMATCH', 'model_hash of another model'],
  ['other-profile.lmz', withHeader(s, (h) => (h.profile = h.profile.replace(/isa=[^;]*/, 'isa=x86_64-avx512'))), 'PROFILE_MISMATCH', 'a profile from another build'],
  ['huge-context.lmz', withHeader(s, (h) => { h.blockSize = 1 << 26; h.lanes = 256; h.window = 1 << 20; }), 'RESOURCE_LIMIT',
    'lanes 256 with a window of 2^20: a context far over any memory budget'],
  ['truncated-block.lmz', s.subarray(0, tableEnd(first) + 10), 'TRUNCATED', 'cut inside the first block'],
  ['missing-end.lmz', s.subarray(0, sl.end), 'TRUNCATED', 'cut after the last block'],
  ['block-crc.lmz', edit(s, (b) => (b[tableEnd(first) - 2] ^= 0x01)), 'CHECKSUM_MISMATCH', 'a flipped bit in block_crc'],
  ['stored-bitflip.lmz', edit(one, (b) => (b[ol.blocks[0].offset + ol.blocks[0].tableSize] ^= 0x01)), 'CHECKSUM_MISMATCH',
    'a flipped bit in a stored chunk'],
  ['stream-longer.lmz', streamLonger(s, first), 'CORRUPT_DATA', 'a model stream one byte longer than its tokens use'],
  ['mix-stream-longer.lmz', streamLonger(ms, msl.blocks[0]), 'CORRUPT_DATA', 'method 2: a model stream one byte longer than its tokens use'],
  ['mix-params-version.lmz', mixParams(0, 3), 'CORRUPT_HEADER', 'method 2: mixing parameters of version 3'],
  ['mix-params-range.lmz', mixParams(1, 41), 'CORRUPT_HEADER', 'method 2: a preset for 2^41 tokens'],
  ['mix-params-short.lmz', withHeader(ms, (h) => (h.methodParams = h.methodParams.subarray(0, 1))), 'CORRUPT_HEADER', 'method 2: truncated parameters'],
  ['mix-no-params.lmz', withHeader(ms, (h) => (h.methodParams = new Uint8Array(0))), 'CORRUPT_HEADER', 'method 2 without parameters'],
  ['model-free-model-chunk.lmz', edit(one, (b) => (b[ol.blocks[0].offset + 1] = (b[ol.blocks[0].offset + 1] & ~3) | 1)), 'CORRUPT_HEADER',
    'a model-coded chunk in a model-free member'],
  ['method-3.lmz', edit(s, (b) => (b[first.offset + 1] |= 3)), 'CORRUPT_HEADER', 'chunk method 3'],
  ['too-many-chunks.lmz', Buffer.concat([s.subarray(0, first.offset), varint(2 * 4097 + 1), s.subarray(first.offset + varint(2 * first.chunks.length + 1).length)]),
    'CORRUPT_HEADER', 'a block of 4097 chunks'],
  ['last-dropped.lmz', (() => { // the final block left out, the index rebuilt: the new final block is not marked last
    const kept = bl.blocks.slice(0, -1);
    return Buffer.concat([blocksFile.subarray(0, bl.blocks.at(-1).offset),
      writeEnd({ headerSize: bl.header.size, blocks: kept.map((b) => ({ originalSize: b.originalSize, compressedSize: b.encodedSize })) })]);
  })(), 'CORRUPT_HEADER', 'a member that ends after a block not marked last (its index rebuilt)'],
  ['not-last.lmz', edit(s, (b) => (b[first.offset] &= ~1)), 'CORRUPT_HEADER', 'the only block not marked last'],
  ['zero-padded.lmz', Buffer.concat([s, Buffer.alloc(4)]), 'CORRUPT_HEADER', 'zero bytes after the member'],
  ['trailing-data.lmz', Buffer.concat([s, Buffer.from('x')]), 'CORRUPT_HEADER', 'bytes after the member that are not a member'],
  ['trailing-magic.lmz', Buffer.concat([s, s.subarray(0, 5)]), 'TRUNCATED', 'the start of another magic number at the end'],
  ['next-version-255.lmz', Buffer.concat([s, edit(s, (b) => (b[8] = 255))]), 'UNSUPPORTED_VERSION', 'a second member of an unknown version'],
  ['block-repeated.lmz', Buffer.concat([blocksFile.subarray(0, bl.blocks[1].offset), blocksFile.subarray(bl.blocks[0].offset, bl.blocks[1].offset),
    blocksFile.subarray(bl.blocks[2].offset)]), 'CHECKSUM_MISMATCH', 'the first block again in place of the second (its CRC holds its offset)'],
  ['index-bitflip.lmz', edit(blocksFile, (b) => (b[bl.end + 3] ^= 0x01)), 'CORRUPT_HEADER', 'a flipped bit in the seek index'],
  ['index-mismatch.lmz', (() => { // the index records another original size for block 0, CRC valid
    const blocks = bl.blocks.map((b) => ({ originalSize: b.originalSize, compressedSize: b.encodedSize }));
    blocks[0].originalSize -= 1;
    return Buffer.concat([blocksFile.subarray(0, bl.end), writeEnd({ headerSize: bl.header.size, blocks })]);
  })(), 'CORRUPT_HEADER', 'a seek index that does not match the blocks (its CRC fixed up)'],
  ['footer-magic.lmz', edit(blocksFile, (b) => (b[b.length - 1] = 0x4d)), 'CORRUPT_HEADER', 'a footer that does not end in "ZL"'],
  ['truncated-index.lmz', blocksFile.subarray(0, blocksFile.length - 3), 'TRUNCATED', 'cut inside the footer'],
];
const v2manifest = [];
for (const [file, bytes, code, why] of v2errors) v2manifest.push(await expectCode(v2, file, bytes, code, why));
const info = inspect(s);
writeFileSync(join(v2, 'errors.json'), JSON.stringify({ profile: info.header.profile, modelHash: info.header.modelHash, errors: v2manifest }, null, 2) + '\n');

// ---- version 1 (frozen): the damaged files, derived from story.txt.lmz ---------------------
const v1 = v1Story;
const v1HeaderSize = 16 + v1.readUInt32LE(12) + 4;
const fixV1HeaderCrc = (b) => (b.writeUInt32LE(crc32(b.subarray(0, v1HeaderSize - 4)), v1HeaderSize - 4), b);
const v1edit = (fn) => { const b = Buffer.from(v1); fn(b); return b; };
const frameTable = v1HeaderSize;
const firstPayload = frameTable + 5 + 18 * v1.readUInt32LE(frameTable + 1) + 4;
rmSync(join(golden, 'errors'), { recursive: true, force: true });
mkdirSync(join(golden, 'errors'));
const v1errors = [
  ['empty.lmz', Buffer.alloc(0), 'TRUNCATED', 'an empty input'],
  ['bad-magic.lmz', v1edit((b) => (b[1] = 0x58)), 'NOT_LMZ', 'the magic number is wrong'],
  ['gzip-file.lmz', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), 'NOT_LMZ', 'a gzip header'],
  ['truncated-magic.lmz', v1.subarray(0, 5), 'TRUNCATED', 'cut inside the magic'],
  ['truncated-header.lmz', v1.subarray(0, 40), 'TRUNCATED', 'cut inside the header'],
  ['truncated-payload.lmz', v1.subarray(0, firstPayload + 10), 'TRUNCATED', 'cut inside the first frame'],
  ['truncated-end.lmz', v1.subarray(0, v1.length - 3), 'TRUNCATED', 'cut inside the end block'],
  ['header-bitflip.lmz', v1edit((b) => (b[16 + 40] ^= 0x04)), 'CORRUPT_HEADER', 'a flipped bit in the header body'],
  ['reserved-flag.lmz', fixV1HeaderCrc(v1edit((b) => (b[9] |= 0x80))), 'CORRUPT_HEADER', 'a reserved flag set (CRC fixed up)'],
  ['version-255.lmz', fixV1HeaderCrc(v1edit((b) => (b[8] = 255))), 'UNSUPPORTED_VERSION', 'a future format version (CRC fixed up)'],
  ['table-bitflip.lmz', v1edit((b) => (b[frameTable + 5 + 3] ^= 0x10)), 'CORRUPT_HEADER', 'a flipped bit in a chunk table'],
  // Which check fires first for a damaged v1 payload (length or CRC) is fixed for this file, not by the spec: recorded.
  ['payload-bitflip.lmz', v1edit((b) => (b[firstPayload + 20] ^= 0x01)), null, 'a flipped bit in a model payload'],
  ['trailing-data.lmz', Buffer.concat([v1, Buffer.from('x')]), 'CORRUPT_HEADER', 'bytes after the end block'],
  ['other-model.lmz', fixV1HeaderCrc(v1edit((b) => (b[16] ^= 0xff))), 'MODEL_MISMATCH', 'model_sha256 of another model (CRC fixed up)'],
  ['other-profile.lmz', fixV1HeaderCrc(v1edit((b) => { const i = b.indexOf('isa=x86_64'); b.write('isa=x86_65', i); })), 'PROFILE_MISMATCH',
    'a profile from another build (CRC fixed up)'],
];
const v1manifest = [];
for (const [file, bytes, expected, why] of v1errors) {
  const code = expected ?? (await decompress(bytes, { model }).then(() => 'NO ERROR', (e) => e.code));
  v1manifest.push(await expectCode(golden, file, bytes, code, why));
}
const v1info = inspect(v1);
writeFileSync(join(golden, 'errors.json'), JSON.stringify({ profile: v1info.header.profile, model: v1info.header.modelSha256, errors: v1manifest }, null, 2) + '\n');
model.dispose();
console.log(`test/golden/v2: ${Object.keys(files).length + 1} good files, ${v2errors.length} damaged ones; ` +
  `test/golden: ${v1errors.length} damaged v1 files (profile ${info.header.profile})`);
