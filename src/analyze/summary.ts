/**
 * What an analysis says, in numbers a person can read: the model against the
 * classical coders, where the bits concentrate (the most and least expensive lines),
 * and the JSON shapes of `lmzip analyze --json` and `--jsonl`.
 */
import { basename } from 'node:path';
import type { BaselineId, BaselineResult } from './baselines.js';
import type { Analysis, AnalysisTotals, TokenRecord, TokenTable } from './records.js';

/** A line of the input (long lines are cut into pieces of at most SEGMENT_BYTES). */
export interface Segment {
  /** 1-based line number. */
  line: number;
  offset: number;
  bytes: number;
  tokens: number;
  bits: number;
  bitsPerByte: number;
  /** The start of the text, whitespace shown as in a terminal. */
  preview: string;
}

export const SEGMENT_BYTES = 1024;
/** Lines shorter than this are left out of the rankings: a few bytes say little. */
export const MIN_RANKED_BYTES = 16;
/** Default surprisal threshold: tokens that cost more than this are "surprising". */
export const DEFAULT_THRESHOLD_BITS = 10;

const decoder = new TextDecoder();

function preview(bytes: Uint8Array, max = 72): string {
  const text = decoder.decode(bytes.subarray(0, max * 4)).replace(/\s+/g, ' ').trim();
  // eslint-disable-next-line no-control-regex
  const shown = text.replace(/[\u0000-\u001f\u007f]/g, '·');
  return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown;
}

/**
 * The input's lines (and pieces of long lines) with the bits of the tokens that start in them.
 * @example
 * const worst = costSegments(a.data, a.tokens).sort((x, y) => y.bitsPerByte - x.bitsPerByte)[0];
 */
export function costSegments(data: Uint8Array, tokens: TokenTable, maxBytes = SEGMENT_BYTES): Segment[] {
  const segments: Segment[] = [];
  let line = 1;
  for (let start = 0; start < data.length; line++) {
    const newline = data.indexOf(0x0a, start);
    const end = newline < 0 ? data.length : newline + 1;
    for (let s = start; s < end; s += maxBytes) {
      const bytes = Math.min(maxBytes, end - s);
      segments.push({ line, offset: s, bytes, tokens: 0, bits: 0, bitsPerByte: 0, preview: '' });
    }
    start = end;
  }
  let k = 0;
  for (let i = 0; i < tokens.length; i++) {
    const at = tokens.offset[i];
    while (k + 1 < segments.length && at >= segments[k + 1].offset) k++;
    segments[k].tokens++;
    segments[k].bits += tokens.bits[i];
  }
  for (const s of segments) {
    s.bitsPerByte = s.bits / s.bytes;
    s.preview = preview(data.subarray(s.offset, s.offset + s.bytes));
  }
  return segments;
}

export interface Concentration {
  /** The most expensive lines per byte, most expensive first. */
  expensive: Segment[];
  /** The cheapest lines per byte, cheapest first. */
  cheap: Segment[];
  /** Share of all bits spent on the costliest tenth of the tokens. */
  topTenthShare: number;
  thresholdBits: number;
  /** Tokens above the threshold: their count, share of tokens and share of bits. */
  surprising: { tokens: number; tokenShare: number; bitShare: number };
}

export function concentration(data: Uint8Array, tokens: TokenTable, options: { count?: number; thresholdBits?: number } = {}): Concentration {
  const count = options.count ?? 5;
  const thresholdBits = options.thresholdBits ?? DEFAULT_THRESHOLD_BITS;
  const ranked = costSegments(data, tokens).filter((s) => s.bytes >= MIN_RANKED_BYTES && s.tokens > 0);
  const byCost = [...ranked].sort((a, b) => b.bitsPerByte - a.bitsPerByte || a.offset - b.offset);
  const sorted = Float64Array.from(tokens.bits).sort().reverse();
  let total = 0;
  for (const b of sorted) total += b;
  let tenth = 0;
  for (let i = 0; i < Math.ceil(sorted.length / 10); i++) tenth += sorted[i];
  let above = 0;
  let aboveBits = 0;
  for (const b of tokens.bits) if (b > thresholdBits) {
    above++;
    aboveBits += b;
  }
  return {
    expensive: byCost.slice(0, count),
    cheap: byCost.slice(Math.max(count, byCost.length - count)).reverse(),
    topTenthShare: total > 0 ? tenth / total : 0,
    thresholdBits,
    surprising: { tokens: above, tokenShare: tokens.length ? above / tokens.length : 0, bitShare: total > 0 ? aboveBits / total : 0 },
  };
}

/** `lmzip analyze --json`: one object per input. */
export interface AnalysisReport {
  file: string;
  bytes: number;
  tokens: number;
  /** The model's total cost: Σ per-token bits under the coder's tables. */
  bits: number;
  bitsPerByte: number;
  /** The range coder's payload for the same chunks (bits + flush). */
  payloadBits: number;
  /** Bytes the model coded (less than `bytes` when some chunks are not text it can spell). */
  modelBytes: number;
  meanEntropy: number;
  model: Analysis['model'];
  settings: Analysis['settings'];
  baselines: Partial<Record<BaselineId, { label: string; bits: number | null; bitsPerByte: number | null; note: string; error?: string }>>;
  concentration: Concentration;
  chunks: Analysis['chunks'];
  /** With --tokens. */
  records?: JsonTokenRecord[];
}

export interface JsonTokenRecord {
  offset: number;
  text: string;
  token: number;
  bits: number;
  entropy: number;
  rank: number;
  top: { token: number; text: string; p: number }[];
}

export function jsonRecord(r: TokenRecord): JsonTokenRecord {
  return { offset: r.offset, text: r.text, token: r.token, bits: r.bits, entropy: r.entropy, rank: r.rank,
    top: r.candidates.map((c) => ({ token: c.token, text: c.text, p: c.probability })) };
}

export function buildReport(file: string, a: Analysis, baselines: BaselineResult[], options: { thresholdBits?: number; records?: boolean } = {}): AnalysisReport {
  const t = a.totals;
  const report: AnalysisReport = {
    file, bytes: t.bytes, tokens: t.tokens, bits: t.bits, bitsPerByte: t.modelBytes ? t.bits / t.modelBytes : 0, payloadBits: t.payloadBits,
    modelBytes: t.modelBytes, meanEntropy: t.tokens ? t.entropyBits / t.tokens : 0, model: a.model, settings: a.settings,
    baselines: Object.fromEntries(baselines.map((b) => [b.id, { label: b.label, bits: b.bits, bitsPerByte: b.bits === null || !t.bytes ? null : b.bits / t.bytes,
      note: b.note, ...(b.error ? { error: b.error } : {}) }])),
    concentration: concentration(a.data, a.tokens, { thresholdBits: options.thresholdBits }),
    chunks: a.chunks,
  };
  if (options.records) report.records = Array.from(a.tokens, jsonRecord);
  return report;
}

const fixed = (x: number, d = 3) => x.toFixed(d);
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The terminal summary: one table, then where the bits are. */
export function formatReport(r: AnalysisReport): string {
  const lines: string[] = [];
  const s = r.settings;
  lines.push(`${r.file}: ${int(r.bytes)} bytes, ${int(r.tokens)} tokens, model ${basename(r.model.path)} ` +
    `(lanes ${s.lanes}, window ${s.window}, overlap ${s.overlap}, chunks of ${int(s.chunkSize)} bytes)`);
  if (r.modelBytes < r.bytes)
    lines.push(`  ${int(r.bytes - r.modelBytes)} bytes are in chunks the model cannot spell (compression stores them with brotli); the model's figures cover the other ${int(r.modelBytes)}.`);
  lines.push('');
  const modelBits = r.bits;
  const rows: string[][] = [['method', 'bits', 'bits/byte', 'vs model']];
  const vs = (bits: number) => (modelBits > 0 ? `${(bits / modelBits).toFixed(2)}×` : '-');
  rows.push(['model: Σ token bits (coder tables)', int(modelBits), fixed(r.bitsPerByte), '1.00×']);
  const flush = r.payloadBits - modelBits;
  rows.push(['model: range-coder payload', int(r.payloadBits), fixed(r.modelBytes ? r.payloadBits / r.modelBytes : 0),
    `+${int(flush)} bits (the coder's flush, once per block)`]);
  for (const b of Object.values(r.baselines)) {
    if (!b) continue;
    if (b.bits === null) rows.push([b.label, '-', '-', b.error ?? 'not measured']);
    else rows.push([b.label, int(b.bits), fixed(b.bitsPerByte ?? 0), vs(b.bits)]);
  }
  lines.push(...table(rows, [false, true, true, false]).map((l) => `  ${l}`));
  lines.push('');
  const c = r.concentration;
  lines.push(`  mean cost ${fixed(r.tokens ? r.bits / r.tokens : 0, 2)} bits/token, mean entropy ${fixed(r.meanEntropy, 2)} bits/token; ` +
    `the costliest 10% of tokens carry ${pct(c.topTenthShare)} of the bits; ` +
    `${pct(c.surprising.tokenShare)} of tokens cost over ${c.thresholdBits} bits (${pct(c.surprising.bitShare)} of the bits)`);
  const seg = (x: Segment) => `  line ${String(x.line).padStart(6)}  ${fixed(x.bitsPerByte, 2).padStart(6)} bits/byte  ${x.preview}`;
  if (c.expensive.length) {
    lines.push('', 'Most expensive lines:');
    lines.push(...c.expensive.map(seg));
  }
  if (c.cheap.length) {
    lines.push('', 'Least expensive lines:');
    lines.push(...c.cheap.map(seg));
  }
  return `${lines.join('\n')}\n`;
}

function table(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : right[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  '));
}

/** `lmzip analyze --jsonl`: one line per document. */
export interface DocumentSummary {
  /** The file, and for a JSONL corpus the 1-based line and the record's id when it has one. */
  file: string;
  line?: number;
  id?: unknown;
  bytes: number;
  tokens: number;
  bits: number;
  bitsPerByte: number;
  meanEntropy: number;
  thresholdBits: number;
  /** Share of tokens that cost more than thresholdBits. */
  surprisingShare: number;
  /** Bytes the model coded (the rest is not text it can spell). */
  modelBytes: number;
}

/** Sums a document's records as they come, frame by frame or slice by slice. */
export class DocumentTotals {
  bytes = 0;
  modelBytes = 0;
  tokens = 0;
  bits = 0;
  entropy = 0;
  surprising = 0;
  constructor(readonly thresholdBits: number) {}

  /** Adds tokens [from, to) of a table (its bits and entropy). */
  addTokens(t: TokenTable, from = 0, to = t.length): void {
    for (let i = from; i < to; i++) {
      this.entropy += t.entropy[i];
      if (t.bits[i] > this.thresholdBits) this.surprising++;
    }
    this.tokens += to - from;
  }

  addTotals(t: Pick<AnalysisTotals, 'bytes' | 'modelBytes' | 'bits'>): void {
    this.bytes += t.bytes;
    this.modelBytes += t.modelBytes;
    this.bits += t.bits;
  }

  summary(where: { file: string; line?: number; id?: unknown }): DocumentSummary {
    return { ...where, bytes: this.bytes, tokens: this.tokens, bits: this.bits, bitsPerByte: this.modelBytes ? this.bits / this.modelBytes : 0,
      meanEntropy: this.tokens ? this.entropy / this.tokens : 0, thresholdBits: this.thresholdBits,
      surprisingShare: this.tokens ? this.surprising / this.tokens : 0, modelBytes: this.modelBytes };
  }
}
