/**
 * A coverage-guided fuzzer for the TypeScript container parser (src/format/reader.ts):
 * V8's precise block coverage (node:inspector) is the feedback, the golden .lmz files
 * are the seeds, and the mutators know the format (fields set to edge values, CRCs
 * recomputed half of the time so damage gets past the checksums).
 *
 *   node --import tsx test/reliability/fuzz-container.ts [SECONDS] [--save]
 *
 * Properties for every input:
 *  - LmzReader either completes or throws an LmzipError (anything else is a crash);
 *  - pushing the input in one piece, byte by byte, or in random pieces gives the same
 *    outcome (same events, or the same error code);
 *  - what it accepts respects the format's limits (chunk sizes, counts, payload sizes).
 * Crashes are written to test/reliability/crashers/container/ (replayed by
 * container-fuzz.test.ts). --save also writes inputs that added coverage to
 * build-fuzz/corpus/container/.
 */
import { Session } from 'node:inspector';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { LmzipError } from '../../src/errors.js';
import { LmzReader, type ReadEvent } from '../../src/format/reader.js';
import { MAX_CHUNK_SIZE, MAX_CHUNKS_PER_FRAME, MAX_FRAME_SIZE } from '../../src/format/constants.js';
import { REPO, fixChecksums, prng } from './helpers.js';

export const CRASH_DIR = resolve(REPO, 'test/reliability/crashers/container');

/** The outcome of parsing `data` pushed in the given piece sizes. */
function parse(data: Buffer, pieces: number[] | 'one' | 'bytes'): string {
  const reader = new LmzReader();
  const events: ReadEvent[] = [];
  try {
    if (pieces === 'one') events.push(...reader.push(data));
    else if (pieces === 'bytes') for (let i = 0; i < data.length; i++) events.push(...reader.push(data.subarray(i, i + 1)));
    else {
      let p = 0;
      for (const n of pieces) {
        events.push(...reader.push(data.subarray(p, p + n)));
        p += n;
      }
      events.push(...reader.push(data.subarray(p)));
    }
    reader.finish();
  } catch (e) {
    if (e instanceof LmzipError) return `error ${e.code}`;
    throw e;
  }
  for (const ev of events) {
    if (ev.type !== 'frame') continue;
    const chunks = ev.frame.chunks;
    if (chunks.length < 1 || chunks.length > MAX_CHUNKS_PER_FRAME) throw new Error(`accepted a frame of ${chunks.length} chunks`);
    let total = 0;
    chunks.forEach((c, i) => {
      if (c.originalSize < 1 || c.originalSize > MAX_CHUNK_SIZE) throw new Error(`accepted chunk size ${c.originalSize}`);
      if (ev.frame.payloads[i].length !== c.payloadSize) throw new Error('payload length differs from its table entry');
      if (c.method === 1 && c.tokenCount > c.originalSize + 1) throw new Error(`accepted ${c.tokenCount} tokens for ${c.originalSize} bytes`);
      total += c.originalSize;
    });
    if (total > MAX_FRAME_SIZE) throw new Error(`accepted a frame of ${total} bytes`);
  }
  return 'ok ' + events.map((e) => (e.type === 'frame' ? `frame:${e.frame.chunks.length}:${e.frame.encodedSize}` : e.type)).join(',');
}

/** Runs every property on one input; throws on a violation. */
export function checkInput(data: Buffer, seed = 1): void {
  const rnd = prng(seed);
  const whole = parse(data, 'one');
  const pieces: number[] = [];
  for (let left = data.length; left > 0;) {
    const n = 1 + Math.floor(rnd() * Math.min(left, 64));
    pieces.push(n);
    left -= n;
  }
  const split = parse(data, pieces);
  if (split !== whole) throw new Error(`pieces ${JSON.stringify(pieces.slice(0, 8))}…: "${split}" vs one piece: "${whole}"`);
  if (data.length <= 4096) {
    const bytes = parse(data, 'bytes');
    if (bytes !== whole) throw new Error(`byte by byte: "${bytes}" vs one piece: "${whole}"`);
  }
}

// ---- coverage ----------------------------------------------------------------------
const session = new Session();
session.connect();
function post<T>(method: string, params?: object): T {
  let result: T | undefined;
  let error: Error | null = null;
  session.post(method, params ?? {}, (err, res) => {
    error = err;
    result = res as T;
  });
  if (error) throw error;
  if (result === undefined) throw new Error(`${method} did not answer synchronously`);
  return result;
}
interface Coverage { result: { url: string; functions: { functionName: string; ranges: { startOffset: number; endOffset: number; count: number }[] }[] }[] }
function features(): Set<string> {
  const out = new Set<string>();
  for (const script of post<Coverage>('Profiler.takePreciseCoverage').result) {
    if (!script.url.includes('/src/format/')) continue;
    for (const f of script.functions)
      for (const r of f.ranges) if (r.count > 0) out.add(`${script.url.slice(-12)}:${r.startOffset}:${Math.min(8, Math.ceil(Math.log2(r.count + 1)))}`);
  }
  return out;
}

// ---- mutations ---------------------------------------------------------------------
const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 4096, 4097, 1 << 24, (1 << 24) + 1, 1 << 26, 0x7fffffff, 0xffffffff];
function mutate(input: Buffer, corpus: Buffer[], rnd: () => number): Buffer {
  let b = Buffer.from(input);
  const pick = (n: number) => Math.floor(rnd() * n);
  const rounds = 1 + pick(4);
  for (let k = 0; k < rounds; k++) {
    switch (pick(9)) {
      case 0: if (b.length) b[pick(b.length)] ^= 1 << pick(8); break;
      case 1: if (b.length) b[pick(b.length)] = pick(256); break;
      case 2: if (b.length >= 4) b.writeUInt32LE(INTERESTING[pick(INTERESTING.length)] >>> 0, pick(b.length - 3)); break;
      case 3: if (b.length >= 2) b.writeUInt16LE(INTERESTING[pick(INTERESTING.length)] & 0xffff, pick(b.length - 1)); break;
      case 4: b = b.subarray(0, pick(b.length + 1)); break; // truncate
      case 5: { // delete a range
        const a = pick(b.length + 1), n = pick(32);
        b = Buffer.concat([b.subarray(0, a), b.subarray(a + n)]);
        break;
      }
      case 6: { // duplicate a range
        const a = pick(b.length + 1), n = pick(64);
        b = Buffer.concat([b.subarray(0, a), b.subarray(a, a + n), b.subarray(a)]);
        break;
      }
      case 7: { // splice with another input
        const o = corpus[pick(corpus.length)];
        const a = pick(b.length + 1), c = pick(o.length + 1);
        b = Buffer.concat([b.subarray(0, a), o.subarray(c)]);
        break;
      }
      case 8: b = Buffer.concat([b, Buffer.from([pick(3), pick(256), pick(256), 0, 0])]); break;
    }
  }
  return rnd() < 0.5 ? fixChecksums(b) : b;
}

function seeds(): Buffer[] {
  const out: Buffer[] = [];
  const golden = resolve(REPO, 'test/golden');
  for (const dir of [golden, join(golden, 'errors'), CRASH_DIR, resolve(REPO, 'build-fuzz/corpus/container')]) {
    let names: string[] = [];
    try { names = readdirSync(dir); } catch { continue; }
    for (const n of names) if (n.endsWith('.lmz') || dir.includes('corpus') || dir === CRASH_DIR) {
      if (n.startsWith('.')) continue;
      out.push(readFileSync(join(dir, n)));
    }
  }
  return out;
}

export interface FuzzStats { execs: number; corpus: number; features: number; crashes: string[]; seconds: number }

export function fuzz(seconds: number, options: { seed?: number; save?: boolean } = {}): FuzzStats {
  const rnd = prng(options.seed ?? Date.now() & 0xffffffff);
  post('Profiler.enable');
  post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  const corpus = seeds();
  if (corpus.length === 0) corpus.push(Buffer.alloc(0));
  const seen = new Set<string>();
  const crashes: string[] = [];
  let execs = 0;
  const run = (input: Buffer): boolean => {
    execs++;
    try {
      checkInput(input, execs);
    } catch (e) {
      const name = `crash-${createHash('sha1').update(input).digest('hex').slice(0, 16)}`;
      mkdirSync(CRASH_DIR, { recursive: true });
      writeFileSync(join(CRASH_DIR, name), input);
      crashes.push(`${name}: ${(e as Error).message}`);
      return false;
    }
    let fresh = false;
    for (const f of features()) if (!seen.has(f)) { seen.add(f); fresh = true; }
    return fresh;
  };
  features(); // reset counters
  for (const s of corpus) run(s);
  const started = performance.now();
  while ((performance.now() - started) / 1000 < seconds) {
    const parent = corpus[Math.floor(rnd() * corpus.length)];
    const child = mutate(parent, corpus, rnd);
    if (child.length > 1 << 16) continue;
    if (run(child)) {
      corpus.push(child);
      if (options.save) {
        const dir = resolve(REPO, 'build-fuzz/corpus/container');
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, createHash('sha1').update(child).digest('hex').slice(0, 16)), child);
      }
    }
  }
  post('Profiler.stopPreciseCoverage');
  return { execs, corpus: corpus.length, features: seen.size, crashes, seconds: (performance.now() - started) / 1000 };
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === resolve(REPO, 'test/reliability/fuzz-container.ts');
if (invokedDirectly) {
  const seconds = Number(process.argv[2] ?? 60);
  const stats = fuzz(seconds, { save: process.argv.includes('--save') });
  console.log(`container  ${stats.seconds.toFixed(0)}s  execs=${stats.execs} (${(stats.execs / stats.seconds).toFixed(0)}/s) ` +
    `features=${stats.features} corpus=${stats.corpus} crashes=${stats.crashes.length}`);
  for (const c of stats.crashes.slice(0, 10)) console.log(`  ${c}`);
  process.exitCode = stats.crashes.length ? 1 : 0;
}
