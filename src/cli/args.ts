/**
 * Command-line parsing in the gzip/xz style: clustered short flags (-dkc), values
 * attached or separate (-T2, -T 2, --lanes=8, --lanes 8), `--` ends options.
 */
export interface CliOptions {
  mode: 'compress' | 'decompress' | 'test' | 'list';
  stdout: boolean;
  output?: string;
  keep: boolean;
  force: boolean;
  verbose: number;
  quiet: boolean;
  verify: boolean;
  model?: string;
  threads?: number;
  lanes?: number;
  ctx?: number;
  overlap?: number;
  gpuLayers?: number;
  backend?: 'auto' | 'cpu' | 'cuda';
  chunkSize?: number;
  // Corpora (docs/CORPORA.md): directories, random access, resumption, shards, progress.
  recursive: boolean;
  /** Original bytes per block (--block-size, K/M suffixes). */
  blockSize?: number;
  /** -N: record the model file's full path. */
  recordModelPath: boolean;
  /** -d --range OFFSET:LENGTH: decode only these original bytes, to standard output. */
  range?: { offset: number; length: number };
  reindex: boolean;
  resume: boolean;
  /** --shard I/N or auto[/N] (resolved from the environment by src/shard.ts). */
  shard?: string;
  progress: 'bar' | 'json' | 'none';
  offline: boolean;
  /** false: --no-mix, the model alone (coding method 1). */
  mix: boolean;
  help: boolean;
  version: boolean;
  files: string[];
}

export class UsageError extends Error {}

const VALUE_FLAGS: Record<string, keyof CliOptions> = {
  o: 'output', m: 'model', T: 'threads',
  output: 'output', model: 'model', threads: 'threads', lanes: 'lanes', ctx: 'ctx', window: 'ctx', overlap: 'overlap',
  'gpu-layers': 'gpuLayers', 'chunk-size': 'chunkSize', backend: 'backend',
  'block-size': 'blockSize', range: 'range', shard: 'shard', progress: 'progress',
};
const NUMERIC: ReadonlySet<keyof CliOptions> = new Set(['threads', 'lanes', 'ctx', 'overlap', 'gpuLayers', 'chunkSize']);
const LIMITS: Partial<Record<keyof CliOptions, [number, number]>> = {
  threads: [1, 1024], lanes: [1, 256], ctx: [8, 1 << 20], overlap: [0, 1 << 20], gpuLayers: [-1, 100000], chunkSize: [64, 1 << 24],
};

function setBoolean(o: CliOptions, flag: string): boolean {
  switch (flag) {
    case 'd': case 'decompress': case 'uncompress': o.mode = 'decompress'; return true;
    case 'z': case 'compress': o.mode = 'compress'; return true;
    case 't': case 'test': o.mode = 'test'; return true;
    case 'l': case 'list': o.mode = 'list'; return true;
    case 'c': case 'stdout': case 'to-stdout': o.stdout = true; return true;
    case 'k': case 'keep': o.keep = true; return true;
    case 'f': case 'force': o.force = true; return true;
    case 'v': case 'verbose': o.verbose++; return true;
    case 'q': case 'quiet': o.quiet = true; return true;
    case 'h': case 'help': o.help = true; return true;
    case 'V': case 'version': o.version = true; return true;
    case 'no-verify': o.verify = false; return true;
    case 'offline': o.offline = true; return true;
    case 'r': case 'recursive': o.recursive = true; return true;
    case 'N': case 'name': o.recordModelPath = true; return true;
    case 'n': case 'no-name': o.recordModelPath = false; return true;
    case 'reindex': o.reindex = true; return true;
    case 'resume': o.resume = true; return true;
    case 'no-mix': o.mix = false; return true;
    default: return false;
  }
}

/**
 * A byte count with an optional binary suffix: 4096, 64K, 1M, 2G (K = 1024).
 * @example
 * parseSize('256K', '--block-size') // 262144
 */
export function parseSize(raw: string, shown: string): number {
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(raw);
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] ?? ' ')[0].toUpperCase()) : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${shown} expects a byte count such as 4096, 64K or 1M, got '${raw}'`);
  return n;
}

function setCorporaValue(o: CliOptions, key: keyof CliOptions, raw: string, shown: string): void {
  if (key === 'blockSize') {
    const n = parseSize(raw, shown);
    if (n < 1024 || n > 1 << 26 || n % 1024 !== 0) throw new UsageError(`${shown} expects a multiple of 1K from 1K to 64M, got '${raw}'`);
    o.blockSize = n;
  } else if (key === 'range') {
    const m = /^([^:]+):([^:]*)$/.exec(raw);
    if (!m) throw new UsageError(`${shown} expects OFFSET:LENGTH (e.g. 1M:4K, or 1M: for the rest), got '${raw}'`);
    o.range = { offset: parseSize(m[1], shown), length: m[2] === '' ? Number.MAX_SAFE_INTEGER : parseSize(m[2], shown) };
  } else if (key === 'progress') {
    if (!['bar', 'json', 'none'].includes(raw)) throw new UsageError(`${shown} expects bar, json or none, got '${raw}'`);
    o.progress = raw as CliOptions['progress'];
  } else {
    o.shard = raw;
  }
}

function setValue(o: CliOptions, key: keyof CliOptions, raw: string, shown: string): void {
  if (key === 'blockSize' || key === 'range' || key === 'progress' || key === 'shard') {
    setCorporaValue(o, key, raw, shown);
  } else if (NUMERIC.has(key)) {
    const n = Number(raw);
    const [min, max] = LIMITS[key]!;
    if (!/^-?\d+$/.test(raw) || n < min || n > max) throw new UsageError(`${shown} expects an integer from ${min} to ${max}, got '${raw}'`);
    (o as unknown as Record<string, unknown>)[key] = n;
  } else {
    if (key === 'backend' && !['auto', 'cpu', 'cuda'].includes(raw)) throw new UsageError(`${shown} expects auto, cpu or cuda, got '${raw}'`);
    (o as unknown as Record<string, unknown>)[key] = raw;
  }
}

export function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = { mode: 'compress', stdout: false, keep: false, force: false, verbose: 0, quiet: false, verify: true,
    offline: false, mix: true, help: false, version: false, files: [], recursive: false, recordModelPath: false, reindex: false, resume: false, progress: 'bar' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      o.files.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const key = VALUE_FLAGS[name];
      if (key) {
        const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
        if (value === undefined) throw new UsageError(`option --${name} needs a value`);
        setValue(o, key, value, `--${name}`);
      } else if (eq >= 0 || !setBoolean(o, name)) {
        throw new UsageError(`unknown option --${name}`);
      }
      continue;
    }
    if (arg.startsWith('-') && arg !== '-') {
      for (let j = 1; j < arg.length; j++) {
        const flag = arg[j];
        const key = VALUE_FLAGS[flag];
        if (key) {
          const value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
          if (value === undefined) throw new UsageError(`option -${flag} needs a value`);
          setValue(o, key, value, `-${flag}`);
          break;
        }
        if (!setBoolean(o, flag)) throw new UsageError(`unknown option -${flag}`);
      }
      continue;
    }
    o.files.push(arg);
  }
  if (o.output !== undefined && o.files.length > 1) throw new UsageError('-o/--output takes one input file');
  if (o.output !== undefined && o.stdout) throw new UsageError('-o and -c cannot be used together');
  checkCorporaOptions(o);
  return o;
}

/** Combinations of the corpus options that cannot work together. */
function checkCorporaOptions(o: CliOptions): void {
  if (o.recursive && o.output !== undefined) throw new UsageError('-o cannot be used with -r');
  if (o.range && o.mode !== 'decompress') throw new UsageError('--range needs -d (it decodes part of a compressed file)');
  if (o.range && o.files.length !== 1) throw new UsageError('--range takes one compressed file');
  if (o.reindex && (o.mode !== 'compress' || o.stdout || o.output !== undefined || o.files.length === 0))
    throw new UsageError('--reindex takes compressed FILEs and rewrites them in place (no -d, -c or -o)');
  if (o.shard !== undefined && (o.mode !== 'compress' || o.files.length !== 1 || o.stdout || o.recursive))
    throw new UsageError('--shard compresses one part of one FILE (no -d, -c or -r)');
  if (o.resume && (o.mode !== 'compress' || o.stdout)) throw new UsageError('--resume continues a compression to a file (no -d or -c)');
  if ((o.range || o.reindex || o.resume || o.shard !== undefined) && (o.files.length === 0 || o.files.includes('-')))
    throw new UsageError('--range, --reindex, --resume and --shard need files (they read or write at any offset), not standard input');
}

export const HELP = `Usage: lmzip [OPTION]... [FILE]...
Compress or decompress FILEs with a language model (.lmz). With no FILE, or when
FILE is -, read standard input and write standard output.

  -z, --compress       compress (the default)
  -d, --decompress     decompress
  -t, --test           check that compressed FILEs decode and match their checksums
  -l, --list           show what compressed FILEs hold: model, sizes, ratio, bits per byte
  -c, --stdout         write to standard output; keep the input files
  -o, --output=FILE    write to FILE (one input only)
  -k, --keep           keep the input files (by default they are removed after success)
  -f, --force          overwrite existing output files; write binary to a terminal
  -m, --model=MODEL    GGUF path, built-in name, https:// URL or hf:owner/repo/file.gguf
                       (default: LMZIP_MODEL, else smollm2-135m; decompression uses the
                       model the file names unless -m is given)
  -T, --threads=N      threads for the model (default: 1 below 100M parameters, else all cores)
      --lanes=N        chunks coded in parallel, 1-256 (default 16)
      --ctx=N          context window per lane in tokens (default: per model)
      --overlap=N      tokens kept when a lane's window is full (default min(ctx/2, 256))
      --chunk-size=N   target chunk size in bytes (default: input spread over the lanes)
      --backend=B      auto (a GPU when one is usable; default: LMZIP_BACKEND, else
                       auto), cpu (never a GPU) or cuda (fail without one)
      --gpu-layers=N   layers to offload to the GPU (default: all on a GPU; -1 = all)
      --no-verify      do not decode the output again before removing the input
      --no-mix         code with the model alone, without the adaptive context
                       models (docs/MIXING.md; smaller only on rare inputs)
      --offline        never download a model
  -v, --verbose        print statistics (repeat for more)
  -q, --quiet          print no warnings or progress
  -h, --help           show this help
  -V, --version        show versions

Directories, large files and clusters (docs/CORPORA.md):
  -r, --recursive      compress (or -d: decompress) every regular file under each
                       directory; symbolic links are not followed, *.lmz skipped
      --block-size=N   original bytes per independently decodable block: 1K-64M,
                       a multiple of 1K (default 256K; smaller = faster --range)
  -N, --name           record the model file's full path (default: its name)
      --range=OFF:LEN  with -d: decode only these original bytes to standard output
                       (K/M/G suffixes; OFF: for the rest); decodes covering blocks only
      --reindex        add a seek index to compressed FILEs that lack one, in place
      --resume         write FILE.lmz.partial and, if one exists, continue it from
                       its last complete, verified block
      --shard=I/N      compress part I (0-based) of N of FILE, cut at line ends, to
                       FILE.shard-I-of-N.lmz; auto: from SLURM_ARRAY_TASK_ID/_COUNT,
                       auto/N: from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX
      --progress=P     bar (on a terminal; default), json (one line per second on
                       stderr, for job logs) or none

Commands:
  lmzip models list|pull|info|rm     manage cached models (lmzip models --help)
  lmzip bench [options]              benchmark against gzip, xz, zstd, … (lmzip bench --help)
  lmzip analyze [options] FILE...    where the bits go, per token (lmzip analyze --help)
  lmzip join [-f] OUT.lmz PART...    join shards (or any .lmz files) into one indexed file

Exit status: 0 success, 1 error, 2 usage error.`;
