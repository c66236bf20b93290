#!/usr/bin/env node
// Writes a GGUF with a real model's exact architecture, a real tokenizer and seeded random
// weights: for speed measurements at real size (speed does not depend on the weights), on
// machines that cannot download a trained model. Pure Node; the same seed gives the same bytes.
//
//   node scripts/make-test-model.mjs --shape smollm2-135m [--out FILE] [--seed N] [--type q8_0|f16|f32]
//   node scripts/make-test-model.mjs --shape qwen2.5-0.5b
//   node scripts/make-test-model.mjs --shape tiny --layers 2 --embd 64 ...   (custom dimensions)
//
// Without --out the file goes to $LMZIP_TEST_MODELS_DIR or ~/.cache/lmzip/test-models
// (≈150 MB for smollm2-135m, ≈530 MB for qwen2.5-0.5b: never into the repository), named
// <shape>-<type>-seed<N>.gguf; the path is printed on stdout. --if-missing keeps an existing file.
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GGML, T, readGgufMetadata, writeGguf } from './gguf.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The architectures, from the models' own config.json on Hugging Face
 * (HuggingFaceTB/SmolLM2-135M, Qwen/Qwen2.5-0.5B). Both tie the output to the embedding.
 */
export const SHAPES = {
  'smollm2-135m': {
    arch: 'llama', vocab: 'starcoder', layers: 30, embd: 576, ffn: 1536, heads: 9, kvHeads: 3,
    ctx: 8192, ropeTheta: 100000, rmsEps: 1e-5, qkvBias: false,
  },
  'qwen2.5-0.5b': {
    arch: 'qwen2', vocab: 'qwen2', layers: 24, embd: 896, ffn: 4864, heads: 14, kvHeads: 2,
    ctx: 32768, ropeTheta: 1000000, rmsEps: 1e-6, qkvBias: true,
  },
  // For tests: loads and runs in well under a second.
  tiny: {
    arch: 'llama', vocab: 'starcoder', layers: 2, embd: 64, ffn: 128, heads: 4, kvHeads: 2,
    ctx: 2048, ropeTheta: 10000, rmsEps: 1e-5, qkvBias: false,
  },
};

const TYPES = { q8_0: { ggml: GGML.Q8_0, fileType: 7 }, f16: { ggml: GGML.F16, fileType: 1 }, f32: { ggml: GGML.F32, fileType: 0 } };

/** xorshift32: a fast, seeded, portable stream of 32-bit words. */
function rng(seed) {
  let s = (seed >>> 0) ^ 0x9e3779b9 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** IEEE half-precision bits of x (round to nearest, normal range only: enough for scales). */
function toHalf(x) {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = ((b >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | (((b & 0x7fffff) + 0x1000) >>> 13);
}

/**
 * The random values of one weight tensor: int8 values q in [-127, 127] with one scale d per
 * block of 32 (Q8_0), so that every type carries the same numbers d*q (std ≈ `std`).
 */
function weightWriter(next, count, type, std) {
  const d = std / 73.3; // std of a uniform integer on [-127, 127] is ≈ 73.3
  const dHalf = toHalf(d);
  const BLOCKS = 8192;
  return (push) => {
    const q = new Int8Array(32);
    for (let done = 0; done < count; done += BLOCKS * 32) {
      const blocks = Math.min(BLOCKS, (count - done) / 32);
      const buf = Buffer.alloc(blocks * 32 * (type === GGML.Q8_0 ? 34 / 32 : type.bytes));
      let o = 0;
      for (let b = 0; b < blocks; b++) {
        for (let i = 0; i < 32; i += 4) {
          const w = next();
          for (let k = 0; k < 4; k++) q[i + k] = Math.max(-127, ((w >>> (8 * k)) & 0xff) - 128);
        }
        if (type === GGML.Q8_0) {
          buf.writeUInt16LE(dHalf, o);
          for (let i = 0; i < 32; i++) buf.writeInt8(q[i], o + 2 + i);
          o += 34;
        } else if (type === GGML.F16) {
          for (let i = 0; i < 32; i++, o += 2) buf.writeUInt16LE(toHalf(d * q[i]), o);
        } else {
          for (let i = 0; i < 32; i++, o += 4) buf.writeFloatLE(d * q[i], o);
        }
      }
      push(buf);
    }
  };
}

/** A float32 vector: `fill` for norms (ones), or small random values (biases). */
function vectorWriter(next, count, fill) {
  return (push) => {
    const buf = Buffer.alloc(count * 4);
    for (let i = 0; i < count; i++) buf.writeFloatLE(fill ?? (((next() & 0xffff) - 32768) / 32768) * 0.02, i * 4);
    push(buf);
  };
}

/**
 * Writes the model file and returns { path, bytes, parameters }.
 * @example makeTestModel({ shape: 'tiny', out: '/tmp/tiny.gguf', seed: 1, type: 'q8_0' })
 */
export function makeTestModel({ shape: shapeName, out, seed = 1, type = 'q8_0', overrides = {} }) {
  const base = SHAPES[shapeName];
  if (!base) throw new Error(`unknown shape ${JSON.stringify(shapeName)}; expected one of ${Object.keys(SHAPES).join(', ')}`);
  const s = { ...base, ...overrides };
  const t = TYPES[type];
  if (!t) throw new Error(`unknown type ${JSON.stringify(type)}; expected one of ${Object.keys(TYPES).join(', ')}`);
  if (s.embd % s.heads || s.heads % s.kvHeads) throw new Error('embd must be a multiple of heads, heads of kv heads');
  const headDim = s.embd / s.heads;

  const vocabFile = join(root, 'vendor/llama.cpp/models', `ggml-vocab-${s.vocab}.gguf`);
  if (!existsSync(vocabFile)) throw new Error(`${vocabFile} is missing: run \`npm run vendor\` first`);
  const vocab = readGgufMetadata(vocabFile).kv;
  const nVocab = vocab.get('tokenizer.ggml.tokens').value.length;

  const a = s.arch;
  const kv = new Map([
    ['general.architecture', { type: T.STRING, value: a }],
    ['general.name', { type: T.STRING, value: `${shapeName} shape, random weights (seed ${seed})` }],
    ['general.description', { type: T.STRING, value: `written by lmzip scripts/make-test-model.mjs; tokenizer from ggml-vocab-${s.vocab}.gguf` }],
    ['general.file_type', { type: T.U32, value: t.fileType }],
    ['general.quantization_version', { type: T.U32, value: 2 }],
    [`${a}.vocab_size`, { type: T.U32, value: nVocab }],
    [`${a}.context_length`, { type: T.U32, value: s.ctx }],
    [`${a}.embedding_length`, { type: T.U32, value: s.embd }],
    [`${a}.feed_forward_length`, { type: T.U32, value: s.ffn }],
    [`${a}.block_count`, { type: T.U32, value: s.layers }],
    [`${a}.attention.head_count`, { type: T.U32, value: s.heads }],
    [`${a}.attention.head_count_kv`, { type: T.U32, value: s.kvHeads }],
    [`${a}.rope.dimension_count`, { type: T.U32, value: headDim }],
    [`${a}.rope.freq_base`, { type: T.F32, value: s.ropeTheta }],
    [`${a}.attention.layer_norm_rms_epsilon`, { type: T.F32, value: s.rmsEps }],
  ]);
  for (const [key, v] of vocab) if (key.startsWith('tokenizer.')) kv.set(key, v);

  const next = rng(seed);
  const tensors = [];
  let parameters = 0;
  const weight = (name, ne0, ne1, std = 0.02) => {
    tensors.push({ name, dims: [ne0, ne1], ggml: t.ggml, write: weightWriter(next, ne0 * ne1, t.ggml, std) });
    parameters += ne0 * ne1;
  };
  const vector = (name, n, fill) => {
    tensors.push({ name, dims: [n], ggml: GGML.F32, write: vectorWriter(next, n, fill) });
    parameters += n;
  };
  // Tensors are written in this order, so the random stream is consumed in this order too.
  weight('token_embd.weight', s.embd, nVocab);
  vector('output_norm.weight', s.embd, 1);
  for (let i = 0; i < s.layers; i++) {
    const p = `blk.${i}.`;
    vector(p + 'attn_norm.weight', s.embd, 1);
    weight(p + 'attn_q.weight', s.embd, s.heads * headDim);
    weight(p + 'attn_k.weight', s.embd, s.kvHeads * headDim);
    weight(p + 'attn_v.weight', s.embd, s.kvHeads * headDim);
    if (s.qkvBias) {
      vector(p + 'attn_q.bias', s.heads * headDim);
      vector(p + 'attn_k.bias', s.kvHeads * headDim);
      vector(p + 'attn_v.bias', s.kvHeads * headDim);
    }
    weight(p + 'attn_output.weight', s.heads * headDim, s.embd);
    vector(p + 'ffn_norm.weight', s.embd, 1);
    weight(p + 'ffn_gate.weight', s.embd, s.ffn);
    weight(p + 'ffn_up.weight', s.embd, s.ffn);
    weight(p + 'ffn_down.weight', s.ffn, s.embd);
  }

  mkdirSync(dirname(out), { recursive: true });
  const partial = `${out}.partial-${process.pid}`;
  try {
    writeGguf(partial, kv, tensors);
    renameSync(partial, out);
  } catch (e) {
    rmSync(partial, { force: true });
    throw e;
  }
  return { path: out, bytes: statSync(out).size, parameters, vocab: nVocab };
}

/** Where generated models go unless --out says otherwise. */
export function testModelsDir(env = process.env) {
  return env.LMZIP_TEST_MODELS_DIR || join(homedir(), '.cache/lmzip/test-models');
}

export function defaultModelPath(shape, type = 'q8_0', seed = 1, env = process.env) {
  return join(testModelsDir(env), `${shape}-${type}-seed${seed}.gguf`);
}

function main() {
  const { values: v } = parseArgs({
    options: {
      shape: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
      type: { type: 'string', default: 'q8_0' },
      'if-missing': { type: 'boolean' },
      layers: { type: 'string' }, embd: { type: 'string' }, ffn: { type: 'string' },
      heads: { type: 'string' }, 'kv-heads': { type: 'string' }, vocab: { type: 'string' }, ctx: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help || !v.shape) {
    console.error(`Usage: node scripts/make-test-model.mjs --shape ${Object.keys(SHAPES).join('|')} [--out FILE] [--seed N] [--type q8_0|f16|f32]
       [--if-missing] [--layers N --embd N --ffn N --heads N --kv-heads N --ctx N --vocab NAME]
Writes a GGUF with the shape's architecture, a tokenizer from vendor/llama.cpp/models/ggml-vocab-NAME.gguf
and seeded random weights; prints its path. Default folder: $LMZIP_TEST_MODELS_DIR or ~/.cache/lmzip/test-models.`);
    process.exit(v.help ? 0 : 2);
  }
  const int = (x) => (x === undefined ? undefined : Number.parseInt(x, 10));
  const overrides = Object.fromEntries(
    Object.entries({ layers: int(v.layers), embd: int(v.embd), ffn: int(v.ffn), heads: int(v.heads), kvHeads: int(v['kv-heads']), ctx: int(v.ctx), vocab: v.vocab })
      .filter(([, x]) => x !== undefined),
  );
  const seed = int(v.seed);
  const custom = Object.keys(overrides).length > 0;
  if (custom && !v.out) {
    console.error('make-test-model: custom dimensions need --out FILE');
    process.exit(2);
  }
  const out = resolve(v.out ?? defaultModelPath(v.shape, v.type, seed));
  if (v['if-missing'] && existsSync(out)) {
    console.log(out);
    return;
  }
  const started = Date.now();
  const r = makeTestModel({ shape: v.shape, out, seed, type: v.type, overrides });
  console.error(`make-test-model: ${v.shape}, ${(r.parameters / 1e6).toFixed(1)}M parameters, vocabulary ${r.vocab}, ${v.type}: ` +
    `${(r.bytes / 1048576).toFixed(1)} MiB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(out);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(`make-test-model: ${e.message}`);
    process.exit(1);
  }
}
