/**
 * A small single-line terminal progress bar shared by the whole CLI
 * (model downloads, compression, decompression).
 *
 * It draws only when the stream is a terminal (`stream.isTTY`), redraws at most
 * about ten times a second, and prints nothing at all otherwise, so piping
 * stderr to a file or running under CI leaves the output clean. With `showAfterMs`
 * it stays hidden for that long, so a step that turns out quick (loading a local
 * model) leaves no line at all; a step that counts nothing shows as `label …`.
 *
 * @example
 * const bar = new ProgressBar({ stream: process.stderr, label: 'stories15M', unit: 'bytes' });
 * bar.update(received, total);
 * bar.finish('done');
 */

export interface ProgressBarOptions {
  /** Where to draw; usually `process.stderr`. Nothing is printed unless `stream.isTTY`. */
  stream: NodeJS.WriteStream;
  /** Shown before the bar, e.g. a file name or "compress". */
  label: string;
  /** The amount of work in all, if known. May also be given later through `update`. */
  total?: number;
  /** How to show amounts: 'bytes' (KiB, MiB, …; the default) or 'tokens' (plain counts). */
  unit?: 'bytes' | 'tokens';
  /** Injected clock in milliseconds, for tests. Defaults to `Date.now`. */
  now?: () => number;
  /**
   * Draw nothing until this long after the start (default 0). If the work finishes
   * sooner, nothing is printed at all. Once the time is up, the bar shows even if no
   * `update` comes (for work that reports no progress, such as loading a file).
   */
  showAfterMs?: number;
}

/** Minimum time between two redraws, in milliseconds (about 10 per second). */
const REDRAW_INTERVAL_MS = 100;
/** Width of the bar itself, in cells. */
const BAR_WIDTH = 24;

export class ProgressBar {
  private readonly stream: NodeJS.WriteStream;
  private readonly label: string;
  private readonly unit: 'bytes' | 'tokens';
  private readonly now: () => number;
  private readonly enabled: boolean;
  private total: number | undefined;
  private done = 0;
  private readonly startedAt: number;
  private lastDrawAt = Number.NEGATIVE_INFINITY;
  private lastLineLength = 0;
  private finished = false;
  /** A smoothed rate (units per second) so the time left does not jump about. */
  private rate = 0;
  private rateSampleAt: number;
  private rateSampleDone = 0;
  private readonly showAfterMs: number;
  private shown = false;
  private showTimer: NodeJS.Timeout | undefined;

  constructor(opts: ProgressBarOptions) {
    this.stream = opts.stream;
    this.label = opts.label;
    this.unit = opts.unit ?? 'bytes';
    this.total = validTotal(opts.total);
    this.now = opts.now ?? Date.now;
    this.enabled = Boolean(opts.stream.isTTY);
    this.startedAt = this.now();
    this.rateSampleAt = this.startedAt;
    this.showAfterMs = Math.max(opts.showAfterMs ?? 0, 0);
    if (this.enabled && this.showAfterMs > 0) {
      this.showTimer = setTimeout(() => this.update(this.done), this.showAfterMs);
      this.showTimer.unref();
    }
  }

  /** Records progress: `done` units so far, out of `total` if given (or the total known before). */
  update(done: number, total?: number): void {
    if (this.finished) return;
    if (Number.isFinite(done) && done >= 0) this.done = done;
    const t = validTotal(total);
    if (t !== undefined) this.total = t;
    if (!this.enabled) return;
    const now = this.now();
    this.sampleRate(now);
    if (now - this.startedAt < this.showAfterMs) return;
    if (now - this.lastDrawAt < REDRAW_INTERVAL_MS) return;
    this.lastDrawAt = now;
    this.draw(this.render(now));
  }

  /** Draws the final state once, then moves to a new line. Further calls do nothing. */
  finish(message?: string): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.showTimer);
    if (!this.enabled) return;
    const now = this.now();
    // Quick enough not to be shown at all.
    if (!this.shown && now - this.startedAt < this.showAfterMs) return;
    const elapsed = Math.max(now - this.startedAt, 1) / 1000;
    const took = this.countsNothing()
      ? `done in ${formatDuration(elapsed)}`
      : `${this.format(this.done)} in ${formatDuration(elapsed)} (${this.format(this.done / elapsed)}/s)`;
    this.draw(`${this.label} ${took}${message ? ` ${message}` : ''}`);
    this.stream.write('\n');
  }

  /** Nothing counted and no total: a step without measurable progress (loading a file). */
  private countsNothing(): boolean {
    return this.done === 0 && this.total === undefined;
  }

  private sampleRate(now: number): void {
    const dt = (now - this.rateSampleAt) / 1000;
    if (dt < 0.25) return;
    const instant = Math.max(this.done - this.rateSampleDone, 0) / dt;
    this.rate = this.rate === 0 ? instant : this.rate * 0.7 + instant * 0.3;
    this.rateSampleAt = now;
    this.rateSampleDone = this.done;
  }

  /** The text of one progress line at time `now` (exposed for tests through `draw`). */
  private render(now: number): string {
    const elapsed = Math.max(now - this.startedAt, 1) / 1000;
    if (this.countsNothing()) return `${this.label} …`;
    const rate = this.rate > 0 ? this.rate : this.done / elapsed;
    const rateText = `${this.format(rate)}/s`;
    if (this.total === undefined || this.total === 0) {
      return `${this.label} ${this.format(this.done)} ${rateText}`;
    }
    const fraction = Math.min(this.done / this.total, 1);
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = '#'.repeat(filled) + '-'.repeat(BAR_WIDTH - filled);
    const percent = `${(fraction * 100).toFixed(0).padStart(3)}%`;
    const left = rate > 0 ? formatDuration(Math.max(this.total - this.done, 0) / rate) : '--';
    return `${this.label} [${bar}] ${percent} ${this.format(this.done)}/${this.format(this.total)} ${rateText} ${left} left`;
  }

  private draw(line: string): void {
    const columns = this.stream.columns;
    let text = line;
    if (typeof columns === 'number' && columns > 10 && text.length > columns - 1) {
      text = text.slice(0, columns - 2) + '…';
    }
    const pad = this.lastLineLength > text.length ? ' '.repeat(this.lastLineLength - text.length) : '';
    this.stream.write(`\r${text}${pad}`);
    this.lastLineLength = text.length;
    this.shown = true;
  }

  private format(n: number): string {
    return this.unit === 'bytes' ? formatBytes(n) : formatCount(n);
  }
}

function validTotal(total: number | undefined): number | undefined {
  return typeof total === 'number' && Number.isFinite(total) && total >= 0 ? total : undefined;
}

/** 1536 → "1.5 KiB"; binary units, one decimal below 100. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.max(n, 0);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${Math.round(v)} B`;
  return `${v < 100 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** 12345 → "12.3k" tokens. */
export function formatCount(n: number): string {
  const v = Math.max(n, 0);
  if (v < 1000) return `${Math.round(v)}`;
  if (v < 1_000_000) return `${(v / 1000).toFixed(1)}k`;
  return `${(v / 1_000_000).toFixed(1)}M`;
}

/** Seconds → "42s", "3m05s", "1h02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.max(Math.round(seconds), 0);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** What a file command reports progress to: a terminal bar or JSON lines. */
export interface ProgressSink {
  update(done: number, total?: number, bytesOut?: number): void;
  /** The end; `bytesOut`: the output's final size (for JSON lines). */
  finish(message?: string, bytesOut?: number): void;
}

/**
 * `--progress=json`: machine-readable progress for job logs. One JSON object per line
 * on the stream, at most one a second and one at the end (`"done": true`), e.g.
 *
 *   {"file":"corpus.jsonl","bytesIn":1048576,"bytesTotal":4194304,"bytesOut":262144,
 *    "blocks":4,"rate":52428.8,"elapsed":20.0,"done":false}
 *
 * `rate` is original bytes per second since the start; `blocks` the complete blocks.
 *
 * @example
 * const p = new JsonProgress({ stream: process.stderr, file: 'a.txt', total: 1e6, blockSize: 262144 });
 * p.update(500_000, 1e6, 120_000);
 * p.finish();
 */
export class JsonProgress implements ProgressSink {
  readonly #stream: NodeJS.WritableStream;
  readonly #file: string;
  readonly #blockSize: number;
  readonly #now: () => number;
  readonly #startedAt: number;
  /** Bytes already done when this run began (a resumed compression). */
  readonly #base: number;
  #total: number | undefined;
  #done = 0;
  #out = 0;
  #lastAt = Number.NEGATIVE_INFINITY;
  #finished = false;

  constructor(o: { stream: NodeJS.WritableStream; file: string; total?: number; blockSize: number; startAt?: number; now?: () => number }) {
    this.#stream = o.stream;
    this.#file = o.file;
    this.#total = validTotal(o.total);
    this.#blockSize = o.blockSize;
    this.#now = o.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#base = o.startAt ?? 0;
    this.#done = this.#base;
  }

  update(done: number, total?: number, bytesOut?: number): void {
    if (this.#finished) return;
    if (Number.isFinite(done) && done >= 0) this.#done = done;
    this.#total = validTotal(total) ?? this.#total;
    if (bytesOut !== undefined) this.#out = bytesOut;
    const now = this.#now();
    if (now - this.#lastAt < 1000) return;
    this.#lastAt = now;
    this.#write(now, false);
  }

  finish(_message?: string, bytesOut?: number): void {
    if (this.#finished) return;
    this.#finished = true;
    if (bytesOut !== undefined) this.#out = bytesOut;
    if (this.#total !== undefined) this.#done = this.#total;
    this.#write(this.#now(), true);
  }

  #write(now: number, done: boolean): void {
    const elapsed = Math.max(now - this.#startedAt, 1) / 1000;
    const blocks = done && this.#done > 0 ? Math.ceil(this.#done / this.#blockSize) : Math.floor(this.#done / this.#blockSize);
    this.#stream.write(`${JSON.stringify({ file: this.#file, bytesIn: this.#done, bytesTotal: this.#total ?? null, bytesOut: this.#out, blocks,
      rate: Math.round(((this.#done - this.#base) / elapsed) * 10) / 10, elapsed: Math.round(elapsed * 10) / 10, done })}\n`);
  }
}
