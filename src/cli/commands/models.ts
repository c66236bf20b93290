/**
 * `lmzip models list | pull <ref> | info <ref-or-path> | rm <ref-or-name>`.
 *
 * Returns the exit status: 0 ok, 1 error, 2 usage.
 */
import { stat } from 'node:fs/promises';
import { ErrorCode, LmzipError, toLmzipError } from '../../errors.js';
import { fingerprintFile } from '../../fingerprint.js';
import { Model } from '../../model.js';
import { type BuiltinModel, builtinModels, DEFAULT_MODEL_NAME } from '../../models/builtin.js';
import { cachePathFor, fileSize, fromIndexPath, isInside, listCacheFiles, modelsDir, readIndex, removeCachedFile } from '../../models/cache.js';
import { cacheDir, resolveModel } from '../../models/index.js';
import { canonicalReference, parseModelReference } from '../../models/references.js';
import { describeError, printable } from '../output.js';
import { ProgressBar, formatBytes } from '../progress.js';

export interface ModelsCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Cancels a download or a hash (the CLI aborts it on SIGINT, SIGTERM, SIGHUP, SIGQUIT). */
  signal?: AbortSignal;
}

const HELP = `Usage: lmzip models <command> [options]

Commands:
  list                 List cached models (with sizes) and the built-in names
  pull <model>         Download a model into the cache ahead of time
  info <model|file>    Show a GGUF's facts: architecture, parameters, vocabulary,
                       quantisation, context length, fingerprint (SHA-256)
  rm <model|file>      Remove a model from the cache

<model> is a built-in name (${builtinModels()
  .map((m) => m.name)
  .join(', ')}),
a path to a .gguf file, an https:// URL, or hf:owner/repo/file.gguf[@revision].

Options:
  --json               Machine-readable output (list, info)
  --offline            Never use the network (pull; info never downloads)
  -h, --help           Show this help

Environment:
  LMZIP_CACHE_DIR      Cache folder (now: %CACHE%)
  LMZIP_MODEL          Model used when none is given (default: ${DEFAULT_MODEL_NAME})
  LMZIP_HF_ENDPOINT    Hugging Face endpoint (default: https://huggingface.co)
  LMZIP_OFFLINE=1      Same as --offline
  HF_TOKEN             Token for gated or private Hugging Face repositories
`;

interface Parsed {
  command?: string;
  positional: string[];
  json: boolean;
  offline: boolean;
  help: boolean;
  unknown?: string;
}

function parseArgs(args: string[]): Parsed {
  const out: Parsed = { positional: [], json: false, offline: false, help: false };
  let rest = false;
  for (const a of args) {
    if (!rest && a === '--') rest = true;
    else if (!rest && (a === '-h' || a === '--help')) out.help = true;
    else if (!rest && a === '--json') out.json = true;
    else if (!rest && a === '--offline') out.offline = true;
    else if (!rest && a.startsWith('-') && a !== '-') out.unknown ??= a;
    else if (out.command === undefined) out.command = a;
    else out.positional.push(a);
  }
  return out;
}

/** Writes lines; anything unprintable in them (names from files, GGUF metadata) is escaped. */
function write(stream: NodeJS.WritableStream, text: string): void {
  const lines = text.replace(/\n$/, '').split('\n');
  stream.write(`${lines.map(printable).join('\n')}\n`);
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

/**
 * Runs `lmzip models …`.
 *
 * @example
 * process.exitCode = await runModelsCommand(['pull', 'smollm2-135m'], { stdout: process.stdout, stderr: process.stderr, env: process.env });
 */
export async function runModelsCommand(args: string[], io: ModelsCommandIo): Promise<number> {
  const p = parseArgs(args);
  const cache = cacheDir(io.env);
  const help = HELP.replace('%CACHE%', cache);
  if (p.help || p.command === 'help') {
    write(io.stdout, help);
    return 0;
  }
  const usage = (message: string): number => {
    write(io.stderr, `lmzip models: ${message}\nRun "lmzip models --help" for usage.`);
    return 2;
  };
  if (p.unknown) return usage(`unknown option ${p.unknown}`);
  if (!p.command) return usage('missing command (list, pull, info or rm)');
  const need = (n: number, what: string): string | undefined =>
    p.positional.length !== n ? `"${p.command}" takes ${what}` : undefined;
  try {
    switch (p.command) {
      case 'list':
      case 'ls': {
        const bad = need(0, 'no arguments');
        if (bad) return usage(bad);
        return await list(io, cache, p.json);
      }
      case 'pull': {
        const bad = need(1, 'one model reference');
        if (bad) return usage(bad);
        return await pull(io, cache, p.positional[0] as string, p.offline);
      }
      case 'info':
      case 'show': {
        const bad = need(1, 'one model reference or file');
        if (bad) return usage(bad);
        return await info(io, cache, p.positional[0] as string, p.json);
      }
      case 'rm':
      case 'remove': {
        if (p.positional.length === 0) return usage('"rm" takes one or more model references');
        return await remove(io, cache, p.positional);
      }
      default:
        return usage(`unknown command "${p.command}"`);
    }
  } catch (e) {
    // One line with the stable code, like every lmzip error.
    write(io.stderr, `lmzip models: ${describeError(e)}`);
    return 1;
  }
}

async function list(io: ModelsCommandIo, cache: string, json: boolean): Promise<number> {
  const files = await listCacheFiles(cache);
  const builtins = builtinModels();
  const cachedBySha = new Set(files.map((f) => f.entry?.sha256).filter(Boolean));
  const cachedPaths = new Set(files.filter((f) => !f.partial).map((f) => f.path));
  const builtinCached = (m: BuiltinModel) =>
    cachedPaths.has(cachePathFor(cache, { kind: 'builtin', model: m, hf: m.source }) as string) ||
    (m.sha256 !== undefined && cachedBySha.has(m.sha256));
  if (json) {
    const out = {
      cacheDir: cache,
      models: files.map((f) => ({
        path: f.path,
        size: f.size,
        partial: f.partial ?? false,
        sha256: f.entry?.sha256 ?? null,
        references: f.entry?.references ?? [],
        verified: f.entry?.verified ?? false,
      })),
      builtin: builtins.map((m) => ({
        name: m.name,
        default: m.name === DEFAULT_MODEL_NAME,
        cached: builtinCached(m),
        reference: canonicalReference({ kind: 'hf', hf: m.source }),
        size: m.size ?? null,
        sha256: m.sha256 ?? null,
        license: m.license,
        window: m.window,
      })),
    };
    write(io.stdout, JSON.stringify(out, null, 2));
    return 0;
  }
  write(io.stdout, `Model cache: ${cache}`);
  if (files.length === 0) write(io.stdout, '  (empty)');
  else {
    const rows = [['REFERENCE', 'SIZE', 'SHA-256', 'FILE']];
    let total = 0;
    for (const f of files) {
      total += f.size;
      const rel = f.path.slice(modelsDir(cache).length + 1);
      const ref = f.partial ? '(unfinished download)' : (f.entry?.references.join(', ') || '(placed by hand)');
      rows.push([ref, formatBytes(f.size), f.entry ? f.entry.sha256.slice(0, 12) : '-', rel]);
    }
    write(io.stdout, table(rows).replace(/^/gm, '  '));
    write(io.stdout, `  ${files.length} file${files.length === 1 ? '' : 's'}, ${formatBytes(total)}`);
  }
  write(io.stdout, '\nBuilt-in names:');
  const rows = [['NAME', 'SIZE', 'LICENCE', 'CACHED', 'ABOUT']];
  for (const m of builtins) {
    rows.push([
      m.name + (m.name === DEFAULT_MODEL_NAME ? ' (default)' : ''),
      m.approxSize,
      m.license,
      builtinCached(m) ? 'yes' : 'no',
      m.summary,
    ]);
  }
  write(io.stdout, table(rows).replace(/^/gm, '  '));
  return 0;
}

async function pull(io: ModelsCommandIo, cache: string, ref: string, offline: boolean): Promise<number> {
  const tty = io.stderr as NodeJS.WriteStream;
  let bar: ProgressBar | undefined;
  const got = await resolveModel(ref, {
    cacheDir: cache,
    env: io.env,
    offline,
    ...(io.signal ? { signal: io.signal } : {}),
    onDownloadStart: ({ url }) => {
      write(io.stderr, `Downloading ${printable(ref)} from ${printable(url)}`);
      bar = new ProgressBar({ stream: tty, label: printable(ref), unit: 'bytes' });
    },
    onProgress: (n, total) => bar?.update(n, total),
  });
  bar?.finish('verified');
  const size = await fileSize(got.path);
  write(io.stdout, `${printable(got.reference)}\n  path    ${printable(got.path)}\n  size    ${size !== undefined ? formatBytes(size) : '?'}\n  sha256  ${got.sha256 ?? '(not computed)'}`);
  return 0;
}

const FILE_TYPES: Record<string, string> = {
  '0': 'F32', '1': 'F16', '2': 'Q4_0', '3': 'Q4_1', '7': 'Q8_0', '8': 'Q5_0', '9': 'Q5_1', '10': 'Q2_K',
  '11': 'Q3_K_S', '12': 'Q3_K_M', '13': 'Q3_K_L', '14': 'Q4_K_S', '15': 'Q4_K_M', '16': 'Q5_K_S',
  '17': 'Q5_K_M', '18': 'Q6_K', '19': 'IQ2_XXS', '20': 'IQ2_XS', '21': 'Q2_K_S', '22': 'IQ3_XS',
  '23': 'IQ3_XXS', '24': 'IQ1_S', '25': 'IQ4_NL', '26': 'IQ3_S', '27': 'IQ3_M', '28': 'IQ2_S',
  '29': 'IQ2_M', '30': 'IQ4_XS', '31': 'IQ1_M', '32': 'BF16', '36': 'TQ1_0', '37': 'TQ2_0',
};

/** Quantisation name from GGUF metadata (general.file_type), or undefined. */
export function quantizationName(metadata: Record<string, string>): string | undefined {
  const t = metadata['general.file_type'];
  return t === undefined ? undefined : (FILE_TYPES[t] ?? `type ${t}`);
}

function determinismNote(quant: string | undefined): string | undefined {
  if (quant === undefined) return undefined;
  if (/_K|^IQ|^TQ/i.test(quant)) {
    return 'K-/I-quant weights: llama.cpp results can depend on the batch shape; Q8_0 is the safer choice for compression';
  }
  return undefined;
}

async function info(io: ModelsCommandIo, cache: string, ref: string, json: boolean): Promise<number> {
  // Never download for `info`: a name that is not cached is described from the table.
  const parsed = parseModelReference(ref, { env: io.env });
  let path: string | undefined;
  let reference = canonicalReference(parsed);
  if (parsed.kind === 'path') path = parsed.path;
  else {
    try {
      const got = await resolveModel(ref, { cacheDir: cache, env: io.env, offline: true });
      path = got.path;
      reference = got.reference;
    } catch (e) {
      const err = toLmzipError(e);
      if (err.code !== 'MODEL_UNAVAILABLE' || parsed.kind !== 'builtin') throw err;
      const m = parsed.model;
      const lines = [
        `${m.name}: not in the cache (fetch it with: lmzip models pull ${m.name})`,
        `  source        ${canonicalReference({ kind: 'hf', hf: m.source })}`,
        `  size          ${m.size !== undefined ? `${m.size} bytes` : m.approxSize}`,
        `  parameters    ${m.parameters}`,
        `  quantisation  ${m.quantization}`,
        `  licence       ${m.license}`,
        `  window        ${m.window} tokens`,
        `  sha256        ${m.sha256 ?? '(checked against the hub at download)'}`,
      ];
      write(io.stdout, json ? JSON.stringify({ reference: m.name, cached: false, builtin: m }, null, 2) : lines.join('\n'));
      return 0;
    }
  }
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) {
    write(io.stderr, `lmzip models: ${describeError(new LmzipError(ErrorCode.MODEL_NOT_FOUND, `model file not found: ${path}`))}`);
    return 1;
  }
  const sha256 = await fingerprintFile(path, io.env, io.signal);
  // A full load (memory-mapped, cheap): vocabulary-only loads report no parameters or context length.
  const model = await Model.load(path, { threads: 1, ...(io.signal ? { signal: io.signal } : {}) });
  try {
    const f = model.facts;
    // llama.cpp describes a model as "<arch> <size>[ (guessed)] <file type>", e.g. "llama ?B (guessed) all F32".
    const described = /^\S+\s+\S+(?:\s+\(guessed\))?\s+(.+)$/.exec(f.description)?.[1];
    const quant = quantizationName(f.metadata) ?? described;
    const arch = f.architecture;
    const facts = {
      reference,
      path,
      size: st.size,
      sha256,
      architecture: arch,
      name: f.name,
      parameters: f.parameterCount,
      vocabulary: { size: f.vocabSize, type: f.vocabType },
      quantization: quant ?? null,
      contextLength: f.contextLength,
      layers: f.layerCount,
      embeddingLength: f.embeddingLength,
    };
    if (json) {
      write(io.stdout, JSON.stringify(facts, null, 2));
      return 0;
    }
    const note = determinismNote(quant);
    const lines = [
      `${reference}`,
      `  path          ${path}`,
      `  size          ${formatBytes(st.size)} (${st.size} bytes)`,
      `  fingerprint   ${sha256}`,
      `  architecture  ${arch}${f.name ? ` (${f.name})` : ''}`,
      `  parameters    ${f.parameterCount.toLocaleString('en-US')}`,
      `  vocabulary    ${f.vocabSize} tokens (${f.vocabType})`,
      `  quantisation  ${quant ?? 'unknown'}`,
      `  context       ${f.contextLength} tokens (trained); layers ${f.layerCount}, embedding ${f.embeddingLength}`,
    ];
    if (note) lines.push(`  note          ${note}`);
    write(io.stdout, lines.join('\n'));
    return 0;
  } finally {
    model.dispose();
  }
}

async function remove(io: ModelsCommandIo, cache: string, refs: string[]): Promise<number> {
  const root = modelsDir(cache);
  const files = await listCacheFiles(cache);
  const index = await readIndex(cache);
  let status = 0;
  for (const ref of refs) {
    const targets = new Set<string>();
    // By SHA-256 (or a prefix of at least 8 hex digits).
    if (/^[0-9a-f]{8,64}$/i.test(ref)) {
      for (const f of files) if (f.entry?.sha256.startsWith(ref.toLowerCase())) targets.add(f.path);
    }
    // By recorded reference.
    let canonical: string | undefined;
    try {
      const parsed = parseModelReference(ref, { env: io.env });
      canonical = canonicalReference(parsed);
      const p = parsed.kind === 'path' ? parsed.path : cachePathFor(cache, parsed);
      if (p && isInside(root, p)) {
        for (const f of files) if (f.path === p || f.path === `${p}.partial`) targets.add(f.path);
      }
    } catch {
      /* not a reference; maybe a hash */
    }
    for (const m of index) {
      if (m.references.includes(ref) || (canonical && m.references.includes(canonical))) {
        targets.add(fromIndexPath(cache, m.file));
      }
    }
    if (targets.size === 0) {
      write(io.stderr, `lmzip models: ${describeError(new LmzipError(ErrorCode.MODEL_NOT_FOUND, `nothing in the cache matches "${ref}" (see: lmzip models list)`))}`);
      status = 1;
      continue;
    }
    for (const t of targets) {
      const size = (await fileSize(t)) ?? 0;
      await removeCachedFile(cache, t);
      write(io.stdout, `removed ${t} (${formatBytes(size)})`);
    }
  }
  return status;
}
