/**
 * A model's identity: the SHA-256 of the whole GGUF file.
 *
 * Any two different files differ, whatever the change. Hashing a multi-GB model
 * takes seconds, so results are cached per (path, size, mtime, inode) in a small
 * JSON file in the cache folder.
 */
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { cacheDir } from './models/cache.js';
import { sha256OfFile } from './models/files.js';

function fingerprintCachePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'fingerprints.json');
}

type CacheFile = Record<string, { size: number; mtimeMs: number; ino: number; sha256: string }>;

async function readCache(path: string): Promise<CacheFile> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as CacheFile;
  } catch {
    return {};
  }
}

/**
 * Hex SHA-256 of a GGUF file, cached by path, size, mtime and inode. Only regular
 * files are read (a FIFO or device is refused, never waited on); `signal` stops the
 * hashing between 1 MiB reads with CANCELLED.
 *
 * @example
 * const sha = await fingerprintFile('stories260K.gguf');
 */
export async function fingerprintFile(path: string, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<string> {
  const abs = resolve(path);
  const st = await stat(abs);
  const cachePath = fingerprintCachePath(env);
  const cache = await readCache(cachePath);
  const hit = cache[abs];
  if (st.isFile() && hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ino === st.ino) return hit.sha256;
  const { sha256 } = await sha256OfFile(abs, { signal });
  try {
    const fresh = await readCache(cachePath);
    fresh[abs] = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256 };
    await mkdir(dirname(cachePath), { recursive: true });
    const tmp = `${cachePath}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(fresh));
    await rename(tmp, cachePath);
  } catch {
    // a read-only cache only costs a re-hash next time
  }
  return sha256;
}

/**
 * The files this machine has fingerprinted (any model lmzip loaded and hashed, e.g. to
 * compress with it) whose SHA-256 begins with `prefix`. A file's header names its model
 * by hash and short name only, so this is how `lmzip -d` finds a local model file it
 * compressed with; the caller still checks each path (it may have changed since).
 *
 * @example
 * const paths = await fingerprintedFiles('270cba1bd5109f42');
 */
export async function fingerprintedFiles(prefix: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const cache = await readCache(fingerprintCachePath(env));
  return Object.entries(cache).filter(([, v]) => typeof v?.sha256 === 'string' && v.sha256.startsWith(prefix)).map(([path]) => path);
}
