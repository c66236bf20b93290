/**
 * Finding, fetching, checking and remembering models.
 *
 * @example
 * const { path, reference } = await resolveModel('smollm2-135m');   // downloads once, then cached
 * const model = await Model.load(path);
 *
 * @example
 * // decompressing: the file names its model by SHA-256 and reference
 * const path = await findCachedModel({ sha256: header.modelSha256, reference: header.modelReference });
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { LmzipError } from '../errors.js';
import { fingerprintedFiles, fingerprintFile } from '../fingerprint.js';
import { type BuiltinModel, DEFAULT_MODEL_NAME, findBuiltinBySha256, findBuiltinModel } from './builtin.js';
import {
  cacheDir,
  cachePathFor,
  fileSize,
  fromIndexPath,
  isInside,
  listCacheFiles,
  readIndex,
  recordInIndex,
} from './cache.js';
import { DownloadError, downloadFile } from './download.js';
import { looksLikeGguf } from './files.js';
import {
  type ModelReference,
  builtinNamesList,
  canonicalReference,
  hfEndpoint,
  hfResolveUrl,
  parseModelReference,
} from './references.js';

export { cacheDir } from './cache.js';
export { DEFAULT_MODEL_NAME, builtinModels, findBuiltinModel, type BuiltinModel } from './builtin.js';
export { parseModelReference, type ModelReference } from './references.js';

export interface ResolvedModel {
  /** Absolute path of a local GGUF file, ready to load. */
  path: string;
  /** Canonical reference to record in .lmz files: built-in name, https URL, hf:owner/repo/file.gguf@rev, or absolute path. */
  reference: string;
  /** Known SHA-256 (hex) when pinned or verified. */
  sha256?: string;
  /** Recommended compression window (tokens) for built-in models. */
  window?: number;
  /** The built-in table entry, when the reference is a built-in name. */
  builtin?: BuiltinModel;
}

export interface ResolveOptions {
  /** Cache folder; defaults to cacheDir(env). */
  cacheDir?: string;
  /** Never touch the network (also LMZIP_OFFLINE=1 or HF_HUB_OFFLINE=1). */
  offline?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Download progress in bytes. Called only while downloading. */
  onProgress?: (received: number, total?: number) => void;
  signal?: AbortSignal;
  /** Called once before a download starts (e.g. to print "downloading … from …"). */
  onDownloadStart?: (info: { reference: string; url: string; dest: string; size?: number }) => void;
  /** Directory relative paths are taken from (default process.cwd()). */
  cwd?: string;
  /** Extra download attempts after an interruption (default 3). */
  retries?: number;
  /** Pause before the first retry in ms (default 500). */
  retryDelayMs?: number;
}

/** LMZIP_MODEL, else the built-in default name. */
export function defaultModelReference(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.LMZIP_MODEL?.trim();
  return fromEnv ? fromEnv : DEFAULT_MODEL_NAME;
}

function isOffline(options: ResolveOptions, env: NodeJS.ProcessEnv): boolean {
  const truthy = (v: string | undefined) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
  return options.offline === true || truthy(env.LMZIP_OFFLINE) || truthy(env.HF_HUB_OFFLINE);
}

function sourceUrl(ref: ModelReference, env: NodeJS.ProcessEnv): string | undefined {
  if (ref.kind === 'builtin' || ref.kind === 'hf') return hfResolveUrl(ref.hf, env);
  if (ref.kind === 'url') return ref.url;
  return undefined;
}

/** The lines that tell a person how to get a model without lmzip's help. */
function byHandAdvice(url: string | undefined, dest: string | undefined, fileName: string): string {
  const lines: string[] = [];
  if (url) lines.push(`To fetch it by other means, download ${url}`);
  if (dest) lines.push(`${url ? 'and' : 'Then'} place it at ${dest}`);
  lines.push(`${dest ? 'or ' : ''}pass it directly with -m /path/to/${fileName}`);
  return lines.join('\n  ');
}

function describeWanted(reference: string, builtin: BuiltinModel | undefined, sha256?: string): string {
  const parts: string[] = [];
  if (builtin) parts.push(`${builtin.parameters} ${builtin.quantization}, ${builtin.approxSize}`);
  if (sha256) parts.push(`SHA-256 ${sha256}`);
  return `model ${reference}${parts.length ? ` (${parts.join('; ')})` : ''}`;
}

/** Looks for a cached, indexed file with this SHA-256 (or one beginning with it) whose size still matches. */
async function indexedBySha(cache: string, sha256: string): Promise<string | undefined> {
  for (const m of await readIndex(cache)) {
    if (!m.sha256.startsWith(sha256)) continue;
    const p = fromIndexPath(cache, m.file);
    if ((await fileSize(p)) === m.size) return p;
  }
  return undefined;
}

/**
 * Turns a reference (built-in name, path, https URL, hf:owner/repo/file.gguf[@rev])
 * into a local GGUF file, downloading it into the cache when needed.
 *
 * Errors (LmzipError): INVALID_ARGUMENT for a malformed reference; MODEL_NOT_FOUND for
 * a missing local file; MODEL_UNAVAILABLE when offline or the download fails (the
 * message says what was needed, from where, and where to put the file by hand);
 * MODEL_HASH_MISMATCH when the download is not the expected file (nothing is kept);
 * CANCELLED when `signal` aborts (a partial download is kept and resumed next time).
 */
export async function resolveModel(ref: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
  const env = options.env ?? process.env;
  const parsed = parseModelReference(ref, { env, ...(options.cwd ? { cwd: options.cwd } : {}) });
  const reference = canonicalReference(parsed);

  if (parsed.kind === 'path') {
    let isFile = false;
    try {
      isFile = (await stat(parsed.path)).isFile();
    } catch {
      /* missing */
    }
    if (!isFile) {
      const hint = parsed.bareWord
        ? `"${ref}" is neither a built-in model name (${builtinNamesList()}) nor a file in the current folder`
        : `model file not found: ${parsed.path}`;
      throw new LmzipError('MODEL_NOT_FOUND', hint);
    }
    return { path: parsed.path, reference };
  }

  const cache = options.cacheDir ?? cacheDir(env);
  const dest = cachePathFor(cache, parsed) as string;
  const builtin = parsed.kind === 'builtin' ? parsed.model : undefined;
  const pinnedSha = builtin?.sha256;
  const pinnedSize = builtin?.size;
  const extra = builtin ? { window: builtin.window, builtin } : {};

  // 1. Already in the cache at its own path.
  const index = await readIndex(cache);
  const size = await fileSize(dest);
  if (size !== undefined) {
    const entry = index.find((m) => fromIndexPath(cache, m.file) === dest && m.size === size);
    if (entry && (pinnedSha === undefined || entry.sha256 === pinnedSha)) {
      if (!entry.references.includes(reference)) {
        await recordInIndex(cache, { path: dest, reference, sha256: entry.sha256, size, verified: entry.verified });
      }
      return { path: dest, reference, sha256: entry.sha256, ...extra };
    }
    // Placed by hand, or the index was lost: check what can be checked.
    const sha = await fingerprintFile(dest, env, options.signal);
    if (pinnedSha === undefined || sha === pinnedSha) {
      await recordInIndex(cache, { path: dest, reference, sha256: sha, size, verified: pinnedSha !== undefined });
      return { path: dest, reference, sha256: sha, ...extra };
    }
    if (isOffline(options, env)) {
      throw new LmzipError(
        'MODEL_HASH_MISMATCH',
        `The file at ${dest} is not ${describeWanted(reference, builtin, pinnedSha)}: its SHA-256 is ${sha}.\n  Remove it (lmzip models rm ${reference}) and fetch the model again.`,
      );
    }
    // Not the pinned file: download the right one over it.
  }

  // 2. The same bytes cached under another reference.
  if (pinnedSha) {
    const other = await indexedBySha(cache, pinnedSha);
    if (other) return { path: other, reference, sha256: pinnedSha, ...extra };
  }

  // 3. Fetch.
  const url = sourceUrl(parsed, env) as string;
  const fileName = basename(dest);
  if (isOffline(options, env)) {
    throw new LmzipError(
      'MODEL_UNAVAILABLE',
      `${describeWanted(reference, builtin, pinnedSha)} is not in the cache, and downloads are off (offline mode).\n  ${byHandAdvice(url, dest, fileName)}`,
    );
  }
  options.onDownloadStart?.({ reference, url, dest, ...(pinnedSize !== undefined ? { size: pinnedSize } : {}) });
  const hubOrigin = new URL(hfEndpoint(env)).origin;
  const token = env.LMZIP_HF_TOKEN || env.HF_TOKEN || undefined;
  try {
    const result = await downloadFile({
      url,
      dest,
      ...(pinnedSha ? { expectedSha256: pinnedSha } : {}),
      ...(pinnedSize !== undefined ? { expectedSize: pinnedSize } : {}),
      ...(parsed.kind !== 'url' ? { hubOrigin } : {}),
      ...(token && parsed.kind !== 'url' ? { authToken: token } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    });
    await recordInIndex(cache, { path: dest, reference, sha256: result.sha256, size: result.size, verified: result.verified });
    return { path: dest, reference, sha256: result.sha256, ...extra };
  } catch (e) {
    if (!(e instanceof LmzipError)) throw e;
    if (e.code === 'CANCELLED') throw e;
    const what = describeWanted(reference, builtin, pinnedSha);
    if (e.code === 'MODEL_HASH_MISMATCH') {
      throw new LmzipError(
        'MODEL_HASH_MISMATCH',
        `Downloaded ${what} from ${url}, but it is not the expected file: ${e.message}. Nothing was kept.\n  ${byHandAdvice(url, dest, fileName)}`,
        { cause: e },
      );
    }
    const partial = (await fileSize(`${dest}.partial`)) ?? 0;
    const resume = partial > 0 && e instanceof DownloadError && e.code === 'MODEL_UNAVAILABLE'
      ? `\n  ${partial} bytes were kept; running the command again resumes the download.`
      : '';
    throw new LmzipError(
      e.code,
      `Could not download ${what}\n  from ${url}\n  because ${e.message}.${resume}\n  ${byHandAdvice(url, dest, fileName)}`,
      { cause: e },
    );
  }
}

/**
 * A cached GGUF file whose SHA-256 is `want.sha256` (or begins with it: format v2
 * records the first 16 hex digits), or undefined. Never downloads.
 * Looks in the index, then at the path the reference names (a local file or its
 * cache path), then at the local files this machine has fingerprinted with that hash
 * (the model file a file was compressed with here), then hashes unindexed GGUF files
 * under the cache (files placed by hand).
 *
 * The reference comes from a file's header, so it is untrusted: a path it names is
 * only hashed when it is a regular file that starts like a GGUF (looksLikeGguf:
 * opened without blocking, so /proc/kmsg, a FIFO or a device is skipped, never read),
 * and hashing stops when `options.signal` aborts.
 *
 * @example
 * const path = await findCachedModel({ sha256: header.modelSha256, reference: header.modelReference }, { signal });
 */
export async function findCachedModel(
  want: { sha256: string; reference?: string },
  options: ResolveOptions = {},
): Promise<string | undefined> {
  const env = options.env ?? process.env;
  const cache = options.cacheDir ?? cacheDir(env);
  const sha = want.sha256.toLowerCase();

  const indexed = await indexedBySha(cache, sha);
  if (indexed) return indexed;

  const candidates: string[] = [];
  if (want.reference) {
    try {
      const parsed = parseModelReference(want.reference, { env });
      const p = parsed.kind === 'path' ? parsed.path : cachePathFor(cache, parsed);
      if (p) candidates.push(p);
    } catch {
      /* an unparsable reference still leaves the hash to search by */
    }
  }
  const builtin = findBuiltinBySha256(sha);
  if (builtin) candidates.push(cachePathFor(cache, { kind: 'builtin', model: builtin, hf: builtin.source }) as string);
  // Local model files this machine has used (hashed before, e.g. to compress with them).
  for (const p of await fingerprintedFiles(sha, env)) if (!candidates.includes(p)) candidates.push(p);
  for (const p of candidates) {
    if (!(await looksLikeGguf(p))) continue;
    const full = await fingerprintFile(p, env, options.signal);
    if (full.startsWith(sha)) {
      if (isInside(cache, p)) {
        await recordInIndex(cache, { path: p, ...(want.reference ? { reference: want.reference } : {}), sha256: full, size: (await fileSize(p)) as number, verified: true }).catch(() => undefined);
      }
      return p;
    }
  }

  const indexedFiles = new Set((await readIndex(cache)).map((m) => fromIndexPath(cache, m.file)));
  for (const f of await listCacheFiles(cache)) {
    if (f.partial || indexedFiles.has(f.path) || !(await looksLikeGguf(f.path))) continue;
    const got = await fingerprintFile(f.path, env, options.signal);
    await recordInIndex(cache, { path: f.path, sha256: got, size: f.size, verified: false }).catch(() => undefined);
    if (got.startsWith(sha)) return f.path;
  }
  return undefined;
}

/**
 * The error for a compressed file whose model is not available: names the model,
 * its SHA-256, and the exact command or flag that fixes it.
 *
 * @example
 * const path = await findCachedModel(want) ?? throw missingModelError(want);
 */
export function missingModelError(
  want: { sha256: string; reference?: string },
  options: { env?: NodeJS.ProcessEnv; cacheDir?: string } = {},
): LmzipError {
  const env = options.env ?? process.env;
  const cache = options.cacheDir ?? cacheDir(env);
  const builtin = (want.reference ? findBuiltinModel(want.reference) : undefined) ?? findBuiltinBySha256(want.sha256);
  const lines = [
    `This file was compressed with ${describeWanted(want.reference || builtin?.name || '(unnamed)', builtin, want.sha256)}, which is not in the model cache (${cache}).`,
  ];
  let pullable: string | undefined;
  if (builtin && (builtin.sha256 === undefined || builtin.sha256 === want.sha256)) pullable = builtin.name;
  else if (want.reference) {
    try {
      const parsed = parseModelReference(want.reference, { env });
      if (parsed.kind !== 'path') pullable = canonicalReference(parsed);
    } catch {
      /* not a reference lmzip can fetch */
    }
  }
  if (pullable) lines.push(`Fetch it with:  lmzip models pull ${pullable}`);
  lines.push(`or pass the model file with -m /path/to/model.gguf (its SHA-256 must be ${want.sha256}).`);
  return new LmzipError('MODEL_NOT_FOUND', lines.join('\n  '));
}
