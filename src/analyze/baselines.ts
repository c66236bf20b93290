/**
 * The classical coders the model is compared with, on the same bytes: an order-0
 * byte model (Shannon entropy of the byte histogram), a real Huffman code over bytes,
 * and the real gzip -9 (LZ77 + Huffman), compress (LZW), xz and brotli programs at
 * the benchmark's levels. A program that is not installed is reported as such,
 * never estimated.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstallCommand } from '../bench/baselines.js';
import { runTimed, which } from '../bench/proc.js';

export type BaselineId = 'order0' | 'huffman' | 'gzip' | 'lzw' | 'xz' | 'brotli';

export interface BaselineResult {
  id: BaselineId;
  label: string;
  /** Total bits; null when the program is missing or failed (see `error`). */
  bits: number | null;
  /** What the figure is: a bound, a code length, or a program's output size. */
  note: string;
  error?: string;
}

/** Byte histogram. */
export function byteCounts(data: Uint8Array): Float64Array {
  const counts = new Float64Array(256);
  for (const b of data) counts[b]++;
  return counts;
}

/**
 * n · H(byte histogram): the least an order-0 byte model can spend (no table).
 * @example
 * order0Bits(Buffer.from('abab')) // 4
 */
export function order0Bits(data: Uint8Array): number {
  const n = data.length;
  let bits = 0;
  for (const c of byteCounts(data)) if (c > 0) bits -= c * Math.log2(c / n);
  return bits;
}

/**
 * Huffman code lengths for symbol counts (0 for absent symbols; a lone symbol gets 1 bit).
 * @example
 * huffmanCodeLengths([5, 2, 1, 1]) // [1, 2, 3, 3]
 */
export function huffmanCodeLengths(counts: ArrayLike<number>): number[] {
  const lengths = new Array<number>(counts.length).fill(0);
  // Each node: its weight and the symbols below it; merging adds one bit to each.
  let nodes = Array.from(counts, (w, s) => ({ w, symbols: [s] })).filter((n) => n.w > 0);
  if (nodes.length === 1) lengths[nodes[0].symbols[0]] = 1;
  while (nodes.length > 1) {
    nodes.sort((a, b) => a.w - b.w || a.symbols[0] - b.symbols[0]);
    const [a, b] = nodes;
    for (const s of [...a.symbols, ...b.symbols]) lengths[s]++;
    nodes = [{ w: a.w + b.w, symbols: [...a.symbols, ...b.symbols] }, ...nodes.slice(2)];
  }
  return lengths;
}

/**
 * Bits of the input coded with a Huffman code built for its own byte histogram
 * (the code only; a canonical table of the lengths would add at most 256 bytes).
 * @example
 * huffmanBits(Buffer.from('aaab')) // 4
 */
export function huffmanBits(data: Uint8Array): number {
  const counts = byteCounts(data);
  const lengths = huffmanCodeLengths(counts);
  let bits = 0;
  for (let s = 0; s < 256; s++) bits += counts[s] * lengths[s];
  return bits;
}

/**
 * The programs, with the benchmark's levels (src/bench/baselines.ts), reading the
 * input on standard input so that no file name or time stamp lands in the output
 * (gzip stores the name of a file it is given).
 */
const PROGRAMS: { id: BaselineId; program: string; args: string[]; debianPackage: string; label: string }[] = [
  { id: 'gzip', program: 'gzip', args: ['-9', '-c'], debianPackage: 'gzip', label: 'gzip -9 (LZ77 + Huffman)' },
  { id: 'lzw', program: 'compress', args: ['-c'], debianPackage: 'ncompress', label: 'compress (LZW)' },
  { id: 'xz', program: 'xz', args: ['-9e', '-c'], debianPackage: 'xz-utils', label: 'xz -9e (LZMA2)' },
  { id: 'brotli', program: 'brotli', args: ['-q', '11', '-c'], debianPackage: 'brotli', label: 'brotli -q 11' },
];

export const BASELINE_IDS: readonly BaselineId[] = ['order0', 'huffman', ...PROGRAMS.map((p) => p.id)];

/**
 * Every baseline on `data`: the two computed ones, then (unless `programs: false`)
 * the programs, one after another, each a child process on a temporary copy of the input.
 * @example
 * for (const b of await classicalBaselines(bytes)) console.log(b.label, b.bits);
 */
export async function classicalBaselines(data: Uint8Array, options: { programs?: boolean; timeoutMs?: number } = {}): Promise<BaselineResult[]> {
  const out: BaselineResult[] = [
    { id: 'order0', label: 'order-0 entropy (bytes)', bits: order0Bits(data), note: 'n·H of the byte histogram, no table' },
    { id: 'huffman', label: 'Huffman code (bytes)', bits: huffmanBits(data), note: 'Huffman code for the byte histogram, without its table' },
  ];
  if (options.programs === false) return out;
  const dir = mkdtempSync(join(tmpdir(), 'lmzip-analyze-'));
  try {
    const input = join(dir, 'input');
    writeFileSync(input, data);
    for (const p of PROGRAMS) {
      const command = `${p.program} ${p.args.join(' ')} < FILE`;
      const result: BaselineResult = { id: p.id, label: p.label, bits: null, note: `output size of ${command}` };
      out.push(result);
      if (!which(p.program)) {
        result.error = `${p.program} is not installed (${aptInstallCommand([p.debianPackage])})`;
        continue;
      }
      const output = join(dir, 'output');
      const r = await runTimed(p.program, p.args, { stdinFile: input, stdoutFile: output, timeoutMs: options.timeoutMs ?? 600_000 });
      // compress exits with 2 when the output is larger than the input; the output is still complete
      if (r.code !== 0 && !(p.id === 'lzw' && r.code === 2)) result.error = `${p.program} exited with ${r.code ?? r.signal}: ${r.stderr.trim().slice(-200)}`;
      else result.bits = statSync(output).size * 8;
      rmSync(output, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
