/**
 * lmzip analyze's per-token records against the compressor itself (real model,
 * stories260K): the token bits must sum to the compressor's tableBits exactly, the
 * payload must be what compression writes, and every record must be consistent.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Analyzer, analyze, analyzeDocuments, analyzeStream, type Analysis } from '../../src/analyze/index.js';
import { compressWithStats } from '../../src/compress.js';
import { Model } from '../../src/model.js';
import { CORPUS, STORIES, vocab } from '../helpers.js';

const SAMPLE = readFileSync(join(CORPUS, 'tinystories_sample.txt'));

let model: Model;
beforeAll(async () => {
  model = await Model.load(STORIES);
});
afterAll(() => model?.dispose());

/** Every block's stream ends with a flush of 1-2 bytes (at most one per chunk); rounding in the coder is below 2^-16 bit per token. */
function flushBound(a: Analysis): number {
  return 16 * a.totals.modelChunks + a.totals.tokens / 65536;
}

describe('analyze agrees with compression', () => {
  it('sums to the compressor\'s tableBits exactly, and its payload is the compressor\'s', async () => {
    const a = await analyze(SAMPLE, { model });
    const { stats } = await compressWithStats(SAMPLE, { model, measureIdeal: true, mix: false }); // analysis is the model alone
    expect(stats.modelChunks).toBe(a.totals.modelChunks); // every chunk is model-coded: no second pass
    expect(a.totals.tokens).toBe(stats.tokens);
    expect(a.totals.bits).toBe(stats.tableBits); // bit for bit, not approximately
    expect(a.totals.payloadBits).toBe(stats.payloadBytes * 8);
    const overhead = a.totals.payloadBits - a.totals.bits;
    expect(overhead).toBeGreaterThanOrEqual(0);
    expect(overhead).toBeLessThanOrEqual(flushBound(a));
    // and the per-token values themselves add up to the same number, chunk by chunk
    let sum = 0;
    let at = 0;
    for (const c of a.chunks) {
      let chunkSum = 0;
      for (let k = 0; k < c.tokens; k++) chunkSum += a.tokens.bits[at++];
      expect(chunkSum).toBe(c.bits);
      sum += chunkSum;
    }
    expect(sum).toBe(a.totals.bits);
    console.log(`tinystories_sample: ${a.totals.tokens} tokens, Σ token bits ${a.totals.bits} = compressor tableBits ${stats.tableBits}; ` +
      `payload ${a.totals.payloadBits} bits (+${overhead.toFixed(1)} flush over ${a.totals.modelChunks} chunks)`);
  });

  it('holds over several blocks and lanes (same chunking and schedule as compression)', async () => {
    const options = { lanes: 3, chunkSize: 512, window: 64, overlap: 16, blockSize: 2048 };
    const a = await analyze(SAMPLE, { model, ...options });
    const { stats } = await compressWithStats(SAMPLE, { model, measureIdeal: true, mix: false, ...options });
    expect(stats.blocks).toBeGreaterThan(1);
    expect(stats.modelChunks).toBe(a.totals.modelChunks);
    expect(a.chunks.length).toBe(a.totals.chunks);
    expect(a.totals.bits).toBe(stats.tableBits);
    expect(a.totals.payloadBits).toBe(stats.payloadBytes * 8);
    expect(a.settings).toMatchObject({ lanes: 3, window: 64, overlap: 16, chunkSize: 512 });
  });
});

describe('the records', () => {
  let a: Analysis;
  beforeAll(async () => {
    a = await analyze(SAMPLE, { model, topK: 8 });
  });

  it('spell the input: each token\'s bytes follow the previous one\'s', () => {
    const t = a.tokens;
    const parts: Uint8Array[] = [];
    let next = 0;
    for (let i = 0; i < t.length; i++) {
      expect(t.offset[i]).toBe(next);
      parts.push(t.record(i).bytes);
      next += t.byteLength[i];
    }
    expect(Buffer.concat(parts).equals(SAMPLE)).toBe(true);
  });

  it('are consistent: rank, candidates, probabilities, entropy', () => {
    const t = a.tokens;
    const maxEntropy = Math.log2(model.facts.vocabSize);
    let firstChoices = 0;
    for (let i = 0; i < t.length; i++) {
      const r = t.record(i);
      expect(r.bits).toBeGreaterThan(0);
      expect(r.entropy).toBeGreaterThanOrEqual(0);
      expect(r.entropy).toBeLessThanOrEqual(maxEntropy + 1e-6);
      expect(r.candidates).toHaveLength(8);
      for (let j = 1; j < r.candidates.length; j++) expect(r.candidates[j].probability).toBeLessThanOrEqual(r.candidates[j - 1].probability);
      expect(r.candidates.reduce((s, c) => s + c.probability, 0)).toBeLessThanOrEqual(1 + 1e-6);
      const p = 2 ** -r.bits;
      if (r.rank <= 8) {
        // the token's own probability is the candidate at its rank (ties share a rank)
        const same = r.candidates.filter((c) => Math.abs(c.probability - p) <= 1e-6 * Math.max(p, 1e-3));
        expect(same.length).toBeGreaterThan(0);
        if (r.rank === 1) expect(r.candidates[0].probability).toBeCloseTo(p, 5);
        expect(r.candidates.some((c) => c.token === r.token)).toBe(true);
      } else {
        expect(r.candidates.every((c) => c.probability >= p)).toBe(true);
      }
      if (r.rank === 1) firstChoices++;
    }
    // a trained model guesses many tokens of its own domain outright
    expect(firstChoices / t.length).toBeGreaterThan(0.4);
    // mean entropy and mean cost are in the same units and of the same size here
    expect(a.totals.entropyBits / a.totals.tokens).toBeGreaterThan(0.5);
    expect(a.totals.entropyBits / a.totals.tokens).toBeLessThan(a.totals.bits / a.totals.tokens * 2);
  });

  it('name their candidates\' text', () => {
    const first = a.tokens.record(1);
    expect(first.candidates.every((c) => typeof c.text === 'string')).toBe(true);
    expect(first.candidates.some((c) => c.text.length > 0)).toBe(true);
  });
});

describe('inputs outside the model\'s domain', () => {
  it('records bytes the tokenizer spells one by one, each at its own place', async () => {
    // UTF-8 continuation bytes alone: no text token covers them
    const binary = Buffer.from(Array.from({ length: 3000 }, (_, i) => 0x80 + ((i * 37) % 64)));
    const data = Buffer.concat([SAMPLE.subarray(0, 2000), binary]);
    const a = await analyze(data, { model, lanes: 4, chunkSize: 1024 });
    expect(a.totals.bytes).toBe(data.length);
    for (let i = 0; i < a.tokens.length; i++) {
      const r = a.tokens.record(i);
      expect(Buffer.from(r.bytes).equals(data.subarray(r.offset, r.offset + r.bytes.length))).toBe(true);
    }
    const perByte = (from: number, to: number) => {
      let bits = 0;
      for (let i = 0; i < a.tokens.length; i++) if (a.tokens.offset[i] >= from && a.tokens.offset[i] < to) bits += a.tokens.bits[i];
      return bits / (to - from);
    };
    expect(perByte(2000, data.length)).toBeGreaterThan(2 * perByte(0, 2000));
  });

  it('handles the empty input', async () => {
    const a = await analyze(new Uint8Array(0), { model });
    expect(a.totals).toMatchObject({ bytes: 0, tokens: 0, bits: 0 });
    expect(a.tokens.length).toBe(0);
  });
});

describe('streams and corpora', () => {
  it('analyzeStream yields blocks whose totals add up to analyze()', async () => {
    const options = { lanes: 2, chunkSize: 512, blockSize: 1024 };
    const whole = await analyze(SAMPLE, { model, ...options });
    const source = Readable.from([SAMPLE.subarray(0, 700), SAMPLE.subarray(700, 2500), SAMPLE.subarray(2500)]);
    let bits = 0, tokens = 0, frames = 0, firstIndex = 0;
    for await (const f of analyzeStream(source, { model, ...options })) {
      expect(f.tokens.firstIndex).toBe(firstIndex);
      firstIndex += f.tokens.length;
      bits += f.totals.bits;
      tokens += f.totals.tokens;
      frames++;
    }
    expect(frames).toBe(Math.ceil(SAMPLE.length / 1024));
    expect(tokens).toBe(whole.totals.tokens);
    expect(bits).toBe(whole.totals.bits);
  });

  it('analyzeDocuments gives one summary per document, in order', async () => {
    const stories = SAMPLE.toString('utf8').split('<|endoftext|>').map((s) => s.trim()).filter(Boolean);
    expect(stories.length).toBeGreaterThan(2);
    const analyzer = await Analyzer.create(model, { topK: 0 });
    try {
      const docs = stories.map((s, i) => ({ file: 'sample', line: i + 1, data: Buffer.from(s) }));
      const out = [];
      for await (const s of analyzeDocuments(docs, analyzer, { thresholdBits: 8 })) out.push(s);
      expect(out.map((s) => s.line)).toEqual(docs.map((d) => d.line));
      for (const [i, s] of out.entries()) {
        expect(s.bytes).toBe(docs[i].data.length);
        expect(s.tokens).toBeGreaterThan(0);
        expect(s.bitsPerByte).toBeGreaterThan(0.3);
        expect(s.bitsPerByte).toBeLessThan(4);
        expect(s.surprisingShare).toBeGreaterThan(0);
        expect(s.surprisingShare).toBeLessThan(0.5);
        expect(s.thresholdBits).toBe(8);
      }
      // a document analysed in a shared batch costs what it costs alone, to within
      // float noise from the different batch shapes
      const alone = await analyze(docs[1].data, { model });
      expect(out[1].tokens).toBe(alone.totals.tokens);
      expect(Math.abs(out[1].bits - alone.totals.bits) / alone.totals.bits).toBeLessThan(1e-3);
    } finally {
      analyzer.dispose();
    }
  });
});

describe('errors', () => {
  it('validates options with one-line messages', async () => {
    await expect(analyze(SAMPLE, { model, topK: 99 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'Expected an integer from 0 to 32 for topK but received 99' });
    await expect(analyze(42 as unknown as Uint8Array, { model })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses a vocabulary-only model', async () => {
    const v = await Model.load(vocab('llama-spm'), { vocabOnly: true });
    try {
      await expect(analyze(SAMPLE, { model: v })).rejects.toMatchObject({ code: 'MODEL_VOCAB_ONLY' });
    } finally {
      v.dispose();
    }
  });
});
