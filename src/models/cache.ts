/**
 * The model cache: a folder a person can read.
 *
 *   <cache>/models/<owner>/<repo>/<revision>/<file>    files from the Hugging Face hub
 *   <cache>/models/url/<host>/<hash12>/<file>           files from other URLs
 *   <cache>/index.json                                  sha256 and reference → file
 *
 * `<cache>` is LMZIP_CACHE_DIR, else $XDG_CACHE_HOME/lmzip, else the platform's
 * cache folder (~/.cache/lmzip, ~/Library/Caches/lmzip, %LOCALAPPDATA%\lmzip\Cache).
 *
 * The index is a convenience, never the truth: a file placed by hand at the
 * documented path is found, and a lost index is rebuilt by hashing the files.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve as resolvePath, sep } from 'node:path';
import { LmzipError } from '../errors.js';
import type { HfFile } from './builtin.js';
import { decodeUriPart, type ModelReference } from './references.js';

/** The cache folder for this environment (not created). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LMZIP_CACHE_DIR) return resolvePath(env.LMZIP_CACHE_DIR);
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) return join(env.XDG_CACHE_HOME, 'lmzip');
  const home = env.HOME || env.USERPROFILE || homedir();
  if (process.platform === 'darwin') return join(home, 'Library', 'Caches', 'lmzip');
  if (process.platform === 'win32') {
    const local = env.LOCALAPPDATA || join(home, 'AppData', 'Local');
    return join(local, 'lmzip', 'Cache');
  }
  return join(home, '.cache', 'lmzip');
}

export function modelsDir(cache: string): string {
  return join(cache, 'models');
}

function safeSegment(s: string): string {
  // Keep names readable; encode only what a file system or a path walk would misread.
  const enc = s.replace(/[^A-Za-z0-9._@+-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return enc === '.' || enc === '..' || enc === '' ? `%2E${enc.slice(1)}` : enc;
}

/** Where a file from the hub lives in the cache. */
export function hfCachePath(cache: string, hf: HfFile): string {
  const fileParts = hf.file.split('/').map(safeSegment);
  return join(modelsDir(cache), safeSegment(hf.owner), safeSegment(hf.repo), safeSegment(hf.revision), ...fileParts);
}

/** Where a file from a plain URL lives in the cache. */
export function urlCachePath(cache: string, url: string): string {
  const u = new URL(url);
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 12);
  let base = decodeUriPart(u.pathname.split('/').pop() || '') || 'model.gguf';
  if (!base.toLowerCase().endsWith('.gguf')) base += '.gguf';
  return join(modelsDir(cache), 'url', safeSegment(u.host), hash, safeSegment(base));
}

/** The cache path for a reference that lives in the cache (not for local paths). */
export function cachePathFor(cache: string, ref: ModelReference): string | undefined {
  switch (ref.kind) {
    case 'builtin':
    case 'hf':
      return hfCachePath(cache, ref.hf);
    case 'url':
      return urlCachePath(cache, ref.url);
    case 'path':
      return undefined;
  }
}

/** Whether `p` is inside `dir` (both absolute). */
export function isInside(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

// ---------------------------------------------------------------------------
// The index

export interface IndexEntry {
  /** Path relative to the cache folder, with forward slashes. */
  file: string;
  /** Canonical references that resolved to this file. */
  references: string[];
  sha256: string;
  size: number;
  /** Whether the SHA-256 was checked against a pinned or server-reported value. */
  verified: boolean;
  addedAt: string;
}

interface IndexFile {
  version: 1;
  models: IndexEntry[];
}

const INDEX_NAME = 'index.json';

export async function readIndex(cache: string): Promise<IndexEntry[]> {
  let text: string;
  try {
    text = await readFile(join(cache, INDEX_NAME), 'utf8');
  } catch {
    return [];
  }
  try {
    const data = JSON.parse(text) as Partial<IndexFile>;
    if (data.version !== 1 || !Array.isArray(data.models)) return [];
    return data.models.filter(
      (m): m is IndexEntry =>
        typeof m?.file === 'string' &&
        typeof m.sha256 === 'string' &&
        typeof m.size === 'number' &&
        Array.isArray(m.references),
    );
  } catch {
    return []; // a damaged index is rebuilt from the files
  }
}

async function writeIndex(cache: string, models: IndexEntry[]): Promise<void> {
  await mkdir(cache, { recursive: true });
  const target = join(cache, INDEX_NAME);
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  const data: IndexFile = { version: 1, models };
  await writeFile(tmp, JSON.stringify(data, null, 2) + '\n');
  await rename(tmp, target);
}

export function toIndexPath(cache: string, abs: string): string {
  return relative(cache, abs).split(sep).join('/');
}

export function fromIndexPath(cache: string, file: string): string {
  return join(cache, ...file.split('/'));
}

/** Adds or updates the entry for `abs`, merging references. Re-reads the index first. */
export async function recordInIndex(
  cache: string,
  entry: { path: string; reference?: string; sha256: string; size: number; verified: boolean },
): Promise<void> {
  const models = await readIndex(cache);
  const file = toIndexPath(cache, entry.path);
  const existing = models.find((m) => m.file === file);
  if (existing && existing.sha256 === entry.sha256 && existing.size === entry.size) {
    if (entry.reference && !existing.references.includes(entry.reference)) existing.references.push(entry.reference);
    existing.verified ||= entry.verified;
  } else {
    const kept = models.filter((m) => m.file !== file);
    kept.push({
      file,
      references: entry.reference ? [entry.reference] : [],
      sha256: entry.sha256,
      size: entry.size,
      verified: entry.verified,
      addedAt: new Date().toISOString(),
    });
    models.splice(0, models.length, ...kept);
  }
  await writeIndex(cache, models);
}

/** Drops index entries for the given absolute paths. */
export async function removeFromIndex(cache: string, paths: string[]): Promise<void> {
  const files = new Set(paths.map((p) => toIndexPath(cache, p)));
  const models = await readIndex(cache);
  const kept = models.filter((m) => !files.has(m.file));
  if (kept.length !== models.length) await writeIndex(cache, kept);
}

// ---------------------------------------------------------------------------
// Files

export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

export interface CachedFile {
  path: string;
  size: number;
  /** Present when the file is in the index. */
  entry?: IndexEntry;
  /** Set for `.partial` downloads. */
  partial?: boolean;
}

/** Every GGUF file (and unfinished download) under `<cache>/models`, with its index entry if any. */
export async function listCacheFiles(cache: string): Promise<CachedFile[]> {
  const root = modelsDir(cache);
  const index = await readIndex(cache);
  const byFile = new Map(index.map((m) => [m.file, m]));
  const out: CachedFile[] = [];
  async function walk(dir: string, depth: number): Promise<void> {
    if (depth > 12) return;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile()) {
        const lower = e.name.toLowerCase();
        const partial = lower.endsWith('.gguf.partial');
        if (!lower.endsWith('.gguf') && !partial) continue;
        const size = (await fileSize(p)) ?? 0;
        const entry = partial ? undefined : byFile.get(toIndexPath(cache, p));
        out.push({ path: p, size, ...(entry ? { entry } : {}), ...(partial ? { partial } : {}) });
      }
    }
  }
  await walk(root, 0);
  out.sort((a, b) => a.path.localeCompare(b.path));
  return out;
}

/** Removes a cached file, its unfinished download and side files, and empty parent folders up to `<cache>/models`. */
export async function removeCachedFile(cache: string, path: string): Promise<void> {
  const root = modelsDir(cache);
  if (!isInside(root, path)) {
    throw new LmzipError('INVALID_ARGUMENT', `Refusing to remove ${path}: it is not inside the model cache ${root}`);
  }
  const base = path.replace(/\.partial$/, '');
  for (const p of [base, `${base}.partial`, `${base}.partial.json`, `${base}.lock`]) {
    await rm(p, { force: true });
  }
  await removeFromIndex(cache, [base]);
  let dir = dirname(base);
  while (isInside(root, dir)) {
    try {
      if ((await readdir(dir)).length > 0) break;
      await rmdir(dir);
    } catch {
      break;
    }
    dir = dirname(dir);
  }
}
