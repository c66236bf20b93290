/**
 * A model's identity: the SHA-256 of the whole GGUF file.
 *
 * Any two different files differ, whatever the change. Hashing a multi-GB model
 * takes seconds, so results are cached per (path, size, mtime, inode) in a small
 * JSON file in the cache folder.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { cacheDir } from './models/cache.js';

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

/** Hex SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Hex SHA-256 of a GGUF file, cached by path, size, mtime and inode. */
export async function fingerprintFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const abs = resolve(path);
  const st = await stat(abs);
  const cachePath = fingerprintCachePath(env);
  const cache = await readCache(cachePath);
  const hit = cache[abs];
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ino === st.ino) return hit.sha256;
  const sha256 = await sha256File(abs);
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
