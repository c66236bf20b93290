/**
 * Shards: one input cut into N parts that N workers compress independently, each
 * into one .lmz member; the parts, concatenated in order (`cat` or `lmzip join`),
 * form one file that decodes to the input (docs/CORPORA.md, "Shards").
 *
 * The cut points are a function of the input's bytes and N only, so every worker
 * computes the same plan without talking to the others, and a single machine
 * running the N shards one after another writes the same bytes as a cluster:
 *
 *   nominal(k) = floor(k * size / N)                      for k = 1 … N-1
 *   cut(k)     = one past the first "\n" at or after nominal(k) and before
 *                nominal(k+1) (size for the last), else nominal(k) itself
 *   shard i    = bytes [cut(i), cut(i+1)), with cut(0) = 0 and cut(N) = size
 *
 * So a JSONL or text corpus is cut between lines (a line longer than a whole shard
 * is cut inside), and cuts never go backwards.
 *
 * @example
 * const { index, count } = resolveShard('auto', process.env);
 * const [start, end] = await shardRange(await fileSource('corpus.jsonl'), index, count);
 */
import { ErrorCode, LmzipError } from './errors.js';

/** Reads `length` bytes at `offset` (fewer at the end of the input). */
export interface ByteReader {
  readonly size: number;
  read(offset: number, length: number): Promise<Buffer>;
}

export interface ShardSpec {
  /** 0-based part number. */
  index: number;
  /** Parts in all. */
  count: number;
}

/** The most parts an input may be cut into (file names carry the numbers). */
export const MAX_SHARDS = 100_000;

const usage = (message: string) => new LmzipError(ErrorCode.INVALID_ARGUMENT, message);

function integer(raw: string | undefined, what: string, min: number, max: number): number {
  if (raw === undefined || !/^\d+$/.test(raw.trim())) throw usage(`${what} must be an integer, got '${raw ?? ''}'`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw usage(`${what} must be from ${min} to ${max}, got ${n}`);
  return n;
}

/**
 * What `--shard` says: `I/N` (0-based I), `auto` (a Slurm job array:
 * SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT) or
 * `auto/N` (the index from SLURM_ARRAY_TASK_ID or a Kubernetes Indexed Job's
 * JOB_COMPLETION_INDEX, which gives no count).
 * @example
 * resolveShard('2/4', {})                                            // { index: 2, count: 4 }
 * resolveShard('auto', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' }) // { index: 3, count: 4 }
 * resolveShard('auto/8', { JOB_COMPLETION_INDEX: '5' })             // { index: 5, count: 8 }
 */
export function resolveShard(spec: string, env: NodeJS.ProcessEnv): ShardSpec {
  const m = /^(\d+|auto)(?:\/(\d+))?$/.exec(spec.trim());
  if (!m || (m[1] !== 'auto' && m[2] === undefined)) throw usage(`--shard expects I/N, auto or auto/N, got '${spec}'`);
  let count = m[2] === undefined ? undefined : integer(m[2], 'the shard count', 1, MAX_SHARDS);
  let index: number;
  if (m[1] !== 'auto') {
    index = integer(m[1], 'the shard number', 0, MAX_SHARDS - 1);
  } else if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const min = env.SLURM_ARRAY_TASK_MIN === undefined ? 0 : integer(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN', 0, 1 << 30);
    index = integer(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID', min, 1 << 30) - min;
    count ??= integer(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT', 1, MAX_SHARDS);
  } else if (env.JOB_COMPLETION_INDEX !== undefined) {
    index = integer(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX', 0, MAX_SHARDS - 1);
    if (count === undefined) throw usage('JOB_COMPLETION_INDEX gives no shard count: use --shard auto/N with N = the Job\'s completions');
  } else {
    throw usage('--shard auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set (not in a job array?); use --shard I/N');
  }
  if (count === undefined) throw usage('--shard auto: no shard count (use auto/N)');
  if (index >= count) throw usage(`shard ${index} does not exist: there are ${count} (numbered from 0)`);
  return { index, count };
}

/** How far a cut looks for a line end at a time. */
const SEARCH_STEP = 1 << 16;

/** One past the first "\n" in [from, limit), or `from` when there is none. */
async function lineCut(input: ByteReader, from: number, limit: number): Promise<number> {
  for (let pos = from; pos < limit; pos += SEARCH_STEP) {
    const bytes = await input.read(pos, Math.min(SEARCH_STEP, limit - pos));
    const nl = bytes.indexOf(0x0a);
    if (nl >= 0) return pos + nl + 1;
    if (bytes.length === 0) break;
  }
  return from;
}

/**
 * The original bytes [start, end) of shard `index` of `count` (see the module
 * comment for the rule).
 * @example
 * const [start, end] = await shardRange(source, 0, 4);
 */
export async function shardRange(input: ByteReader, index: number, count: number): Promise<[number, number]> {
  const nominal = (k: number) => Math.floor((k * input.size) / count);
  // Cut k looks no further than nominal(k + 1), so it never passes cut k + 1.
  const cut = async (k: number) => (k <= 0 ? 0 : k >= count ? input.size : lineCut(input, nominal(k), k + 1 >= count ? input.size : nominal(k + 1)));
  return [await cut(index), await cut(index + 1)];
}

/**
 * The file name of a shard: `NAME.shard-I-of-N.lmz`, numbers zero-padded to the same
 * width so that a shell glob lists the parts in order.
 * @example
 * shardName('corpus.jsonl', 3, 16) // 'corpus.jsonl.shard-0003-of-0016.lmz'
 */
export function shardName(input: string, index: number, count: number): string {
  const width = Math.max(4, String(count).length);
  return `${input}.shard-${String(index).padStart(width, '0')}-of-${String(count).padStart(width, '0')}.lmz`;
}

/** The part number and count a shard's file name carries, if it is one. */
export function parseShardName(path: string): ShardSpec | undefined {
  const m = /\.shard-(\d+)-of-(\d+)\.lmz$/.exec(path);
  return m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
}
