/**
 * The shard plan (src/shard.ts) and the CLI's size and option parsing for corpora:
 * pure functions, no model. The plan must cover the input exactly, cut after line
 * ends where the input has them, and be the same whoever computes it.
 */
import { describe, expect, it } from 'vitest';
import { parseArgs, parseSize, UsageError } from '../../src/cli/args.js';
import { parseShardName, resolveShard, shardName, shardRange, type ByteReader } from '../../src/shard.js';
import { rng } from '../helpers.js';

function reader(data: Buffer): ByteReader {
  return { size: data.length, read: async (offset, length) => data.subarray(offset, Math.min(data.length, offset + length)) };
}

async function plan(data: Buffer, count: number): Promise<[number, number][]> {
  const parts: [number, number][] = [];
  for (let i = 0; i < count; i++) parts.push(await shardRange(reader(data), i, count));
  return parts;
}

describe('shard plan', () => {
  it('cuts one past the first line end at or after each nominal point', async () => {
    const data = Buffer.from('aaaa\nbbbb\ncccc\ndddd\n'); // 20 bytes, nominal cuts 5, 10, 15
    expect(await plan(data, 4)).toEqual([[0, 10], [10, 15], [15, 20], [20, 20]]);
    // Without line ends, at the nominal byte.
    expect(await plan(Buffer.alloc(10, 120), 3)).toEqual([[0, 3], [3, 6], [6, 10]]);
  });

  it('covers random inputs exactly, in order, ending parts at line ends where one lies in reach', async () => {
    const random = rng(11);
    for (let trial = 0; trial < 200; trial++) {
      const size = Math.floor(random() * 3000);
      const newlineRate = [0, 0.001, 0.02, 0.3][trial % 4];
      const data = Buffer.from(Array.from({ length: size }, () => (random() < newlineRate ? 10 : 97)));
      const count = 1 + Math.floor(random() * 9);
      const parts = await plan(data, count);
      expect(parts[0][0]).toBe(0);
      expect(parts[count - 1][1]).toBe(size);
      for (let i = 0; i < count; i++) {
        expect(parts[i][0]).toBeLessThanOrEqual(parts[i][1]);
        if (i > 0) expect(parts[i][0]).toBe(parts[i - 1][1]);
        const cut = parts[i][1];
        const nominal = Math.floor(((i + 1) * size) / count);
        const limit = i + 2 >= count ? size : Math.floor(((i + 2) * size) / count);
        if (i + 1 < count) {
          const nl = data.subarray(nominal, limit).indexOf(10);
          expect(cut).toBe(nl >= 0 ? nominal + nl + 1 : nominal);
        }
      }
    }
  });

  it('finds line ends beyond one read step', async () => {
    const data = Buffer.concat([Buffer.alloc(200_000, 97), Buffer.from('\n'), Buffer.alloc(100, 98)]);
    expect(await plan(data, 2)).toEqual([[0, 200_001], [200_001, 200_101]]);
  });
});

describe('--shard and the job engines', () => {
  it('reads I/N, Slurm job arrays (also not starting at 0) and Kubernetes Indexed Jobs', () => {
    expect(resolveShard('2/4', {})).toEqual({ index: 2, count: 4 });
    expect(resolveShard('auto', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ index: 3, count: 4 });
    expect(resolveShard('auto', { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '5', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ index: 2, count: 4 });
    expect(resolveShard('auto/8', { JOB_COMPLETION_INDEX: '5' })).toEqual({ index: 5, count: 8 });
  });

  it('refuses what cannot be a shard, with a reason', () => {
    expect(() => resolveShard('4/4', {})).toThrow('shard 4 does not exist: there are 4');
    expect(() => resolveShard('auto', {})).toThrow('neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX');
    expect(() => resolveShard('auto', { JOB_COMPLETION_INDEX: '1' })).toThrow('use --shard auto/N');
    expect(() => resolveShard('1', {})).toThrow('expects I/N');
    expect(() => resolveShard('x/2', {})).toThrow('expects I/N');
  });

  it('names shards so that a glob lists them in order, and reads the names back', () => {
    expect(shardName('c.jsonl', 3, 16)).toBe('c.jsonl.shard-0003-of-0016.lmz');
    expect(shardName('c', 9, 100_000)).toBe('c.shard-000009-of-100000.lmz');
    expect(parseShardName('dir/c.jsonl.shard-0003-of-0016.lmz')).toEqual({ index: 3, count: 16 });
    expect(parseShardName('c.jsonl.lmz')).toBeUndefined();
  });
});

describe('corpus options', () => {
  it('parses sizes with K/M/G suffixes', () => {
    expect(parseSize('4096', 'x')).toBe(4096);
    expect(parseSize('64K', 'x')).toBe(65536);
    expect(parseSize('1MiB', 'x')).toBe(1 << 20);
    expect(parseSize('2g', 'x')).toBe(2 * 1024 ** 3);
    expect(() => parseSize('1.5M', '--range')).toThrow("--range expects a byte count such as 4096, 64K or 1M, got '1.5M'");
  });

  it('reads the corpus options and refuses combinations that cannot work', () => {
    const o = parseArgs(['-N', '--block-size', '64K', '--shard=auto/4', '--progress=json', 'f']);
    expect([o.recordModelPath, o.blockSize, o.shard, o.progress]).toEqual([true, 65536, 'auto/4', 'json']);
    expect(parseArgs(['-dr', 'dir']).recursive).toBe(true);
    expect(parseArgs(['-d', '--range', '1M:4K', 'f.lmz']).range).toEqual({ offset: 1 << 20, length: 4096 });
    expect(parseArgs(['-d', '--range=10:', 'f.lmz']).range).toEqual({ offset: 10, length: Number.MAX_SAFE_INTEGER });
    for (const [args, message] of [
      [['--block-size', '1500', 'f'], 'a multiple of 1K'],
      [['--range', '0:10', 'f.lmz'], '--range needs -d'],
      [['-d', '--range', '0:10', 'a.lmz', 'b.lmz'], 'one compressed file'],
      [['-r', '-o', 'x', 'd'], '-o cannot be used with -r'],
      [['--shard', '0/2', 'a', 'b'], '--shard compresses one part of one FILE'],
      [['--resume', '-c', 'a'], '--resume continues a compression to a file'],
      [['--reindex', '-d', 'a.lmz'], '--reindex takes compressed FILEs'],
      [['--progress=fancy', 'a'], 'bar, json or none'],
      [['-r', '--shard', '0/2', 'd'], '--shard compresses one part of one FILE'],
      [['--resume'], 'not standard input'],
      [['-d', '--range', '0:1', '-'], 'not standard input'],
    ] as const) {
      expect(() => parseArgs([...args]), args.join(' ')).toThrow(UsageError);
      expect(() => parseArgs([...args]), args.join(' ')).toThrow(message);
    }
  });
});
