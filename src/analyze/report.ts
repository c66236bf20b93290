/**
 * The HTML report of `lmzip analyze --html`: one self-contained file (no network,
 * no external scripts or fonts) built from report.html, the template beside this
 * module. The summary table and the two charts are rendered here as static HTML and
 * SVG; the per-token data travels as two gzip-compressed binary blocks that the
 * page's own script decodes (DecompressionStream): the text and costs first, to
 * draw segment by segment as they scroll into view, then the tooltips' details.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ErrorCode, LmzipError } from '../errors.js';
import type { BaselineResult } from './baselines.js';
import type { Analysis } from './records.js';
import type { AnalysisReport, Segment } from './summary.js';

/** Upper ends (bits) of the colour classes c0, c1, …; the last class is everything above. */
export const COLOR_BINS = [0.5, 1, 2, 3, 4, 6, 8, 10, 13, 16] as const;
/** Inputs above this are refused: the page would be too large to open comfortably. */
export const MAX_HTML_INPUT = 64 * 1024 * 1024;
/** Histogram bins: one bit wide up to HISTOGRAM_MAX_BITS, then one bin for the rest. */
const HISTOGRAM_MAX_BITS = 20;
/** Bits and entropies travel as 16-bit integers in units of 1/BITS_SCALE bit (a token costs at most ~31 bits). */
const BITS_SCALE = 2048;
/** Points of the cumulative curve. */
const CURVE_POINTS = 800;

const TEMPLATE_URL = new URL('./report.html', import.meta.url);

export function colorClass(bits: number): number {
  let c = 0;
  while (c < COLOR_BINS.length && bits >= COLOR_BINS[c]) c++;
  return c;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (x: number, d = 3) => x.toFixed(d);
const int = (x: number) => Math.round(x).toLocaleString('en-US');

type Section = [name: string, view: ArrayBufferView, type: 'u8' | 'u16' | 'u32'];

/** Typed arrays laid end to end (4-byte aligned), gzipped; `sections` says where each one is. */
function pack(arrays: Section[]): { gz: Buffer; sections: Record<string, [number, number, string]> } {
  const sections: Record<string, [number, number, string]> = {};
  const parts: Buffer[] = [];
  let at = 0;
  for (const [name, view, type] of arrays) {
    sections[name] = [at, view.byteLength, type];
    parts.push(Buffer.from(view.buffer, view.byteOffset, view.byteLength));
    at += view.byteLength;
    const pad = (4 - (at % 4)) % 4;
    if (pad) parts.push(Buffer.alloc(pad));
    at += pad;
  }
  return { gz: gzipSync(Buffer.concat(parts), { level: 6 }), sections };
}

/**
 * The per-token data in two blocks: `core` (the text, each token's length and cost:
 * enough to draw and colour everything) is decoded before the page shows the text;
 * `details` (ids, entropy, rank, candidates: what the tooltip shows) right after.
 * Offsets are not stored: each token starts where the previous one ended, except
 * after bytes no token covers, listed in `gaps` as (token index, bytes skipped).
 */
function dataBlocks(a: Analysis) {
  const t = a.tokens;
  const u16 = (x: number) => Math.min(0xffff, Math.round(x));
  const gaps: number[] = [];
  for (let i = 0, end = 0; i < t.length; end = t.offset[i] + t.byteLength[i], i++)
    if (t.offset[i] !== end) gaps.push(i, t.offset[i] - end);
  const core = pack([
    ['text', a.data, 'u8'],
    ['length', Uint16Array.from(t.byteLength, u16), 'u16'],
    ['bits', Uint16Array.from(t.bits, (x) => u16(x * BITS_SCALE)), 'u16'],
    ['gaps', Uint32Array.from(gaps), 'u32'],
  ]);
  const vocab = t.vocabulary.ids().sort((x, y) => x - y);
  const pieces = vocab.map((id) => t.vocabulary.piece(id));
  const pieceOffsets = new Uint32Array(vocab.length + 1);
  pieces.forEach((p, i) => (pieceOffsets[i + 1] = pieceOffsets[i] + p.length));
  const wide = a.model.vocabSize > 0xffff;
  const none = wide ? 0xffffffff : 0xffff;
  const ids = (x: Int32Array) => {
    const out = wide ? new Uint32Array(x.length) : new Uint16Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] < 0 ? none : x[i];
    return out;
  };
  const details = pack([
    ['token', ids(t.token), wide ? 'u32' : 'u16'],
    ['entropy', Uint16Array.from(t.entropy, (x) => u16(x * BITS_SCALE)), 'u16'],
    ['rank', Uint16Array.from(t.rank, u16), 'u16'],
    ['topIds', ids(t.topIds), wide ? 'u32' : 'u16'],
    ['topProbs', Uint16Array.from(t.topProbs, (p) => u16(p * 0xffff)), 'u16'],
    ['pieceIds', Uint32Array.from(vocab), 'u32'],
    ['pieceOffsets', pieceOffsets, 'u32'],
    ['pieceBytes', Buffer.concat(pieces), 'u8'],
  ]);
  return { core, details };
}

function summaryTable(r: AnalysisReport): string {
  const rows: string[] = [];
  const row = (cells: string[], cls = '') => rows.push(`<tr${cls ? ` class="${cls}"` : ''}>${cells.map((c, i) => (i ? `<td>${c}</td>` : `<th scope="row">${c}</th>`)).join('')}</tr>`);
  const vs = (bits: number) => (r.bits > 0 ? `${(bits / r.bits).toFixed(2)}×` : '–');
  row(['model: Σ token bits', `<span id="total-bits" data-bits="${r.bits}">${int(r.bits)}</span>`, fmt(r.bitsPerByte), '1.00×'], 'model');
  row(['model: range-coder payload', `<span id="payload-bits">${int(r.payloadBits)}</span>`, fmt(r.modelBytes ? r.payloadBits / r.modelBytes : 0),
    `+${int(r.payloadBits - r.bits)} bits flush`], 'model');
  for (const [id, b] of Object.entries(r.baselines)) {
    if (!b) continue;
    if (b.bits === null) row([escapeHtml(b.label), '–', '–', escapeHtml(b.error ?? 'not measured')], `baseline ${id}`);
    else row([escapeHtml(b.label), int(b.bits), fmt(b.bitsPerByte ?? 0), vs(b.bits)], `baseline ${id}`);
  }
  return `<table class="summary"><thead><tr><th scope="col">method</th><th scope="col">bits</th><th scope="col">bits/byte</th><th scope="col">vs model</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function histogramSvg(a: Analysis): string {
  const bins = HISTOGRAM_MAX_BITS + 1;
  const count = new Float64Array(bins);
  const bits = new Float64Array(bins);
  for (const b of a.tokens.bits) {
    const k = Math.min(bins - 1, Math.floor(b));
    count[k]++;
    bits[k] += b;
  }
  const n = a.tokens.length || 1;
  const total = a.totals.bits || 1;
  const W = 640, H = 220, left = 40, bottom = 30, top = 14;
  const bw = (W - left - 10) / bins;
  const maxShare = Math.max(0.01, ...Array.from(count, (c) => c / n), ...Array.from(bits, (b) => b / total));
  const y = (share: number) => H - bottom - (share / maxShare) * (H - bottom - top);
  const bars: string[] = [];
  for (let k = 0; k < bins; k++) {
    const x = left + k * bw;
    const ts = count[k] / n, bs = bits[k] / total;
    const label = k === bins - 1 ? `≥ ${k} bits` : `${k}–${k + 1} bits`;
    bars.push(`<g><title>${label}: ${int(count[k])} tokens (${(100 * ts).toFixed(1)}%), ${(100 * bs).toFixed(1)}% of the bits</title>` +
      `<rect class="tok c${colorClass(k + 0.5)}" x="${(x + 1).toFixed(1)}" y="${y(ts).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${(H - bottom - y(ts)).toFixed(1)}"/>` +
      `<rect class="bitshare" x="${(x + bw / 2).toFixed(1)}" y="${y(bs).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${(H - bottom - y(bs)).toFixed(1)}"/></g>`);
  }
  const ticks: string[] = [];
  for (let k = 0; k <= bins; k += 2)
    ticks.push(`<text x="${(left + k * bw).toFixed(1)}" y="${H - bottom + 14}" text-anchor="middle">${k === bins ? '' : k}</text>`);
  for (const s of [0, maxShare / 2, maxShare])
    ticks.push(`<text x="${left - 4}" y="${(y(s) + 4).toFixed(1)}" text-anchor="end">${(100 * s).toFixed(0)}%</text>`);
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="hist-title hist-desc">` +
    `<title id="hist-title">Histogram of per-token cost</title><desc id="hist-desc">For each 1-bit band of token cost: the share of tokens (coloured) and the share of all bits (grey).</desc>` +
    `<line class="axis" x1="${left}" y1="${H - bottom}" x2="${W - 10}" y2="${H - bottom}"/>${bars.join('')}${ticks.join('')}` +
    `<text x="${(W + left) / 2}" y="${H - 2}" text-anchor="middle">bits per token</text></svg>`;
}

const SHORT_NAMES: Record<BaselineResult['id'], string> = { order0: 'order-0', huffman: 'Huffman', gzip: 'gzip -9', lzw: 'LZW', xz: 'xz -9e', brotli: 'brotli' };

function cumulativeSvg(a: Analysis, baselines: BaselineResult[]): string {
  const N = a.data.length || 1;
  const t = a.tokens;
  const W = 640, H = 260, left = 64, right = 150, top = 12, bottom = 30;
  const finite = baselines.filter((b) => b.bits !== null) as (BaselineResult & { bits: number })[];
  const maxBits = Math.max(a.totals.bits, ...finite.map((b) => b.bits), 1) * 1.04;
  const x = (o: number) => left + (o / N) * (W - left - right);
  const y = (b: number) => H - bottom - (b / maxBits) * (H - top - bottom);
  const pts: string[] = [`${x(0).toFixed(1)},${y(0).toFixed(1)}`];
  const step = Math.max(1, Math.floor(t.length / CURVE_POINTS));
  let cum = 0;
  for (let i = 0; i < t.length; i++) {
    cum += t.bits[i];
    if ((i + 1) % step === 0 || i === t.length - 1) pts.push(`${x(t.offset[i] + t.byteLength[i]).toFixed(1)},${y(cum).toFixed(1)}`);
  }
  // Labels at the right end, moved apart where totals are close.
  const labels = [{ y: y(a.totals.bits), key: -1 }, ...finite.map((b, k) => ({ y: y(b.bits), key: k }))].sort((p, q) => p.y - q.y);
  for (let i = 1; i < labels.length; i++) labels[i].y = Math.max(labels[i].y, labels[i - 1].y + 12);
  const overflow = labels.length ? labels[labels.length - 1].y - (H - bottom) : 0;
  if (overflow > 0) for (const l of labels) l.y -= overflow;
  const labelY = new Map(labels.map((l) => [l.key, l.y + 4]));
  const lines = finite.map((b, k) =>
    `<g class="baseline ${b.id}"><title>${escapeHtml(b.label)}: ${int(b.bits)} bits (its average rate along the file)</title>` +
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(N).toFixed(1)}" y2="${y(b.bits).toFixed(1)}"/>` +
    `<text x="${(x(N) + 4).toFixed(1)}" y="${labelY.get(k)!.toFixed(1)}">${escapeHtml(SHORT_NAMES[b.id])} ${int(b.bits)}</text></g>`);
  const yTicks = [0, maxBits / 2, maxBits].map((b) => `<text x="${left - 4}" y="${(y(b) + 4).toFixed(1)}" text-anchor="end">${int(b)}</text>`);
  const xTicks = [0, N / 2, N].map((o) => `<text x="${x(o).toFixed(1)}" y="${H - bottom + 14}" text-anchor="middle">${int(o)}</text>`);
  return `<svg class="chart" id="cumulative" viewBox="0 0 ${W} ${H}" data-left="${left}" data-right="${right}" data-bytes="${a.data.length}" role="img" aria-labelledby="cum-title cum-desc">` +
    `<title id="cum-title">Cumulative bits along the file</title><desc id="cum-desc">The model's cumulative cost (solid) against each classical coder's total spread evenly over the file (dashed). Click to jump to that place in the text.</desc>` +
    `<line class="axis" x1="${left}" y1="${H - bottom}" x2="${W - right}" y2="${H - bottom}"/><line class="axis" x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}"/>` +
    `${lines.join('')}<polyline class="model" points="${pts.join(' ')}"/>` +
    `<text class="model-label" x="${(x(N) + 4).toFixed(1)}" y="${labelY.get(-1)!.toFixed(1)}">model ${int(a.totals.bits)}</text>` +
    `${yTicks.join('')}${xTicks.join('')}<text x="${(left + W - right) / 2}" y="${H - 2}" text-anchor="middle">byte offset</text></svg>`;
}

function segmentList(segments: Segment[]): string {
  return segments.map((s) => `<li><a href="#" data-offset="${s.offset}">line ${s.line}</a> <span class="num">${fmt(s.bitsPerByte, 2)}</span> bits/byte <q>${escapeHtml(s.preview)}</q></li>`).join('');
}

/**
 * The report as one HTML string.
 * @example
 * await writeFile('report.html', renderHtmlReport(analysis, report, baselines));
 */
export function renderHtmlReport(a: Analysis, r: AnalysisReport, baselines: BaselineResult[]): string {
  if (a.data.length > MAX_HTML_INPUT)
    throw new LmzipError(ErrorCode.INPUT_TOO_LARGE, `the HTML report takes inputs up to ${MAX_HTML_INPUT / 1024 / 1024} MiB; use --json or --jsonl for larger ones`);
  const { core, details } = dataBlocks(a);
  const meta = {
    file: r.file, tokens: a.tokens.length, bytes: a.data.length, bits: r.bits, topK: a.tokens.topK, colorBins: COLOR_BINS, bitsScale: BITS_SCALE,
    thresholdBits: r.concentration.thresholdBits, core: core.sections, details: details.sections,
  };
  const c = r.concentration;
  const values: Record<string, string> = {
    TITLE: escapeHtml(`${r.file} — lmzip analyze`),
    FILE: escapeHtml(r.file),
    MODEL: escapeHtml(basename(r.model.path)),
    SETTINGS: escapeHtml(`lanes ${r.settings.lanes}, window ${r.settings.window}, overlap ${r.settings.overlap}, chunks of ${int(r.settings.chunkSize)} bytes`),
    BYTES: int(r.bytes),
    TOKENS: `<span id="total-tokens" data-tokens="${r.tokens}">${int(r.tokens)}</span>`,
    BITS_PER_BYTE: fmt(r.bitsPerByte),
    MEAN_BITS: fmt(r.tokens ? r.bits / r.tokens : 0, 2),
    MEAN_ENTROPY: fmt(r.meanEntropy, 2),
    TOP_TENTH: `${(100 * c.topTenthShare).toFixed(1)}%`,
    SURPRISING: `${(100 * c.surprising.tokenShare).toFixed(1)}% of tokens cost over ${c.thresholdBits} bits and carry ${(100 * c.surprising.bitShare).toFixed(1)}% of the bits`,
    SUMMARY_TABLE: summaryTable(r),
    HISTOGRAM: histogramSvg(a),
    CUMULATIVE: cumulativeSvg(a, baselines),
    EXPENSIVE: segmentList(c.expensive),
    CHEAP: segmentList(c.cheap),
    LEGEND: COLOR_BINS.map((b, i) => `<span class="t c${i}">&lt; ${b}</span>`).join('') + `<span class="t c${COLOR_BINS.length}">≥ ${COLOR_BINS[COLOR_BINS.length - 1]}</span>`,
    META_JSON: JSON.stringify(meta).replace(/</g, '\\u003c'),
    CORE_BASE64: core.gz.toString('base64'),
    DETAILS_BASE64: details.gz.toString('base64'),
  };
  return readFileSync(TEMPLATE_URL, 'utf8').replace(/\{\{([A-Z_0-9]+)\}\}/g, (whole, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`report.html: unknown placeholder ${whole}`);
    return v;
  });
}
