/**
 * Tokenizer round trips on real vocabularies. llama_tokenize + concatenated pieces is
 * exact for valid text, except for documented behaviour: SentencePiece adds one
 * leading space, byte-level BPE turns invalid UTF-8 into U+FFFD, and some inputs make
 * the tokenizer throw (a typed TOKENIZER_FAILED, never a crash). The compressor's
 * own plan (planTokens) is exact for every input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LmzipError, Model } from '../../src/index.js';
import { vocab } from '../helpers.js';

const CASES: Record<string, Buffer> = {
  english: Buffer.from('The quick brown fox jumps over the lazy dog.'),
  'leading spaces': Buffer.from('   three spaces first, and  two inside'),
  crlf: Buffer.from('line one\r\nline two\r\n\r\n'),
  tabs: Buffer.from('\tindented\t\ttabs\n'),
  chinese: Buffer.from('滚滚长江东逝水，浪花淘尽英雄。'),
  emoji: Buffer.from('I ❤️ 🦙 and 👩‍👩‍👧‍👦!'),
  nul: Buffer.from('before\0after\0'),
  'special token text': Buffer.from('<s> </s> <|endoftext|> <|im_start|> [INST]'),
  'sentencepiece marker': Buffer.from('a▁b ▁▁'),
  'invalid utf-8': Buffer.from([0x61, 0xff, 0xfe, 0x62, 0xc3, 0x28, 0x80, 0x63]),
  'above U+10FFFF': Buffer.from([0x41, 0xf4, 0x90, 0x80, 0x80, 0x42, 0xf7, 0xbf, 0xbf, 0xbf]),
  'lone surrogate': Buffer.from([0x78, 0xed, 0xa0, 0x80, 0x79]),
  'random bytes': Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919 + 13) & 0xff)),
};

const VOCABS = ['llama-spm', 'gpt-2', 'qwen2', 'llama-bpe'] as const;

for (const name of VOCABS) {
  describe(`tokenizer ${name}`, () => {
    let model: Model;
    beforeAll(async () => {
      model = await Model.load(vocab(name), { vocabOnly: true });
    });
    afterAll(() => model.dispose());

    for (const [label, bytes] of Object.entries(CASES)) {
      it(`round-trips or fails as documented: ${label}`, async () => {
        let tokens: Int32Array;
        try {
          tokens = await model.tokenize(bytes);
        } catch (e) {
          // Documented: llama.cpp's tokenizer throws on some binary input.
          expect(e).toBeInstanceOf(LmzipError);
          expect((e as LmzipError).code).toBe('TOKENIZER_FAILED');
          return;
        }
        const back = Buffer.from(await model.detokenize(tokens));
        const spmPrefixed = model.facts.vocabType === 'spm' && back.equals(Buffer.concat([Buffer.from(' '), bytes]));
        if (back.equals(bytes) || spmPrefixed) return;
        // Documented lossy cases: invalid UTF-8 becomes U+FFFD (BPE), "▁" becomes a space (SPM).
        const lossy = back.includes(Buffer.from('\uFFFD')) || (model.facts.vocabType === 'spm' && bytes.includes(Buffer.from('▁')));
        expect(lossy, `${name} ${label}: ${back.toString('hex')}`).toBe(true);
      });

      it(`plans an exact token sequence: ${label}`, async () => {
        const plan = await model.planTokens(bytes);
        expect(plan.ok).toBe(true);
        let back = Buffer.from(await model.detokenize(plan.tokens));
        if (plan.stripLeadingSpace) {
          expect(back[0]).toBe(0x20);
          back = back.subarray(1);
        }
        expect(back.equals(bytes)).toBe(true);
      });
    }

    it('rejects token ids outside the vocabulary', async () => {
      await expect(model.detokenize([model.facts.vocabSize + 5])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });
  });
}
