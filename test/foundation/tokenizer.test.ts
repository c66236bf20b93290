/**
 * Tokenizer round trips on real vocabularies. llama_tokenize + concatenated pieces is
 * exact for valid text, except for behaviour pinned here case by case, so a tokenizer
 * that threw or produced other bytes fails:
 *  - SentencePiece (llama-spm) adds one leading space, and "▁" comes back as a space;
 *  - byte-level BPE reads UTF-8 as llama.cpp's unicode_cpts_from_utf8 does (mirrored
 *    below): each byte that does not start a complete sequence becomes U+FFFD,
 *    overlong forms come back in their shortest form, and a code point above
 *    U+10FFFF makes it throw (a typed TOKENIZER_FAILED, never a crash).
 * The compressor's own plan (planTokens) is exact for every input.
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

type Outcome = { bytes: Buffer } | { throws: string };

/** What tokenize + detokenize must give for each case, by vocabulary type. */
function expected(vocabType: string, label: string, input: Buffer): Outcome {
  if (vocabType === 'spm') {
    const text = label === 'sentencepiece marker' ? Buffer.from(input.toString().replaceAll('▁', ' ')) : input;
    return { bytes: Buffer.concat([Buffer.from(' '), text]) };
  }
  // Byte-level BPE: the three malformed inputs by the rule below; the others byte for byte
  // (the lone surrogate too: llama.cpp does not check for surrogates).
  if (['invalid utf-8', 'above U+10FFFF', 'random bytes'].includes(label)) return llamaUtf8(input);
  return { bytes: input };
}

/**
 * llama.cpp's lenient UTF-8 reading and writing: a lead byte followed by the
 * continuation bytes its pattern asks for is one code point (overlong forms and
 * surrogates are not checked), written back in its shortest form; any other byte
 * becomes U+FFFD and reading goes on at the next byte. Writing a code point above
 * U+10FFFF throws.
 */
function llamaUtf8(input: Buffer): Outcome {
  const out: number[] = [];
  for (let i = 0; i < input.length; ) {
    const b = input[i];
    const length = b < 0x80 ? 1 : b < 0xc0 ? 0 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf8 ? 4 : 0;
    const tail = input.subarray(i + 1, i + length);
    if (length === 0 || i + length > input.length || !tail.every((c) => (c & 0xc0) === 0x80)) {
      out.push(0xef, 0xbf, 0xbd);
      i += 1;
      continue;
    }
    const lead = length === 1 ? b : b & (0xff >> (length + 1));
    const cp = tail.reduce((v, c) => (v << 6) | (c & 0x3f), lead);
    if (cp > 0x10ffff) return { throws: 'TOKENIZER_FAILED' };
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    i += length;
  }
  return { bytes: Buffer.from(out) };
}

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
        const want = expected(model.facts.vocabType, label, bytes);
        let tokens: Int32Array;
        try {
          tokens = await model.tokenize(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(LmzipError);
          expect(want, `${name} ${label}: threw`).toEqual({ throws: (e as LmzipError).code });
          return;
        }
        if ('throws' in want) expect.fail(`${name} ${label}: should have thrown ${want.throws}`);
        const back = Buffer.from(await model.detokenize(tokens));
        expect(back.toString('hex'), `${name} ${label}`).toBe(want.bytes.toString('hex'));
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
