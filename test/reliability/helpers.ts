/**
 * Shared fixtures for the reliability tests: the small trained model, sample text it
 * predicts well (so chunks are model-coded), a seeded PRNG, and the .lmz layout
 * offsets the mutators need (docs/FORMAT.md).
 */
import { LmzipError, Model } from '../../src/index.js';
import { ErrorCode } from '../../src/errors.js';
import { crc32 } from '../../src/format/crc32.js';
import { STORIES, vocab } from '../helpers.js';

// The models come from $LMZIP_SHARED_DIR or ../shared (test/shared.ts, which lists
// the files that need them: without them those files are skipped with the reason).
export { GGUF_V1, MODELS, RANDOM_LLAMA, REPO, STORIES } from '../helpers.js';
export const VOCAB_SPM = vocab('llama-spm');
export const VOCAB_GPT2 = vocab('gpt-2');

/** Every code an LmzipError may carry (a mutated file must end in one of these or in the right bytes). */
export const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** Loaded once per test file, one thread: tests run beside other work on 2 cores. */
let stories: Promise<Model> | undefined;
export function storiesModel(): Promise<Model> {
  stories ??= Model.load(STORIES, { threads: 1 });
  return stories;
}

const NAMES = ['Lily', 'Tom', 'Max', 'Sue', 'Ben', 'Mia', 'Sam', 'Anna', 'Tim', 'Lucy', 'Jack', 'Emma', 'Bob', 'Zoe', 'Leo', 'Kate'];
const ANIMALS = ['dog', 'cat', 'bird', 'bunny', 'frog', 'fish', 'bear', 'duck', 'horse', 'mouse', 'puppy', 'kitten'];
const THINGS = ['ball', 'box', 'kite', 'toy', 'hat', 'cake', 'book', 'flower', 'rock', 'car', 'doll', 'apple', 'stick', 'shell', 'cup', 'boat'];
const ADJS = ['big', 'little', 'red', 'happy', 'shiny', 'soft', 'old', 'new', 'funny', 'pretty', 'blue', 'small', 'sad', 'brave', 'kind'];
const PLACES = ['the park', 'the garden', 'the forest', 'the house', 'the lake', 'the school', 'the beach', 'the hill', 'the yard', 'the shop'];
const VERBS = ['found', 'saw', 'wanted', 'liked', 'lost', 'made', 'took', 'gave', 'had', 'shared', 'picked up', 'looked at'];
const TEMPLATES: ((p: () => string[]) => string)[] = [
  (p) => { const [n, a, t] = p(); return `Once upon a time, there was a ${a} ${t} named ${n}.`; },
  (p) => { const [n, , , v, th, pl] = p(); return `One day, ${n} ${v} a ${th} in ${pl}.`; },
  (p) => { const [n, a, , , th] = p(); return `${n} was very ${a} because the ${th} was so nice.`; },
  (p) => { const [n, , , , th, , n2] = p(); return `"Can I play with your ${th}?" asked ${n2}. ${n} said, "Yes, let's play together!"`; },
  (p) => { const [n, , t, , , pl] = p(); return `${n} and the ${t} went to ${pl} and played all day.`; },
  (p) => { const [n, a, , v, th] = p(); return `The ${a} ${th} ${v === 'lost' ? 'was gone' : 'made ' + n + ' smile'}.`; },
  (p) => { const [n, , , , , , n2] = p(); return `${n} said sorry to ${n2}, and they were friends again.`; },
  (p) => { const [, a, t, , , pl] = p(); return `In ${pl}, a ${a} ${t} sat under a tree and looked at the sky.`; },
];

/** Story-like text the model predicts well (better than brotli), deterministic for a seed. */
export function storyText(bytes: number, seed = 1): Buffer {
  const rnd = prng(seed);
  const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)];
  const parts = () => [pick(NAMES), pick(ADJS), pick(ANIMALS), pick(VERBS), pick(THINGS), pick(PLACES), pick(NAMES)];
  let s = '';
  while (s.length < bytes) s += pick(TEMPLATES)(parts) + (rnd() < 0.15 ? '\n\n' : ' ');
  return Buffer.from(s.slice(0, bytes));
}

import { prng } from '../prng.js';
export { prng };

// ---- the container's layout (format version 1) ------------------------------------
export const FILE_HEADER_FIXED = 16;
export const CHUNK_ENTRY = 18;
export const FRAME_FIXED = 5;
export const END_BLOCK = 21;

export interface ChunkAt {
  /** Offset of the chunk's table entry. */
  entry: number;
  method: number;
  originalSize: number;
  tokenCount: number;
  payloadSize: number;
  /** Offset of its payload. */
  payload: number;
}
export interface FrameAt {
  start: number;
  tableEnd: number; // offset of the table's CRC
  end: number;
  chunks: ChunkAt[];
}
export interface Layout {
  headerEnd: number; // first byte after the header CRC
  frames: FrameAt[];
  endBlock: number;
}

/** Where every structure of a valid .lmz file lies (for targeted mutations). */
export function layout(file: Buffer): Layout {
  const bodySize = file.readUInt32LE(12);
  const headerEnd = FILE_HEADER_FIXED + bodySize + 4;
  const frames: FrameAt[] = [];
  let p = headerEnd;
  while (file[p] === 1) {
    const count = file.readUInt32LE(p + 1);
    const tableEnd = p + FRAME_FIXED + count * CHUNK_ENTRY;
    let payload = tableEnd + 4;
    const chunks: ChunkAt[] = [];
    for (let i = 0; i < count; i++) {
      const e = p + FRAME_FIXED + i * CHUNK_ENTRY;
      const c = { entry: e, method: file[e], originalSize: file.readUInt32LE(e + 2), tokenCount: file.readUInt32LE(e + 6),
        payloadSize: file.readUInt32LE(e + 10), payload };
      payload += c.payloadSize;
      chunks.push(c);
    }
    frames.push({ start: p, tableEnd, end: payload, chunks });
    p = payload;
  }
  if (file[p] !== 2 || p + END_BLOCK !== file.length) throw new Error('layout: not a well-formed file');
  return { headerEnd, frames, endBlock: p };
}

/** Recomputes every structure's CRC so a mutation reaches the decoder instead of the parser. */
export function fixChecksums(file: Buffer): Buffer {
  const out = Buffer.from(file);
  try {
    fixInPlace(out);
  } catch {
    // a structure runs past the end: leave the rest as it is
  }
  return out;
}

function fixInPlace(out: Buffer): Buffer {
  if (out.length < 16) return out;
  const bodySize = out.readUInt32LE(12);
  const headerEnd = FILE_HEADER_FIXED + bodySize + 4;
  if (headerEnd > out.length) return out;
  out.writeUInt32LE(crc32(out.subarray(0, headerEnd - 4)), headerEnd - 4);
  let p = headerEnd;
  while (p < out.length && out[p] === 1 && p + FRAME_FIXED <= out.length) {
    const count = out.readUInt32LE(p + 1);
    const tableEnd = p + FRAME_FIXED + count * CHUNK_ENTRY;
    if (count > 4096 || tableEnd + 4 > out.length) return out;
    out.writeUInt32LE(crc32(out.subarray(p, tableEnd)), tableEnd);
    let payloads = 0;
    for (let i = 0; i < count; i++) payloads += out.readUInt32LE(p + FRAME_FIXED + i * CHUNK_ENTRY + 10);
    if (payloads > out.length) return out;
    p = tableEnd + 4 + payloads;
  }
  if (p + END_BLOCK <= out.length && out[p] === 2) out.writeUInt32LE(crc32(out.subarray(p, p + 17)), p + 17);
  return out;
}

/** Runs fn; returns 'ok' with its value, or the LmzipError code. Anything else thrown fails the test. */
export async function outcome<T>(fn: () => Promise<T>): Promise<{ code: string } | { ok: T }> {
  try {
    return { ok: await fn() };
  } catch (e) {
    if (!(e instanceof LmzipError)) throw new Error(`expected an LmzipError, got ${String(e)}`, { cause: e });
    if (!KNOWN_CODES.has(e.code)) throw new Error(`unknown error code ${e.code}`);
    return { code: e.code };
  }
}
