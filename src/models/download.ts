/**
 * Downloads one model file into the cache: `<dest>.partial` first, resumed with
 * an HTTP Range request after an interruption, checked for size and SHA-256,
 * and renamed to `<dest>` only when complete and correct.
 *
 * The expected SHA-256 is the pinned one when given, else the one the Hugging
 * Face hub reports for LFS files (`X-Linked-Etag`, or a 64-hex `ETag` from the
 * hub itself). Redirects are followed by hand so those headers are seen on the
 * hub's response before the CDN's.
 */
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LmzipError } from '../errors.js';
import { hashInto, openRegularFile } from './files.js';
import { refusedModelUrl } from './references.js';

export interface DownloadRequest {
  /** First URL to fetch. */
  url: string;
  /** Final path of the file. */
  dest: string;
  /** Pinned SHA-256 (hex); wins over what the server reports. */
  expectedSha256?: string;
  /** Pinned size in bytes. */
  expectedSize?: number;
  /**
   * Origin (`https://huggingface.co`) whose responses may carry the file's SHA-256
   * in a plain `ETag`, and the only origin an auth token is sent to.
   */
  hubOrigin?: string;
  /** Bearer token for the hub (HF_TOKEN), sent only to `hubOrigin`. */
  authToken?: string;
  signal?: AbortSignal;
  onProgress?: (received: number, total?: number) => void;
  /** Further attempts after an interrupted or failed transfer (default 3). Each resumes. */
  retries?: number;
  /** Abort an attempt when no byte arrives for this long (default 60 s). */
  stallTimeoutMs?: number;
  /** Pause before retry n is `retryDelayMs * 2^n` (default 500 ms). */
  retryDelayMs?: number;
}

export interface DownloadResult {
  path: string;
  sha256: string;
  size: number;
  /** True when the SHA-256 matched a pinned or server-reported value. */
  verified: boolean;
}

/** Failure of one attempt; `retryable` says whether another attempt may help. */
export class DownloadError extends LmzipError {
  readonly retryable: boolean;
  readonly status?: number;
  constructor(
    code: 'MODEL_UNAVAILABLE' | 'MODEL_HASH_MISMATCH' | 'MODEL_INVALID' | 'CANCELLED' | 'IO_ERROR',
    message: string,
    opts: { retryable?: boolean; status?: number; cause?: unknown } = {},
  ) {
    super(code, message, { cause: opts.cause });
    this.name = 'LmzipError';
    this.retryable = opts.retryable ?? false;
    if (opts.status !== undefined) this.status = opts.status;
  }
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** `"abc…"` or `W/"abc…"` → `abc…` when it is a SHA-256, else undefined. */
export function parseShaHeader(value: string | null): string | undefined {
  if (!value) return undefined;
  const v = value.trim().replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
  return SHA256_HEX.test(v) ? v : undefined;
}

function parseSize(value: string | null): number | undefined {
  if (!value || !/^\d+$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `bytes 100-199/1000` → { start: 100, end: 199, total: 1000 }. */
export function parseContentRange(value: string | null): { start: number; end: number; total?: number } | undefined {
  const m = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), ...(m[3] !== '*' ? { total: Number(m[3]) } : {}) };
}

/** A short, human reason for a fetch() failure. */
export function describeNetworkError(e: unknown, url: string): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (e as { code?: string })?.code;
  let host = url;
  try {
    host = new URL(url).host;
  } catch {
    /* keep the URL */
  }
  switch (code) {
    case 'ECONNREFUSED':
      return `the server at ${host} refused the connection`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name ${host} could not be resolved (no network?)`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `the connection to ${host} timed out`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return `the connection to ${host} was cut`;
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `the network to ${host} is unreachable (offline?)`;
    default: {
      const msg = cause?.message ?? (e as Error)?.message ?? String(e);
      return `${msg} (${host})`;
    }
  }
}

interface PartialMeta {
  url: string;
  sha256?: string;
  size?: number;
}

async function readMeta(path: string): Promise<PartialMeta | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PartialMeta;
  } catch {
    return undefined;
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashExisting(hash: Hash, path: string, signal: AbortSignal | undefined): Promise<void> {
  const { handle, stat } = await openRegularFile(path);
  try {
    await hashInto(hash, handle, Number(stat.size), signal);
  } catch (e) {
    if (signal?.aborted) throw new DownloadError('CANCELLED', 'Download cancelled');
    throw e;
  } finally {
    await handle.close();
  }
}

const GGUF_MAGIC = Buffer.from('GGUF', 'latin1');

/** A download that is not a GGUF model (an HTML error page, say) never enters the cache. */
function notGguf(start: Uint8Array): DownloadError {
  const shown = JSON.stringify(Buffer.from(start.subarray(0, 16)).toString('latin1'));
  return new DownloadError('MODEL_INVALID', `the server sent a file that is not a GGUF model (it starts with ${shown}); nothing was kept`);
}

interface HubInfo {
  sha256?: string;
  size?: number;
}

/** GET with manual redirects; returns the final response and what the hub said on the way. */
async function fetchFollowing(
  req: DownloadRequest,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<{ response: Response; hub: HubInfo; finalUrl: string }> {
  let url = req.url;
  const hub: HubInfo = {};
  for (let hop = 0; hop < 10; hop++) {
    const origin = new URL(url).origin;
    const h: Record<string, string> = { ...headers, 'user-agent': 'lmzip' };
    if (req.authToken && req.hubOrigin && origin === req.hubOrigin) h.authorization = `Bearer ${req.authToken}`;
    let response: Response;
    try {
      response = await fetch(url, { method: 'GET', headers: h, redirect: 'manual', signal });
    } catch (e) {
      if (signal.aborted) throw e;
      // A refused connection or an unknown host name will not change in a second; a reset might.
      const code = (e as { cause?: { code?: string } })?.cause?.code;
      const retryable = !['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH'].includes(code ?? '');
      throw new DownloadError('MODEL_UNAVAILABLE', describeNetworkError(e, url), { retryable, cause: e });
    }
    const linked = parseShaHeader(response.headers.get('x-linked-etag'));
    const fromHub = req.hubOrigin !== undefined && origin === req.hubOrigin;
    hub.sha256 ??= linked ?? (fromHub ? parseShaHeader(response.headers.get('etag')) : undefined);
    hub.size ??= parseSize(response.headers.get('x-linked-size'));
    // Stop before following the redirect to the CDN when the hub already says it is the wrong file.
    const pinned = req.expectedSha256?.toLowerCase();
    const wrongSha = pinned !== undefined && hub.sha256 !== undefined && hub.sha256 !== pinned;
    const wrongSize = req.expectedSize !== undefined && hub.size !== undefined && hub.size !== req.expectedSize;
    if (wrongSha || wrongSize) {
      await response.body?.cancel().catch(() => undefined);
      throw mismatch(
        wrongSha
          ? `the server reports SHA-256 ${hub.sha256} for this file, but ${pinned} was expected`
          : `the server reports ${hub.size} bytes for this file, but ${req.expectedSize} were expected`,
      );
    }
    if (response.status >= 300 && response.status < 400 && response.headers.get('location')) {
      await response.body?.cancel().catch(() => undefined);
      let next: URL;
      try {
        next = new URL(response.headers.get('location') as string, url);
      } catch {
        throw new DownloadError('MODEL_UNAVAILABLE', `the server at ${origin} redirected to an invalid URL`);
      }
      // A redirect passes the same policy as a URL given directly.
      const refused = refusedModelUrl(next, new URL(url));
      if (refused) throw new DownloadError('MODEL_UNAVAILABLE', `the server at ${origin} redirected to ${next.protocol}//${next.host}, which lmzip refuses: ${refused}`);
      url = next.href;
      continue;
    }
    return { response, hub, finalUrl: url };
  }
  throw new DownloadError('MODEL_UNAVAILABLE', `too many redirects from ${req.url}`);
}

function statusError(status: number, url: string): DownloadError {
  if (status === 404) return new DownloadError('MODEL_UNAVAILABLE', `the server answered 404 Not Found for ${url}`, { status });
  if (status === 401 || status === 403) {
    return new DownloadError(
      'MODEL_UNAVAILABLE',
      `the server refused access (HTTP ${status}) to ${url}; the repository may be gated or private (set HF_TOKEN)`,
      { status },
    );
  }
  const retryable = status === 408 || status === 429 || status >= 500;
  return new DownloadError('MODEL_UNAVAILABLE', `the server answered HTTP ${status} for ${url}`, { status, retryable });
}

function mismatch(message: string): DownloadError {
  return new DownloadError('MODEL_HASH_MISMATCH', message);
}

async function discardPartial(partial: string): Promise<void> {
  await rm(partial, { force: true });
  await rm(`${partial}.json`, { force: true });
}

/** One attempt: resume or start, stream, verify, rename. */
async function attempt(req: DownloadRequest, userSignal: AbortSignal | undefined): Promise<DownloadResult> {
  const partial = `${req.dest}.partial`;
  const metaPath = `${partial}.json`;
  const pinnedSha = req.expectedSha256?.toLowerCase();

  let have = await sizeOf(partial);
  if (have > 0) {
    const meta = await readMeta(metaPath);
    const stale =
      !meta ||
      meta.url !== req.url ||
      (pinnedSha !== undefined && meta.sha256 !== undefined && meta.sha256 !== pinnedSha) ||
      (req.expectedSize !== undefined && have > req.expectedSize);
    if (stale) {
      await discardPartial(partial);
      have = 0;
    }
  }

  const stall = new AbortController();
  const signal = userSignal ? AbortSignal.any([userSignal, stall.signal]) : stall.signal;
  const stallMs = req.stallTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => stall.abort(new Error('stalled')), stallMs);
    timer.unref?.();
  };

  let fh: FileHandle | undefined;
  try {
    arm();
    const headers: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
    const { response, hub, finalUrl } = await fetchFollowing(req, headers, signal);

    if (response.status === 416 && have > 0) {
      await response.body?.cancel().catch(() => undefined);
      const total = req.expectedSize ?? hub.size ?? parseContentRange(response.headers.get('content-range'))?.total;
      if (total !== undefined && have === total) return await finish(req, partial, hub, have, userSignal);
      await discardPartial(partial);
      throw new DownloadError('MODEL_UNAVAILABLE', 'the server rejected the resume request; starting over', {
        retryable: true,
      });
    }
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel().catch(() => undefined);
      throw statusError(response.status, finalUrl);
    }

    let start = 0;
    let total: number | undefined;
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'));
      if (!range || range.start !== have) {
        await response.body?.cancel().catch(() => undefined);
        await discardPartial(partial);
        throw new DownloadError('MODEL_UNAVAILABLE', 'the server answered the resume request with the wrong range', {
          retryable: true,
        });
      }
      start = have;
      total = range.total;
    } else {
      const length = parseSize(response.headers.get('content-length'));
      total = length;
    }
    const expectedSize = req.expectedSize ?? hub.size ?? total;
    const expectedSha = pinnedSha ?? hub.sha256;

    await mkdir(dirname(req.dest), { recursive: true });
    const meta: PartialMeta = { url: req.url, ...(expectedSha ? { sha256: expectedSha } : {}), ...(expectedSize !== undefined ? { size: expectedSize } : {}) };
    await writeFile(metaPath, JSON.stringify(meta) + '\n');

    const hash = createHash('sha256');
    if (start > 0) await hashExisting(hash, partial, userSignal);
    fh = await open(partial, start > 0 ? 'a' : 'w');
    let received = start;
    req.onProgress?.(received, expectedSize);
    if (!response.body) throw new DownloadError('MODEL_UNAVAILABLE', 'the server sent no body', { retryable: true });
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        arm();
        if (received === 0 && chunk.byteLength >= 4 && !Buffer.from(chunk.subarray(0, 4)).equals(GGUF_MAGIC)) throw notGguf(chunk);
        if (expectedSize !== undefined && received + chunk.byteLength > expectedSize) {
          throw mismatch(`the server sent more than the expected ${expectedSize} bytes`);
        }
        await fh.write(chunk);
        hash.update(chunk);
        received += chunk.byteLength;
        req.onProgress?.(received, expectedSize);
      }
    } catch (e) {
      if (e instanceof DownloadError) throw e;
      if (userSignal?.aborted) throw e;
      const why = stall.signal.aborted ? `no data arrived for ${Math.round(stallMs / 1000)} s` : describeNetworkError(e, finalUrl);
      throw new DownloadError(
        'MODEL_UNAVAILABLE',
        `the download stopped after ${received}${expectedSize !== undefined ? ` of ${expectedSize}` : ''} bytes: ${why}`,
        { retryable: true, cause: e },
      );
    }
    await fh.close();
    fh = undefined;
    if (expectedSize !== undefined && received < expectedSize) {
      throw new DownloadError('MODEL_UNAVAILABLE', `the download stopped after ${received} of ${expectedSize} bytes`, {
        retryable: true,
      });
    }
    return await finish(req, partial, { ...(expectedSha ? { sha256: expectedSha } : {}), ...(expectedSize !== undefined ? { size: expectedSize } : {}) }, received, userSignal, hash.digest('hex'));
  } catch (e) {
    if (userSignal?.aborted) {
      throw new DownloadError('CANCELLED', 'Download cancelled; run the same command again to resume', { cause: e });
    }
    if (e instanceof DownloadError && (e.code === 'MODEL_HASH_MISMATCH' || e.code === 'MODEL_INVALID')) await discardPartial(partial);
    if (e instanceof LmzipError) throw e;
    if (stall.signal.aborted) {
      throw new DownloadError('MODEL_UNAVAILABLE', `no data arrived for ${Math.round(stallMs / 1000)} s`, { retryable: true, cause: e });
    }
    // A file-system error (no space, permissions, a file where a folder should be) will not
    // go away by trying again.
    if (typeof (e as NodeJS.ErrnoException)?.syscall === 'string' && (e as NodeJS.ErrnoException).path !== undefined) {
      throw new DownloadError('IO_ERROR', `cannot write ${partial}: ${(e as Error).message}`, { cause: e });
    }
    throw new DownloadError('MODEL_UNAVAILABLE', describeNetworkError(e, req.url), { retryable: true, cause: e });
  } finally {
    if (timer) clearTimeout(timer);
    await fh?.close().catch(() => undefined);
  }
}

/** Checks size and hash of a complete `.partial`, then renames it into place. */
async function finish(
  req: DownloadRequest,
  partial: string,
  expected: HubInfo,
  size: number,
  signal: AbortSignal | undefined,
  digest?: string,
): Promise<DownloadResult> {
  const expectedSha = req.expectedSha256?.toLowerCase() ?? expected.sha256;
  const expectedSize = req.expectedSize ?? expected.size;
  if (expectedSize !== undefined && size !== expectedSize) {
    await discardPartial(partial);
    throw mismatch(`the file has ${size} bytes, but ${expectedSize} were expected`);
  }
  let sha = digest;
  if (sha === undefined) {
    const hash = createHash('sha256');
    await hashExisting(hash, partial, signal);
    sha = hash.digest('hex');
  }
  if (expectedSha !== undefined && sha !== expectedSha) {
    await discardPartial(partial);
    throw mismatch(`the downloaded file has SHA-256 ${sha}, but ${expectedSha} was expected`);
  }
  const head = Buffer.alloc(4);
  const fh = await open(partial, 'r');
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (!head.equals(GGUF_MAGIC)) {
    await discardPartial(partial);
    throw notGguf(head);
  }
  await rename(partial, req.dest);
  await rm(`${partial}.json`, { force: true });
  return { path: req.dest, sha256: sha, size, verified: expectedSha !== undefined };
}

// ---------------------------------------------------------------------------
// Locking: one download of a file at a time, across processes and within one.

const inFlight = new Map<string, Promise<DownloadResult>>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

async function acquireLock(lockPath: string, signal: AbortSignal | undefined): Promise<() => Promise<void>> {
  await mkdir(dirname(lockPath), { recursive: true });
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx');
      await fh.write(`${process.pid}\n`);
      await fh.close();
      return () => rm(lockPath, { force: true });
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
    const pid = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) {
      await rm(lockPath, { force: true }); // stale: its process is gone
      continue;
    }
    if (signal?.aborted) throw new DownloadError('CANCELLED', 'Download cancelled');
    await delay(250, undefined, { signal }).catch(() => undefined);
  }
}

/**
 * Downloads `req.url` to `req.dest` with resume, retries and verification.
 * If `req.dest` already exists (another process finished it), it is verified and returned.
 */
export function downloadFile(req: DownloadRequest): Promise<DownloadResult> {
  const running = inFlight.get(req.dest);
  if (running) return running;
  const p = (async () => {
    const release = await acquireLock(`${req.dest}.lock`, req.signal);
    try {
      const existing = await sizeOf(req.dest);
      if (existing > 0) {
        const hash = createHash('sha256');
        await hashExisting(hash, req.dest, req.signal);
        const sha = hash.digest('hex');
        const want = req.expectedSha256?.toLowerCase();
        if (want === undefined || sha === want) {
          return { path: req.dest, sha256: sha, size: existing, verified: want !== undefined };
        }
      }
      const retries = req.retries ?? 3;
      for (let n = 0; ; n++) {
        try {
          return await attempt(req, req.signal);
        } catch (e) {
          if (!(e instanceof DownloadError) || !e.retryable || n >= retries) throw e;
          await delay((req.retryDelayMs ?? 500) * 2 ** n, undefined, { signal: req.signal }).catch(() => undefined);
          if (req.signal?.aborted) throw new DownloadError('CANCELLED', 'Download cancelled; run the same command again to resume');
        }
      }
    } finally {
      await release();
    }
  })();
  inFlight.set(req.dest, p);
  p.finally(() => inFlight.delete(req.dest)).catch(() => undefined);
  return p;
}
