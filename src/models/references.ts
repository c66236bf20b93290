/**
 * Model references: what a user may pass to `-m`, the API's `model` option or
 * LMZIP_MODEL, parsed into one typed form.
 *
 *   smollm2-135m                         a built-in name (see builtin.ts)
 *   ./model.gguf, /abs/model.gguf, ~/m   a local file
 *   https://host/path/model.gguf         a URL (http only to loopback hosts)
 *   hf:owner/repo/path/file.gguf[@rev]   a file on the Hugging Face hub (rev defaults to main)
 *
 * Hugging Face `resolve` URLs are read as `hf:` references, so both spellings
 * share one cache entry.
 */
import { homedir } from 'node:os';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { LmzipError } from '../errors.js';
import { type BuiltinModel, type HfFile, builtinModels, findBuiltinModel } from './builtin.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

export type ModelReference =
  | { kind: 'builtin'; model: BuiltinModel; hf: HfFile }
  | { kind: 'hf'; hf: HfFile }
  | { kind: 'url'; url: string }
  /** `bareWord`: given as a plain word that is not a built-in name (for a better "not found" message). */
  | { kind: 'path'; path: string; bareWord?: boolean };

/** The Hugging Face endpoint: LMZIP_HF_ENDPOINT, else HF_ENDPOINT, else https://huggingface.co. */
export function hfEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.LMZIP_HF_ENDPOINT || env.HF_ENDPOINT || DEFAULT_HF_ENDPOINT;
  return raw.replace(/\/+$/, '');
}

/** `https://huggingface.co/<owner>/<repo>/resolve/<revision>/<file>` for an hf file. */
export function hfResolveUrl(hf: HfFile, env: NodeJS.ProcessEnv = process.env): string {
  const file = hf.file.split('/').map(encodeURIComponent).join('/');
  return `${hfEndpoint(env)}/${hf.owner}/${hf.repo}/resolve/${encodeURIComponent(hf.revision)}/${file}`;
}

/** `hf:owner/repo/file@revision` — the canonical spelling. */
export function formatHfReference(hf: HfFile): string {
  return `hf:${hf.owner}/${hf.repo}/${hf.file}@${hf.revision}`;
}

/** The string to record in .lmz files for a parsed reference. */
export function canonicalReference(ref: ModelReference): string {
  switch (ref.kind) {
    case 'builtin':
      return ref.model.name;
    case 'hf':
      return formatHfReference(ref.hf);
    case 'url':
      return ref.url;
    case 'path':
      return ref.path;
  }
}

const NAME_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function invalid(message: string): LmzipError {
  return new LmzipError('INVALID_ARGUMENT', message);
}

/** Parses `hf:owner/repo/path/file.gguf[@revision]`. */
export function parseHfReference(ref: string): HfFile {
  const body = ref.slice(3).replace(/^\/\//, '');
  const at = body.lastIndexOf('@');
  const pathPart = at >= 0 ? body.slice(0, at) : body;
  const revision = at >= 0 ? body.slice(at + 1) : 'main';
  const parts = pathPart.split('/');
  const usage = `Expected a reference of the form hf:owner/repo/file.gguf or hf:owner/repo/file.gguf@revision but received "${ref}"`;
  if (parts.length < 3 || parts.some((p) => p === '' || p === '.' || p === '..')) throw invalid(usage);
  const [owner, repo, ...rest] = parts as [string, string, ...string[]];
  if (!NAME_PART.test(owner) || !NAME_PART.test(repo)) throw invalid(usage);
  if (revision === '' || /[\s?#]/.test(revision) || revision.split('/').some((p) => p === '' || p === '..')) {
    throw invalid(`Expected a branch, tag or commit after "@" in "${ref}"`);
  }
  const file = rest.join('/');
  if (!file.toLowerCase().endsWith('.gguf')) {
    throw invalid(`Expected a .gguf file in the Hugging Face reference "${ref}"`);
  }
  return { owner, repo, file, revision };
}

/** Reads `<endpoint>/<owner>/<repo>/resolve/<rev>/<file>` back into an hf file, or undefined. */
function hfFromUrl(url: URL, env: NodeJS.ProcessEnv): HfFile | undefined {
  const endpoints = new Set([DEFAULT_HF_ENDPOINT, hfEndpoint(env)]);
  const origin = `${url.protocol}//${url.host}`;
  if (!endpoints.has(origin) || (url.search !== '' && url.search !== '?download=true')) return undefined;
  const decoded = url.pathname.split('/').slice(1).map(decodeUriPart);
  if (decoded.some((p) => p === undefined)) return undefined;
  const parts = decoded as string[];
  if (parts.length < 5 || parts[2] !== 'resolve') return undefined;
  const [owner, repo, , revision, ...rest] = parts as [string, string, string, string, ...string[]];
  const file = rest.join('/');
  if (!NAME_PART.test(owner) || !NAME_PART.test(repo) || !file.toLowerCase().endsWith('.gguf')) return undefined;
  return { owner, repo, file, revision };
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * Why a model may not be fetched from `url`, or undefined when it may: only https,
 * or plain http to this machine (tests, local mirrors); never a user name or
 * password in the URL. A redirect (`from` set) must pass the same rule and may not
 * step down from https to http. Used for URLs given directly and for every redirect.
 *
 * @example
 * refusedModelUrl(new URL('data:,x'))   // 'only https:// URLs (or http:// to localhost) are allowed, not data:'
 */
export function refusedModelUrl(url: URL, from?: URL): string | undefined {
  const local = url.protocol === 'http:' && isLoopback(url.hostname);
  if (url.protocol !== 'https:' && !local) return `only https:// URLs (or http:// to localhost) are allowed, not ${url.protocol}`;
  if (from?.protocol === 'https:' && url.protocol !== 'https:') return 'a redirect from https:// to http:// is a downgrade';
  if (url.username || url.password) return 'a model URL may not carry a user name or password';
  return undefined;
}

/** decodeURIComponent that gives undefined instead of throwing on a malformed escape. */
export function decodeUriPart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

function looksLikePath(ref: string): boolean {
  return (
    ref.includes('/') ||
    ref.includes('\\') ||
    ref.startsWith('.') ||
    ref.startsWith('~') ||
    ref.toLowerCase().endsWith('.gguf') ||
    isAbsolute(ref)
  );
}

export interface ParseOptions {
  env?: NodeJS.ProcessEnv;
  /** Directory relative paths are taken from; defaults to process.cwd(). */
  cwd?: string;
}

/**
 * Parses a model reference. Throws INVALID_ARGUMENT for malformed references and
 * MODEL_NOT_FOUND for a bare word that is neither a built-in name nor a file.
 * Does not touch the network; only a bare word is checked against the file system.
 *
 * @example
 * parseModelReference('hf:ggml-org/models/tinyllamas/stories260K.gguf')
 * // { kind: 'hf', hf: { owner: 'ggml-org', repo: 'models', file: 'tinyllamas/stories260K.gguf', revision: 'main' } }
 */
export function parseModelReference(ref: string, options: ParseOptions = {}): ModelReference {
  const env = options.env ?? process.env;
  if (typeof ref !== 'string' || ref.trim() === '') {
    throw invalid(`Expected a model name, path, URL or hf: reference but received ${JSON.stringify(ref)}`);
  }
  const text = ref.trim();
  if (text.toLowerCase().startsWith('hf:')) return { kind: 'hf', hf: parseHfReference(text) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw invalid(`Expected a valid URL but received "${text}"`);
    }
    const refused = refusedModelUrl(url);
    if (refused) throw invalid(`Expected an https:// URL for a model but received "${text}": ${refused}`);
    url.hash = '';
    const hf = hfFromUrl(url, env);
    if (hf) return { kind: 'hf', hf };
    return { kind: 'url', url: url.href };
  }
  const expand = (p: string) => (p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p);
  const cwd = options.cwd ?? process.cwd();
  if (looksLikePath(text)) return { kind: 'path', path: resolvePath(cwd, expand(text)) };
  const model = findBuiltinModel(text);
  if (model) return { kind: 'builtin', model, hf: model.source };
  // A bare word that is not a built-in name: a file of that name in the current directory.
  return { kind: 'path', path: resolvePath(cwd, text), bareWord: true };
}

/** "smollm2-135m, smollm2-360m, …" for messages. */
export function builtinNamesList(): string {
  return builtinModels()
    .map((m) => m.name)
    .join(', ');
}
