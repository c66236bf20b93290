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
  private readonly line: StatusLine;
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
    this.line = new StatusLine(opts.stream);
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
    this.line.end(`${this.label} ${took}${message ? ` ${message}` : ''}`);
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
    const left = rate > 0 ? formatDuration(Math.max(this.total - this.done, 0) / rate) : '--';
    return `${this.label} ${barAndPercent(this.done, this.total)} ${this.format(this.done)}/${this.format(this.total)} ${rateText} ${left} left`;
  }

  private draw(line: string): void {
    this.line.draw(line);
    this.shown = true;
  }

  private format(n: number): string {
    return this.unit === 'bytes' ? formatBytes(n) : formatCount(n);
  }
}

/** "[######------------------]  25%": `done` of `total` (> 0) as a bar and a percentage. */
function barAndPercent(done: number, total: number): string {
  const fraction = Math.min(Math.max(done / total, 0), 1);
  const filled = Math.round(fraction * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`;
}

/**
 * One line of a terminal, redrawn in place: `\r`, the text cut to the terminal's
 * width, and spaces over what a longer line before left behind.
 */
class StatusLine {
  readonly #stream: NodeJS.WriteStream;
  #length = 0;

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
  }

  draw(line: string): void {
    const columns = this.#stream.columns;
    let text = line;
    if (typeof columns === 'number' && columns > 10 && text.length > columns - 1) text = text.slice(0, columns - 2) + '…';
    const pad = this.#length > text.length ? ' '.repeat(this.#length - text.length) : '';
    this.#stream.write(`\r${text}${pad}`);
    this.#length = text.length;
  }

  /** Draws `line` for the last time and moves to a new line. */
  end(line: string): void {
    this.draw(line);
    this.#stream.write('\n');
    this.#length = 0;
  }

  /** Blanks the line and puts the cursor at its start, so another message can be written there. */
  clear(): void {
    if (this.#length === 0) return;
    this.#stream.write(`\r${' '.repeat(this.#length)}\r`);
    this.#length = 0;
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
 * In a run over several files each line also has the run's totals (RunTotals), e.g.
 * `"run":{"files":10,"filesDone":3,"bytesIn":13107200,"bytesTotal":41943040}`.
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
  readonly #run: RunProgress | undefined;

  constructor(o: { stream: NodeJS.WritableStream; file: string; total?: number; blockSize: number; startAt?: number; now?: () => number; run?: RunProgress }) {
    this.#run = o.run;
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
      rate: Math.round(((this.#done - this.#base) / elapsed) * 10) / 10, elapsed: Math.round(elapsed * 10) / 10, done,
      ...(this.#run ? { run: this.#run.totals() } : {}) })}\n`);
  }
}

/** Where a run of several files stands, as the JSON lines report it (`"run"`). */
export interface RunTotals {
  files: number;
  filesDone: number;
  /** Bytes of the finished files and of the current one so far. */
  bytesIn: number;
  /** Sizes of all the files (by stat up front), corrected as each starts and ends. */
  bytesTotal: number;
}

/**
 * The overall progress of a run over several files (`lmzip -r DIR`, `lmzip a b c`).
 * On a terminal it is one line, redrawn in place instead of a bar per file:
 *
 *   3/10 files [########----------------]  31% 12.5 MiB/40.0 MiB 1.2 MiB/s 23s left  notes.txt
 *
 * files done/total, bytes done/total, the rate since the first byte and the time left,
 * then the file at work. Without a terminal it only counts, for the JSON lines.
 * The total starts as the files' sizes known up front; a file's own total (a shard's
 * part) replaces its size when it starts, and what was done replaces it when it ends,
 * so a file that fails or is skipped drops out of the total.
 *
 * @example
 * const run = new RunProgress({ stream: process.stderr, sizes: [4096, 8192], draw: true });
 * const sink = run.file('a.txt', 4096);
 * sink.update(2048); sink.finish(); run.fileEnded();
 * run.finish();
 */
export class RunProgress {
  readonly #line: StatusLine | undefined;
  readonly #now: () => number;
  /** Expected bytes of each file, in the order they are worked on. */
  readonly #sizes: number[];
  #total: number;
  #filesDone = 0;
  #bytesFinished = 0;
  /** The file at work: its name, bytes done, and where it started (a resumed file starts part done). */
  #current = { label: '', done: 0 };
  /** Bytes actually worked on in this run (not those a resumed file had done before), and since when. */
  #work = 0;
  #workStartedAt: number | undefined;
  #lastDrawAt = Number.NEGATIVE_INFINITY;
  #shown = false;

  constructor(o: { stream: NodeJS.WriteStream; sizes: number[]; draw: boolean; now?: () => number }) {
    this.#line = o.draw && o.stream.isTTY ? new StatusLine(o.stream) : undefined;
    this.#now = o.now ?? Date.now;
    this.#sizes = o.sizes.map((s) => validTotal(s) ?? 0);
    this.#total = this.#sizes.reduce((a, b) => a + b, 0);
  }

  totals(): RunTotals {
    return { files: this.#sizes.length, filesDone: this.#filesDone, bytesIn: this.#bytesFinished + this.#current.done, bytesTotal: this.#total };
  }

  /**
   * The progress sink of the next file: it counts into the run, redraws the line, and
   * passes everything on to `inner` (the file's JSON lines), if given.
   */
  file(label: string, total: number | undefined, startAt = 0, inner?: ProgressSink): ProgressSink {
    this.#current = { label, done: Math.max(startAt, 0) };
    this.#setCurrentTotal(total);
    this.#workStartedAt ??= this.#now();
    let fileTotal = validTotal(total);
    return {
      update: (done, t, bytesOut) => {
        fileTotal = validTotal(t) ?? fileTotal;
        this.#setCurrentTotal(fileTotal);
        this.#advance(done);
        this.#draw();
        inner?.update(done, t, bytesOut);
      },
      finish: (message, bytesOut) => {
        if (fileTotal !== undefined) this.#advance(fileTotal);
        inner?.finish(message, bytesOut);
      },
    };
  }

  /** The current file is over (done, failed or skipped): its size becomes what was done. */
  fileEnded(): void {
    const i = this.#filesDone;
    if (i >= this.#sizes.length) return;
    this.#total += this.#current.done - this.#sizes[i];
    this.#sizes[i] = this.#current.done;
    this.#bytesFinished += this.#current.done;
    this.#filesDone++;
    this.#current = { label: '', done: 0 };
  }

  /** Blanks the line before another message goes to the terminal; the next update redraws it. */
  interrupt(): void {
    this.#line?.clear();
    this.#lastDrawAt = Number.NEGATIVE_INFINITY;
  }

  /** The last line, what was done in all, if the line was ever shown. */
  finish(): void {
    if (!this.#line || !this.#shown) return;
    const elapsed = this.#elapsed();
    const { filesDone, bytesIn } = this.totals();
    this.#line.end(`${filesDone} files ${formatBytes(bytesIn)} in ${formatDuration(elapsed)} (${formatBytes(this.#work / elapsed)}/s)`);
    this.#shown = false;
  }

  #setCurrentTotal(total: number | undefined): void {
    const t = validTotal(total);
    const i = this.#filesDone;
    if (t === undefined || i >= this.#sizes.length || t === this.#sizes[i]) return;
    this.#total += t - this.#sizes[i];
    this.#sizes[i] = t;
  }

  #advance(done: number): void {
    if (!Number.isFinite(done) || done < this.#current.done) return;
    this.#work += done - this.#current.done;
    this.#current.done = done;
  }

  #elapsed(): number {
    return Math.max(this.#now() - (this.#workStartedAt ?? this.#now()), 1) / 1000;
  }

  #draw(): void {
    if (!this.#line) return;
    const now = this.#now();
    if (now - this.#lastDrawAt < REDRAW_INTERVAL_MS) return;
    this.#lastDrawAt = now;
    const { files, filesDone, bytesIn, bytesTotal } = this.totals();
    const rate = this.#work / this.#elapsed();
    const left = rate > 0 ? formatDuration(Math.max(bytesTotal - bytesIn, 0) / rate) : '--';
    const bar = bytesTotal > 0 ? `${barAndPercent(bytesIn, bytesTotal)} ` : '';
    this.#line.draw(`${filesDone}/${files} files ${bar}${formatBytes(bytesIn)}/${formatBytes(bytesTotal)} ${formatBytes(rate)}/s ${left} left  ${this.#current.label}`);
    this.#shown = true;
  }
}
