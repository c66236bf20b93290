/**
 * A small SVG chart writer (scatter and lines, log or linear axes, labelled
 * points) with no dependencies, and PNG rendering through Debian's rsvg-convert.
 */
import { spawnSync } from 'node:child_process';
import { which } from './proc.js';

export interface ChartPoint {
  x: number;
  y: number;
  label?: string;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
  /** Join the points with a line (sweeps); otherwise markers only. */
  line?: boolean;
  color?: string;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  series: ChartSeries[];
  width?: number;
  height?: number;
  /** Show a legend of series names (off when each point is labelled). */
  legend?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

interface Axis {
  min: number;
  max: number;
  log: boolean;
  ticks: number[];
}

function makeAxis(values: number[], log: boolean): Axis {
  const v = values.filter((x) => Number.isFinite(x) && (!log || x > 0));
  let min = v.length ? Math.min(...v) : 1;
  let max = v.length ? Math.max(...v) : 10;
  if (log) {
    let lo = Math.floor(Math.log10(min));
    let hi = Math.ceil(Math.log10(max));
    if (hi === lo) hi = lo + 1;
    const ticks: number[] = [];
    for (let e = lo; e <= hi; e++) {
      ticks.push(10 ** e);
      // With few decades, add 2× and 5× ticks so the axis can be read.
      if (hi - lo <= 3 && e < hi) ticks.push(2 * 10 ** e, 5 * 10 ** e);
    }
    return { min: 10 ** lo, max: 10 ** hi, log, ticks: ticks.sort((a, b) => a - b) };
  }
  if (min === max) {
    min -= 1;
    max += 1;
  }
  const span = max - min;
  const step0 = 10 ** Math.floor(Math.log10(span / 5));
  const step = [1, 2, 5, 10].map((m) => m * step0).find((s) => span / s <= 6) ?? step0 * 10;
  const lo = Math.min(0, Math.floor(min / step) * step);
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { min: lo, max: hi, log, ticks };
}

function tickLabel(t: number): string {
  if (t >= 1e6) return `${Number((t / 1e6).toPrecision(3))}M`;
  if (t >= 1e3) return `${Number((t / 1e3).toPrecision(3))}k`;
  return String(Number(t.toPrecision(3)));
}

/** Renders the chart to an SVG document. */
export function renderSvg(spec: ChartSpec): string {
  const W = spec.width ?? 900;
  const H = spec.height ?? 560;
  const m = { left: 80, right: 30, top: spec.subtitle ? 64 : 48, bottom: 60 };
  const legendRows = spec.legend ? spec.series.length : 0;
  const pw = W - m.left - m.right - (spec.legend ? 190 : 0);
  const ph = H - m.top - m.bottom;
  const all = spec.series.flatMap((s) => s.points);
  const ax = makeAxis(
    all.map((p) => p.x),
    !!spec.xLog,
  );
  const ay = makeAxis(
    all.map((p) => p.y),
    !!spec.yLog,
  );
  const sx = (x: number) =>
    m.left + (ax.log ? (Math.log10(x) - Math.log10(ax.min)) / (Math.log10(ax.max) - Math.log10(ax.min)) : (x - ax.min) / (ax.max - ax.min)) * pw;
  const sy = (y: number) =>
    m.top + ph - (ay.log ? (Math.log10(y) - Math.log10(ay.min)) / (Math.log10(ay.max) - Math.log10(ay.min)) : (y - ay.min) / (ay.max - ay.min)) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="26" text-anchor="middle" font-size="18" font-weight="bold">${escapeXml(spec.title)}</text>`,
  );
  if (spec.subtitle) {
    out.push(`<text x="${W / 2}" y="46" text-anchor="middle" font-size="12" fill="#555">${escapeXml(spec.subtitle)}</text>`);
  }
  // Grid and ticks.
  for (const t of ax.ticks) {
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 18}" text-anchor="middle" font-size="12" fill="#333">${tickLabel(t)}</text>`);
  }
  for (const t of ay.ticks) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${Number(y) + 4}" text-anchor="end" font-size="12" fill="#333">${tickLabel(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(
    `<text x="${m.left + pw / 2}" y="${H - 18}" text-anchor="middle" font-size="14">${escapeXml(spec.xLabel)}</text>`,
    `<text x="22" y="${m.top + ph / 2}" text-anchor="middle" font-size="14" transform="rotate(-90 22 ${m.top + ph / 2})">${escapeXml(spec.yLabel)}</text>`,
  );
  // Series.
  const placed: { x0: number; y0: number; x1: number; y1: number }[] = [];
  const overlaps = (b: { x0: number; y0: number; x1: number; y1: number }) =>
    b.x0 < m.left || b.x1 > m.left + pw || b.y0 < m.top || b.y1 > m.top + ph ||
    placed.some((p) => b.x0 < p.x1 && b.x1 > p.x0 && b.y0 < p.y1 && b.y1 > p.y0);
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!ax.log || p.x > 0) && (!ay.log || p.y > 0));
    if (s.line && pts.length > 1) {
      const d = pts.map((p, k) => `${k ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    for (const p of pts) {
      const x = sx(p.x);
      const y = sy(p.y);
      out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="5" fill="${color}" stroke="#fff" stroke-width="1"/>`);
      placed.push({ x0: x - 5, y0: y - 5, x1: x + 5, y1: y + 5 });
    }
  });
  // Labels after all markers, so a label avoids every marker.
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    for (const p of s.points) {
      if (!p.label || !Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
      const x = sx(p.x);
      const y = sy(p.y);
      const w = p.label.length * 7 + 4;
      const h = 14;
      const candidates = [
        { x0: x + 8, y0: y - h / 2, anchor: 'start', tx: x + 9, ty: y + 4 },
        { x0: x - 8 - w, y0: y - h / 2, anchor: 'end', tx: x - 9, ty: y + 4 },
        { x0: x - w / 2, y0: y - 10 - h, anchor: 'middle', tx: x, ty: y - 12 },
        { x0: x - w / 2, y0: y + 8, anchor: 'middle', tx: x, ty: y + 20 },
        { x0: x + 8, y0: y - 8 - h, anchor: 'start', tx: x + 9, ty: y - 11 },
        { x0: x + 8, y0: y + 6, anchor: 'start', tx: x + 9, ty: y + 18 },
        { x0: x - 8 - w, y0: y - 8 - h, anchor: 'end', tx: x - 9, ty: y - 11 },
        { x0: x - 8 - w, y0: y + 6, anchor: 'end', tx: x - 9, ty: y + 18 },
      ];
      const c = candidates.find((c) => !overlaps({ x0: c.x0, y0: c.y0, x1: c.x0 + w, y1: c.y0 + h })) ?? candidates[0]!;
      placed.push({ x0: c.x0, y0: c.y0, x1: c.x0 + w, y1: c.y0 + h });
      out.push(
        `<text x="${c.tx.toFixed(1)}" y="${c.ty.toFixed(1)}" text-anchor="${c.anchor}" font-size="12" fill="${color}">${escapeXml(p.label)}</text>`,
      );
    }
  });
  if (spec.legend) {
    const lx = m.left + pw + 20;
    spec.series.forEach((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length]!;
      const ly = m.top + 10 + i * 22;
      out.push(
        `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
        `<circle cx="${lx + 12}" cy="${ly}" r="4" fill="${color}"/>`,
        `<text x="${lx + 32}" y="${ly + 4}" font-size="12">${escapeXml(s.name)}</text>`,
      );
    });
    void legendRows;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/**
 * Renders an SVG file to PNG with rsvg-convert (Debian librsvg2-bin) at twice the
 * size, so it stays sharp. Returns null on success, or why it was skipped.
 */
export function svgToPng(svgPath: string, pngPath: string): string | null {
  const rsvg = which('rsvg-convert');
  if (!rsvg) return 'rsvg-convert is not installed (apt-get install -y librsvg2-bin)';
  const r = spawnSync(rsvg, ['-z', '2', '-b', 'white', '-o', pngPath, svgPath], { encoding: 'utf8' });
  if (r.status !== 0) return `rsvg-convert failed: ${(r.stderr || r.error?.message || '').trim()}`;
  return null;
}
