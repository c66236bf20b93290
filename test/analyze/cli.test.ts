/**
 * `lmzip analyze` as a person runs it: a real `node dist/cli/main.js` process with
 * the real model, checking stdout, stderr and the exit status.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compressWithStats } from '../../src/compress.js';
import { Model } from '../../src/model.js';
import { CLI, CORPUS, STORIES, tempDir } from '../helpers.js';

const dir = tempDir('lmzip-analyze-cli-');
const env = { ...process.env, LMZIP_CACHE_DIR: join(dir.path, 'cache'), LMZIP_OFFLINE: '1', LMZIP_MODEL: '' };
const SAMPLE_PATH = join(CORPUS, 'tinystories_sample.txt');
const SAMPLE = readFileSync(SAMPLE_PATH);
const M = ['-m', STORIES, '-T', '1'];
afterAll(() => dir.cleanup());

function lmzip(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, [CLI, 'analyze', ...args], { cwd: dir.path, env, input, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('lmzip analyze', () => {
  it('prints the summary: the model against the classical coders, and where the bits are', () => {
    const r = lmzip([...M, '--no-baselines', SAMPLE_PATH]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${SAMPLE_PATH}: 3,794 bytes, 1,882 tokens, model stories260K.gguf (lanes 16, window 256, overlap 128, chunks of 16,384 bytes)`);
    // Window 256 / overlap 128: full lanes shift (SHIFT_CONTEXT); with restarts this was 5,025 bits.
    expect(r.stdout).toMatch(/model: Σ token bits \(coder tables\) +5,030 +1\.326 +1\.00×/);
    expect(r.stdout).toMatch(/model: range-coder payload +5,032 +1\.326/);
    expect(r.stdout).toMatch(/order-0 entropy \(bytes\) +16,987 +4\.477/);
    expect(r.stdout).toContain('Most expensive lines:');
    expect(r.stdout).toContain('Least expensive lines:');
  });

  it('--json: bytes, tokens, bits and every baseline; the bits are what compression counts', async () => {
    const r = lmzip([...M, '--json', SAMPLE_PATH]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ bytes: SAMPLE.length, tokens: 1882 });
    expect(Object.keys(j.baselines)).toEqual(['order0', 'huffman', 'gzip', 'lzw', 'xz', 'brotli']);
    for (const b of Object.values(j.baselines) as { bits: number | null; error?: string }[])
      expect(b.bits === null ? typeof b.error : typeof b.bits).toBe(b.bits === null ? 'string' : 'number');
    expect(j.records).toBeUndefined();
    const model = await Model.load(STORIES, { threads: 1 });
    try {
      const { stats } = await compressWithStats(SAMPLE, { model, measureIdeal: true, mix: false }); // analysis is the model alone
      expect(j.bits).toBe(stats.tableBits);
      expect(j.payloadBits).toBe(stats.payloadBytes * 8);
    } finally {
      model.dispose();
    }
  });

  it('--json --tokens adds one record per token, and reads standard input', () => {
    const r = lmzip([...M, '--json', '--tokens', '--no-baselines', '--top-k', '3', '-'], SAMPLE);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.file).toBe('(stdin)');
    expect(j.records).toHaveLength(j.tokens);
    expect(j.records.map((t: { text: string }) => t.text).join('')).toBe(SAMPLE.toString('utf8'));
    expect(j.records[1]).toEqual({ offset: expect.any(Number), text: expect.any(String), token: expect.any(Number), bits: expect.any(Number),
      entropy: expect.any(Number), rank: expect.any(Number), top: expect.any(Array) });
    expect(j.records[1].top).toHaveLength(3);
  });

  it('--jsonl: one line per file, or per record of a JSONL corpus (--field)', () => {
    const stories = SAMPLE.toString('utf8').split('<|endoftext|>').map((s) => s.trim()).filter(Boolean);
    const corpus = join(dir.path, 'corpus.jsonl');
    writeFileSync(corpus, `${stories.map((s, i) => JSON.stringify({ id: `s${i}`, text: s })).join('\n')}\n{"id":"bad"}\n`);
    const a = join(dir.path, 'a.txt');
    const b = join(dir.path, 'b.txt');
    writeFileSync(a, stories[0]);
    writeFileSync(b, 'The quick brown fox jumps over the lazy dog. 0xDEADBEEF; SELECT * FROM users WHERE id = 42;\n');
    const files = lmzip([...M, '--jsonl', a, b]);
    expect(files.status).toBe(0);
    const lines = files.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.file)).toEqual([a, b]);
    for (const l of lines)
      expect(Object.keys(l).sort()).toEqual(['bits', 'bitsPerByte', 'bytes', 'file', 'meanEntropy', 'modelBytes', 'surprisingShare', 'thresholdBits', 'tokens']);
    // text from the model's own domain costs fewer bits per byte than text from outside it
    expect(lines[0].bitsPerByte).toBeLessThan(lines[1].bitsPerByte);
    expect(lines[0].surprisingShare).toBeLessThan(lines[1].surprisingShare);

    const c = lmzip([...M, '--jsonl', '--field', 'text', '--threshold', '8', corpus]);
    expect(c.status).toBe(1); // one record had no text
    expect(c.stderr).toBe(`lmzip analyze: ${corpus}:${stories.length + 1}: no string field "text"\n`);
    const docs = c.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(docs.map((d) => d.id)).toEqual(stories.map((_, i) => `s${i}`));
    expect(docs.map((d) => d.line)).toEqual(stories.map((_, i) => i + 1));
    expect(docs.every((d) => d.thresholdBits === 8 && d.bytes === Buffer.byteLength(stories[d.line - 1]))).toBe(true);
  });

  it('--html writes the report', () => {
    const out = join(dir.path, 'report.html');
    const r = lmzip([...M, '--no-baselines', '--html', out, SAMPLE_PATH]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`HTML report: ${out}`);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<span id="total-tokens" data-tokens="1882">1,882</span>');
    expect(html).not.toMatch(/\{\{[A-Z_]+\}\}/);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i); // nothing loaded from elsewhere
  });

  it('ships the report template in the package', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: join(CLI, '../../..'), encoding: 'utf8' });
    expect(r.status).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    expect(files).toContain('dist/analyze/report.html');
    expect(files).toContain('native/analyze.cpp');
  });

  it('usage errors exit 2, a missing file exits 1 with a code', () => {
    const none = lmzip([...M]);
    expect(none.status).toBe(2);
    expect(none.stderr).toBe("lmzip analyze: no input FILE (use - for standard input)\nTry 'lmzip analyze --help' for more information.\n");
    expect(lmzip([...M, '--top-k', '99', SAMPLE_PATH]).stderr).toContain('--top-k expects an integer from 0 to 32');
    expect(lmzip([...M, '--tokens', SAMPLE_PATH]).status).toBe(2);
    expect(lmzip([...M, '--bogus', SAMPLE_PATH]).status).toBe(2);
    const missing = lmzip([...M, 'no-such.txt']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('lmzip analyze: no-such.txt: no such file [FILE_NOT_FOUND]\n');
    const help = lmzip(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: lmzip analyze');
  });
});
