/** Choosing and preparing the inputs: corpus files, byte prefixes, and sized texts for the sweep. */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { parseSize, shortSize } from './util.js';
import type { InputInfo } from './types.js';

/**
 * The --quick / default set: the model's own domain (TinyStories), English
 * prose outside it, and binary data. `name:size` takes the first bytes.
 */
export const QUICK_SET = [
  'tinystories_sample.txt',
  'tinystories-valid-part1.txt:100K',
  'alice29.txt:50K',
  'sample_exe64.elf',
] as const;

/** Text files from the corpus that the size sweep concatenates. */
export const SWEEP_SOURCES = [
  'tinystories-valid-part1.txt',
  'alice29.txt',
  'lcet10.txt',
  'plrabn12.txt',
  'bible.txt',
  'enwik8_small',
] as const;

export interface FileSpec {
  path: string;
  /** 0 = whole file. */
  maxBytes: number;
}

/**
 * Parses "name", "name:64K" or a path; a bare name is looked up in `corpus`.
 * A per-file size wins over `defaultMax`.
 */
export function parseFileSpec(spec: string, corpus: string, defaultMax: number): FileSpec {
  let name = spec;
  let maxBytes = defaultMax;
  const m = /^(.*):(\d+(?:\.\d+)?[kKmMgG]?i?[bB]?)$/.exec(spec);
  if (m && !existsSync(spec)) {
    name = m[1]!;
    maxBytes = parseSize(m[2]!);
  }
  const inCorpus = join(corpus, name);
  const path = isAbsolute(name) || (existsSync(name) && !existsSync(inCorpus)) ? resolve(name) : resolve(inCorpus);
  if (!existsSync(path)) throw new Error(`Input not found: ${spec} (looked for ${path})`);
  return { path, maxBytes };
}

/** Every regular file in the corpus folder except its MANIFEST. */
export function listCorpus(corpus: string): string[] {
  return readdirSync(corpus)
    .filter((f) => !/^MANIFEST/i.test(f) && statSync(join(corpus, f)).isFile())
    .sort();
}

function readPrefix(path: string, n: number): Buffer {
  const size = statSync(path).size;
  const len = n > 0 ? Math.min(n, size) : size;
  const buf = Buffer.alloc(len);
  const fd = openSync(path, 'r');
  try {
    let off = 0;
    while (off < len) {
      const r = readSync(fd, buf, off, len - off, off);
      if (r === 0) break;
      off += r;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

export interface PreparedInput {
  info: InputInfo;
  /** The file the methods read (a prefix copy under tmpDir when cut). */
  file: string;
  data: Buffer;
}

/** Loads an input, writing its prefix to `tmpDir` when it is cut. */
export function prepareInput(spec: FileSpec, tmpDir: string): PreparedInput {
  const fileBytes = statSync(spec.path).size;
  const cut = spec.maxBytes > 0 && spec.maxBytes < fileBytes;
  const data = cut ? readPrefix(spec.path, spec.maxBytes) : readFileSync(spec.path);
  let file = spec.path;
  let name = basename(spec.path);
  if (cut) {
    name = `${name} (first ${shortSize(spec.maxBytes)})`;
    mkdirSync(join(tmpDir, 'inputs'), { recursive: true });
    file = join(tmpDir, 'inputs', `${basename(spec.path)}.first${spec.maxBytes}`);
    writeFileSync(file, data);
  }
  return {
    info: {
      name,
      path: spec.path,
      bytes: data.length,
      fileBytes,
      sha256: createHash('sha256').update(data).digest('hex'),
    },
    file,
    data,
  };
}

/**
 * Writes a text of exactly `bytes` bytes made of the source files one after
 * another, starting again from the first when they run out. Returns the path
 * and whether the sources had to be repeated (which flatters LZ-style methods).
 */
export function makeSizedText(sources: string[], bytes: number, tmpDir: string): { file: string; cycled: boolean } {
  mkdirSync(join(tmpDir, 'sizes'), { recursive: true });
  const file = join(tmpDir, 'sizes', `text-${bytes}`);
  const out = Buffer.alloc(bytes);
  let off = 0;
  let pass = 0;
  while (off < bytes) {
    for (const s of sources) {
      if (off >= bytes) break;
      const d = readPrefix(s, bytes - off);
      d.copy(out, off);
      off += d.length;
    }
    pass++;
    if (pass > 1e6) throw new Error('size sweep sources are empty');
  }
  writeFileSync(file, out);
  return { file, cycled: pass > 1 };
}
