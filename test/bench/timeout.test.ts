import { describe, expect, it } from 'vitest';
import { runTimed } from '../../src/bench/proc.js';

describe('runTimed', () => {
  it('kills the program under GNU time when the time limit passes', async () => {
    const t = Date.now();
    const r = await runTimed('sh', ['-c', 'sleep 20'], { timeoutMs: 300 });
    expect(Date.now() - t).toBeLessThan(5000);
    expect(r.code === 0).toBe(false);
  }, 10_000);

  it('reports exit status and captures standard output', async () => {
    const r = await runTimed('sh', ['-c', 'echo hi; exit 3'], { captureStdout: true });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('hi\n');
    expect(r.seconds).toBeGreaterThan(0);
  });
});
