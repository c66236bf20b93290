/**
 * The HTML report in a real browser: Debian's headless Chromium, driven by
 * playwright-core, opens the report from a file. Checks the DOM against the
 * analysis (token count, totals), hovers and focuses tokens, saves screenshots, and
 * measures how long a 1 MB report takes to open and to scroll (reported, with only a
 * generous sanity bound: speed is not a unit test's business).
 *
 * Skips, saying why, when Chromium is not installed (apt-get install -y chromium).
 * Screenshots go to LMZIP_ANALYZE_SCREENSHOTS when set (docs/images uses them).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyze, buildReport, classicalBaselines, renderHtmlReport, TokenTable, type Analysis } from '../../src/analyze/index.js';
import { Model } from '../../src/model.js';
import { CORPUS, STORIES, tempDir } from '../helpers.js';

const CHROMIUM = process.env.LMZIP_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

type Playwright = typeof import('playwright-core');
function whyNot(): string | undefined {
  if (!existsSync(CHROMIUM)) return `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;
  try {
    createRequire(import.meta.url).resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm install)';
  }
  return undefined;
}
const skipReason = whyNot();

const dir = tempDir('lmzip-report-');
const shots = process.env.LMZIP_ANALYZE_SCREENSHOTS ?? join(dir.path, 'shots');
mkdirSync(shots, { recursive: true });

async function writeReport(name: string, a: Analysis, programs = true): Promise<string> {
  const baselines = await classicalBaselines(a.data, { programs });
  const report = buildReport(name, a, baselines);
  const path = join(dir.path, `${name.replace(/[^\w.-]/g, '_')}.html`);
  writeFileSync(path, renderHtmlReport(a, report, baselines));
  return path;
}

/** The same records repeated until the input is about `bytes` long (offsets moved along). */
function tile(a: Analysis, bytes: number): Analysis {
  const copies = Math.ceil(bytes / a.data.length);
  const t = a.tokens;
  const rep = <T extends Int32Array | Float64Array | Float32Array | Uint32Array>(x: T, make: new (n: number) => T, shift?: number): T => {
    const out = new make(x.length * copies);
    for (let c = 0; c < copies; c++) {
      out.set(x, c * x.length);
      if (shift) for (let i = 0; i < x.length; i++) out[c * x.length + i] += c * shift;
    }
    return out;
  };
  const data = Buffer.concat(Array.from({ length: copies }, () => a.data));
  const tokens = new TokenTable(data, t.vocabulary, t.topK, rep(t.token, Int32Array), rep(t.offset, Float64Array, a.data.length),
    rep(t.byteLength, Uint32Array), rep(t.bits, Float64Array), rep(t.entropy, Float32Array), rep(t.rank, Uint32Array),
    rep(t.topIds, Int32Array), rep(t.topProbs, Float32Array));
  const totals = { ...a.totals };
  for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] *= copies;
  let bits = 0;
  for (const b of tokens.bits) bits += b;
  return { ...a, data, tokens, totals: { ...totals, bits }, chunks: Array.from({ length: copies }, () => a.chunks).flat() };
}

if (skipReason) {
  it.skip(`HTML report in Chromium — skipped: ${skipReason}`, () => {});
} else {
  describe('the HTML report in Chromium', () => {
    let pw: Playwright;
    let context: Awaited<ReturnType<Playwright['chromium']['launchPersistentContext']>>;
    let model: Model;
    const externalRequests: string[] = [];
    const pageErrors: string[] = [];

    beforeAll(async () => {
      pw = await import('playwright-core');
      model = await Model.load(STORIES);
      context = await pw.chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'lmzip-chromium-profile-')), {
        executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1100, height: 760 },
      });
      context.on('request', (r) => {
        if (!/^(file|data|blob):/.test(r.url())) externalRequests.push(r.url());
      });
    });
    afterAll(async () => {
      await context?.close();
      model?.dispose();
      dir.cleanup();
    });

    /** The whole top of the report with one token's candidates showing (the README's pictures). */
    async function overview(page: Awaited<ReturnType<typeof open>>['page'], token: number, name: string) {
      await page.setViewportSize({ width: 1100, height: 1480 });
      await page.evaluate(() => window.scrollTo(0, 0));
      const box = await page.locator(`#text .t[data-i="${token}"]`).boundingBox();
      expect(box).not.toBeNull();
      await page.mouse.move(box!.x + box!.width / 2, box!.y + box!.height / 2);
      await expect.poll(() => page.locator('#tip').isVisible()).toBe(true);
      await page.screenshot({ path: join(shots, name) });
    }

    async function open(path: string) {
      const page = await context.newPage();
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(m.text());
      });
      const started = performance.now();
      await page.goto(`file://${path}`, { waitUntil: 'commit' });
      await page.waitForSelector('html[data-ready="1"]', { timeout: 120_000 });
      const openMs = performance.now() - started;
      await page.waitForSelector('html[data-details="1"]', { timeout: 120_000 });
      const info = await page.evaluate(() => (window as unknown as { lmzipReport: { tokens: number; bits: number; segments: number; loadMs: number; readyMs: number; decodeMs: number; segmentMs: number; layoutMs: number; detailsMs: number } }).lmzipReport);
      return { page, openMs, info };
    }

    it('shows a TinyStories sample: the totals, every token, candidates on hover and on keyboard focus', async () => {
      const data = readFileSync(join(CORPUS, 'tinystories_sample.txt'));
      const a = await analyze(data, { model });
      const { page, info } = await open(await writeReport('tinystories_sample.txt', a));
      // the totals in the page are the analysis's
      expect(info.tokens).toBe(a.totals.tokens);
      expect(Math.abs(info.bits - a.totals.bits)).toBeLessThan(a.totals.tokens / 2048);
      expect(await page.getAttribute('#total-tokens', 'data-tokens')).toBe(String(a.totals.tokens));
      expect(Number(await page.getAttribute('#total-bits', 'data-bits'))).toBe(a.totals.bits);
      expect(await page.locator('table.summary tr.baseline').count()).toBe(6);
      // every token is drawn once, and the text reads as the input
      await page.evaluate(() => document.querySelectorAll('.seg').forEach((s) => s.scrollIntoView()));
      await page.waitForFunction(() => [...document.querySelectorAll('.seg')].every((s) => s.childElementCount > 0));
      const drawn = await page.$$eval('#text .t', (spans) => spans.reduce((n, s) => n + Number((s as HTMLElement).dataset.n ?? 1), 0));
      expect(drawn).toBe(a.totals.tokens);
      expect(await page.$eval('#text', (e) => e.textContent)).toBe(data.toString('utf8'));

      // hover: the tooltip names the token's cost and the model's candidates
      await page.locator('#text').scrollIntoViewIfNeeded();
      const some = page.locator('#text .t[data-i="40"]');
      await some.hover();
      const tip = page.locator('#tip');
      await expect.poll(() => tip.isVisible()).toBe(true);
      const rec = a.tokens.record(40);
      expect(await tip.textContent()).toContain(`${rec.bits.toFixed(2)} bits`);
      expect(await tip.locator('tbody tr').count()).toBeGreaterThanOrEqual(a.tokens.topK);

      // keyboard: Tab into the text, arrows move token by token, n jumps to a surprising token
      await page.mouse.move(0, 0);
      await page.focus('#text');
      await page.keyboard.press('End');
      await page.keyboard.press('Home');
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.i)).toBe('2');
      expect(await tip.isVisible()).toBe(true);
      expect(await tip.textContent()).toContain(`${a.tokens.record(2).bits.toFixed(2)} bits`);
      await page.keyboard.press('n');
      const at = Number(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.i));
      expect(a.tokens.bits[at]).toBeGreaterThan(10);
      for (let i = 3; i < at; i++) expect(a.tokens.bits[i]).toBeLessThanOrEqual(10 + 1e-3);
      await page.keyboard.press('Escape');
      expect(await tip.isVisible()).toBe(false);
      await page.evaluate(() => (document.activeElement as HTMLElement).blur());
      await overview(page, 14, 'analyze-tinystories.png');
      await page.close();
      expect(pageErrors).toEqual([]);
      expect(externalRequests).toEqual([]);
    });

    it('shows out-of-domain text (a system log)', async () => {
      const data = readFileSync(join(CORPUS, 'Linux_2k.log')).subarray(0, 3000);
      const a = await analyze(data.subarray(0, data.lastIndexOf(0x0a) + 1), { model });
      const { page, info } = await open(await writeReport('Linux_2k.log (first 3 KB)', a));
      expect(info.tokens).toBe(a.totals.tokens);
      await overview(page, 9, 'analyze-out-of-domain.png');
      await page.close();
      expect(pageErrors).toEqual([]);
    });

    it('opens and scrolls a 1 MB report', async () => {
      const piece = readFileSync(join(CORPUS, 'tinystories-valid-part1.txt')).subarray(0, 32 * 1024);
      const a = await analyze(piece, { model });
      const big = tile(a, 1024 * 1024);
      const path = await writeReport('tinystories, 1 MB', big, false);
      const { page, openMs, info } = await open(path);
      expect(info.tokens).toBe(big.tokens.length);
      expect(Math.abs(info.bits - big.totals.bits)).toBeLessThan(big.tokens.length / 2048);
      // scroll to the middle and to the end: the segments there are drawn
      const scrollMs: number[] = [];
      for (const at of [0.5, 1]) {
        const t0 = performance.now();
        await page.evaluate((f) => window.scrollTo(0, document.documentElement.scrollHeight * f), at);
        await page.waitForFunction(() => {
          const el = document.elementFromPoint(window.innerWidth / 2, window.innerHeight / 2);
          return !!el?.closest('.seg') && !!document.querySelector('.seg .t') && [...document.querySelectorAll('.seg')]
            .some((s) => s.childElementCount > 0 && s.getBoundingClientRect().top < window.innerHeight && s.getBoundingClientRect().bottom > 0);
        }, undefined, { timeout: 30_000 });
        scrollMs.push(performance.now() - t0);
      }
      const drawnSegments = await page.$$eval('.seg', (s) => s.filter((e) => e.childElementCount > 0).length);
      console.log(`1 MB report: ${(statSync(path).size / 1024 / 1024).toFixed(1)} MiB of HTML, ${info.tokens} tokens in ${info.segments} segments; ` +
        `text on screen ${Math.round(info.readyMs)} ms after navigation started (page script ${Math.round(info.loadMs)} ms: data ${Math.round(info.decodeMs)}, segments ${Math.round(info.segmentMs)}, layout ${Math.round(info.layoutMs)}; tooltips' data after ${Math.round(info.detailsMs)} ms; ${Math.round(openMs)} ms as the test saw it); scroll to the middle ${Math.round(scrollMs[0])} ms, ` +
        `to the end ${Math.round(scrollMs[1])} ms; ${drawnSegments} segments in the DOM`);
      expect(openMs).toBeLessThan(60_000); // a sanity bound, not a speed test
      expect(drawnSegments).toBeLessThan(info.segments);
      await page.close();
      expect(pageErrors).toEqual([]);
    });
  });
}
