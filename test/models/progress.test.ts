import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProgressBar, formatBytes, formatDuration } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean, columns = 120) {
  const writes: string[] = [];
  const stream = { isTTY, columns, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

describe('ProgressBar', () => {
  it('prints nothing when the stream is not a terminal', () => {
    const { stream, writes } = fakeStream(false);
    const bar = new ProgressBar({ stream, label: 'x', total: 100 });
    bar.update(50);
    bar.finish('done');
    expect(writes).toEqual([]);
  });

  it('shows done/total, percent, rate and time left, and redraws at most every 100 ms', () => {
    const { stream, writes } = fakeStream(true);
    let t = 0;
    const bar = new ProgressBar({ stream, label: 'model.gguf', total: 4096, unit: 'bytes', now: () => t });
    t = 1000;
    bar.update(1024);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^\rmodel\.gguf \[######-+\]  25% 1\.0 KiB\/4\.0 KiB 1\.0 KiB\/s 3s left$/);
    t = 1050;
    bar.update(2048);
    expect(writes).toHaveLength(1);
    t = 1200;
    bar.update(2048);
    expect(writes).toHaveLength(2);
    bar.finish('ok');
    expect(writes.at(-1)).toBe('\n');
    expect(writes.at(-2)).toMatch(/^\rmodel\.gguf 2\.0 KiB in 1s \(1\.7 KiB\/s\) ok/);
    bar.update(4096);
    bar.finish();
    expect(writes.at(-1)).toBe('\n');
  });

  it('works without a total and with token units', () => {
    const { stream, writes } = fakeStream(true);
    let t = 0;
    const bar = new ProgressBar({ stream, label: 'compress', unit: 'tokens', now: () => t });
    t = 2000;
    bar.update(12_345);
    expect(writes[0]).toBe('\rcompress 12.3k 6.2k/s');
  });

  describe('with showAfterMs (loading a model)', () => {
    afterEach(() => void vi.useRealTimers());

    it('prints nothing at all for a step quicker than the delay', () => {
      vi.useFakeTimers();
      const { stream, writes } = fakeStream(true);
      let t = 0;
      const bar = new ProgressBar({ stream, label: 'model /m/x.gguf', showAfterMs: 1000, now: () => t });
      t = 400;
      vi.advanceTimersByTime(400);
      bar.finish();
      vi.advanceTimersByTime(5000);
      expect(writes).toEqual([]);
    });

    it('shows a step without progress as "label …" once the delay is over, then how long it took', () => {
      vi.useFakeTimers();
      const { stream, writes } = fakeStream(true);
      let t = 0;
      const bar = new ProgressBar({ stream, label: 'model /m/x.gguf', showAfterMs: 1000, now: () => t });
      t = 1000;
      vi.advanceTimersByTime(1000); // no update call: the bar's own timer draws it
      expect(writes).toEqual(['\rmodel /m/x.gguf …']);
      t = 2600;
      bar.finish();
      expect(writes.slice(1)).toEqual(['\rmodel /m/x.gguf done in 3s', '\n']);
    });

    it('draws a download that outlasts the delay as a normal bar', () => {
      vi.useFakeTimers();
      const { stream, writes } = fakeStream(true);
      let t = 0;
      const bar = new ProgressBar({ stream, label: 'model stories260k', showAfterMs: 1000, now: () => t });
      t = 500;
      bar.update(100_000, 1_000_000);
      expect(writes).toEqual([]);
      t = 1500;
      bar.update(500_000, 1_000_000);
      expect(writes).toHaveLength(1);
      expect(writes[0]).toMatch(/^\rmodel stories260k \[#+-+\]  50% 488 KiB\/977 KiB /);
      t = 2000;
      bar.finish();
      expect(writes.at(-2)).toMatch(/^\rmodel stories260k 488 KiB in 2s/);
    });
  });

  it('formats sizes and durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1185376)).toBe('1.1 MiB');
    expect(formatBytes(145_000_000)).toBe('138 MiB');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
  });
});
