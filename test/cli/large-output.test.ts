/**
 * Outputs over 4 GiB (issue 9, item 4, the CLI's part): the CLI streams to disk and
 * sets no output limit of its own, so -d and -t decode a valid file of 4.125 GiB
 * (the verify step builds its decoder the same way: FileRun.decompressOptions).
 * Before, both stopped at 4 GiB with OUTPUT_TOO_LARGE — after --no-verify had
 * already removed the input. The file is made here: 66 concatenated model-free
 * version-2 members, each one 64 MiB block of brotli chunks of zeros (a few KB on
 * disk), their checksums computed without 4 GiB of work.
 */
import { brotliCompressSync } from 'node:zlib';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkMethod } from '../../src/format/constants.js';
import { crc32 } from '../../src/format/crc32.js';
import { writeBlock, writeEnd } from '../../src/format/v2/block.js';
import { MAX_BLOCK_SIZE, MAX_CHUNK_SIZE } from '../../src/format/v2/constants.js';
import { writeHeaderV2 } from '../../src/format/v2/header.js';
import { CLI, tempDir } from '../helpers.js';

const CHUNK = MAX_CHUNK_SIZE; // 16 MiB of zeros per chunk
const CHUNKS_PER_BLOCK = MAX_BLOCK_SIZE / CHUNK; // 64 MiB per block, the format's limit
const MEMBERS = 66; // one block each (a model-free member has at most one): 4.125 GiB in all
const TOTAL = CHUNK * CHUNKS_PER_BLOCK * MEMBERS;

/** zlib's crc32_combine: the CRC of A‖B from crc(A), crc(B) and B's length. */
function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  const times = (matrix: number[], vector: number) => {
    let sum = 0;
    for (let i = 0; vector; i++, vector >>>= 1) if (vector & 1) sum ^= matrix[i];
    return sum >>> 0;
  };
  const square = (out: number[], matrix: number[]) => {
    for (let n = 0; n < 32; n++) out[n] = times(matrix, matrix[n]);
  };
  const odd = [0xedb88320, ...Array.from({ length: 31 }, (_, n) => 2 ** n)];
  const even: number[] = new Array(32);
  square(even, odd);
  square(odd, even);
  let crc = crcA;
  for (let len = lengthB; len > 0; ) {
    square(even, odd);
    if (len & 1) crc = times(even, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
    square(odd, even);
    if (len & 1) crc = times(odd, crc);
    len = Math.floor(len / 2);
  }
  return (crc ^ crcB) >>> 0;
}

function bigFile(path: string): void {
  const zeros = Buffer.alloc(CHUNK);
  const payload = brotliCompressSync(zeros);
  // A block's CRC covers its offset in the member (8 bytes, 0 here) and then its bytes.
  let crc = crc32(Buffer.alloc(8));
  for (let i = 0; i < CHUNKS_PER_BLOCK; i++) crc = crc32Combine(crc, crc32(zeros), CHUNK);
  const chunks = Array.from({ length: CHUNKS_PER_BLOCK }, () => ({
    method: ChunkMethod.Brotli, stripLeadingSpace: false, originalSize: CHUNK, payloadSize: payload.length }));
  const member = Buffer.concat([
    writeHeaderV2({ modelFree: true, blockSize: MAX_BLOCK_SIZE }),
    ...writeBlock(chunks, new Uint8Array(0), chunks.map(() => payload), crc, true),
    writeEnd(undefined),
  ]);
  writeFileSync(path, Buffer.concat(Array.from({ length: MEMBERS }, () => member)));
}

/** Runs a process without blocking the test worker (a minute of spawnSync starves vitest's RPC). */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const dir = tempDir('lmzip-large-');
afterAll(() => dir.cleanup());

describe('outputs over 4 GiB', () => {
  it('crc32Combine agrees with crc32 over the joined bytes (the checksum helper works)', () => {
    const a = Buffer.from('Once upon a time'), b = Buffer.alloc(100_000, 7);
    expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
  });

  it('-t and -d -c decode all 4.125 GiB (no OUTPUT_TOO_LARGE)', async () => {
    const file = join(dir.path, 'big.lmz');
    bigFile(file);
    const env = { ...process.env, LMZIP_CACHE_DIR: join(dir.path, 'cache'), LMZIP_OFFLINE: '1' };
    const t = await run(process.execPath, [CLI, '-t', '-v', file], env);
    expect(t.stderr).toBe(`${file}: OK\n`);
    expect(t.status).toBe(0);
    const d = await run('bash', ['-c', `'${process.execPath}' '${CLI}' -d -c '${file}' | wc -c`], env);
    expect(d.stderr).toBe('');
    expect(Number(d.stdout.trim())).toBe(TOTAL);
  }, 1_200_000);
});
