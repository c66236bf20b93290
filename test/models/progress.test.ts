import { describe, expect, it } from 'vitest';
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

  it('formats sizes and durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1185376)).toBe('1.1 MiB');
    expect(formatBytes(145_000_000)).toBe('138 MiB');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
  });
});
