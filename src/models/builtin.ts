/**
 * The built-in model table: short names for a few small *base* (not chat-tuned)
 * models with permissive licences, each pinned to a Hugging Face repository,
 * a revision, and where confirmed a size and SHA-256.
 *
 * Why each entry is here, and what is confirmed, is written up in docs/MODELS.md.
 * Changing a pinned file changes the model identity recorded in every .lmz file,
 * so entries are only ever added; a replaced file gets a new name.
 */

export interface HfFile {
  owner: string;
  repo: string;
  /** Path of the file inside the repository. */
  file: string;
  /** Branch, tag or commit. Built-in entries pin a commit. */
  revision: string;
}

export interface BuiltinModel {
  /** The short name users type (`-m smollm2-135m`). Lower case. */
  name: string;
  /** Where the file lives on the Hugging Face hub. */
  source: HfFile;
  /** Exact size in bytes, where confirmed. */
  size?: number;
  /** SHA-256 of the whole file (hex), where confirmed; otherwise the hub-reported hash is checked. */
  sha256?: string;
  /** Approximate download size, for tables and prompts. */
  approxSize: string;
  /** Parameter count in words ("135M"). */
  parameters: string;
  /** Weight format of the file. */
  quantization: string;
  /** SPDX-style licence of the weights. */
  license: string;
  /** Recommended compression window in tokens (context the model is good at). */
  window: number;
  /** One line on what it is good for. */
  summary: string;
}

/** The name used when no model is given (and LMZIP_MODEL is unset). */
export const DEFAULT_MODEL_NAME = 'smollm2-135m';

const TABLE: readonly BuiltinModel[] = Object.freeze([
  {
    name: 'smollm2-135m',
    source: {
      owner: 'QuantFactory',
      repo: 'SmolLM2-135M-GGUF',
      file: 'SmolLM2-135M.Q8_0.gguf',
      revision: 'd948db3614be18259a175aafd7689a70f1cb4e2f',
    },
    size: 144_810_464,
    sha256: 'b761d9ccdfce67726e41ca2ef30e9dfbcf6a32ca2aaef47df5c049ec362d04cd',
    approxSize: '145 MB',
    parameters: '135M',
    quantization: 'Q8_0',
    license: 'Apache-2.0',
    window: 1024,
    summary: 'Default. General English text and code; small enough for a laptop CPU.',
  },
  {
    name: 'smollm2-360m',
    source: {
      owner: 'mradermacher',
      repo: 'SmolLM2-360M-GGUF',
      file: 'SmolLM2-360M.Q8_0.gguf',
      revision: '630c4866d716e28f45a516ed00e2882149726c13',
    },
    size: 386_404_864,
    approxSize: '386 MB',
    parameters: '360M',
    quantization: 'Q8_0',
    license: 'Apache-2.0',
    window: 1024,
    summary: 'Same family as the default, better ratios, about 2.5x slower.',
  },
  {
    name: 'qwen2.5-0.5b',
    source: {
      owner: 'QuantFactory',
      repo: 'Qwen2.5-0.5B-GGUF',
      file: 'Qwen2.5-0.5B.Q8_0.gguf',
      revision: '71b08db7d287806a33820e4c483f59a03f59e97e',
    },
    sha256: 'f8ff0bcbf1899d4b98278fd28dfb2e5a06f3cbb6176f86538809057184bafa88',
    approxSize: '531 MB',
    parameters: '494M',
    quantization: 'Q8_0',
    license: 'Apache-2.0',
    window: 1024,
    summary: 'Multilingual text and code; the best ratios here, and the slowest (152k vocabulary).',
  },
  {
    name: 'stories15m',
    source: {
      owner: 'ggml-org',
      repo: 'tiny-llamas',
      file: 'stories15M-q8_0.gguf',
      revision: '99dd1a73db5a37100bd4ae633f4cfce6560e1567',
    },
    size: 26_671_328,
    sha256: '2eda49203f2f044f3dddf29a7dd7cc861ef5a0340f518a19613d73ba6d9c06b6',
    approxSize: '27 MB',
    parameters: '15M',
    quantization: 'Q8_0',
    license: 'MIT',
    window: 256,
    summary: "Children's stories only (TinyStories); fast. Poor on anything else.",
  },
  {
    name: 'stories260k',
    source: {
      owner: 'ggml-org',
      repo: 'models',
      file: 'tinyllamas/stories260K.gguf',
      revision: '499bc8821c6b12b4e53c5bffcb21ec206f212d81',
    },
    size: 1_185_376,
    sha256: '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d',
    approxSize: '1.2 MB',
    parameters: '260K',
    quantization: 'F32',
    license: 'MIT',
    window: 256,
    summary: 'Tiny test model (TinyStories). For tests and demos, not for real data.',
  },
] satisfies BuiltinModel[]);

/** All built-in entries, default first. */
export function builtinModels(): readonly BuiltinModel[] {
  return TABLE;
}

/** The entry for a short name (case-insensitive), or undefined. */
export function findBuiltinModel(name: string): BuiltinModel | undefined {
  const key = name.trim().toLowerCase();
  return TABLE.find((m) => m.name === key);
}

/** The entry whose pinned SHA-256 is `sha256`, or begins with it (format v2 records 16 hex digits); else undefined. */
export function findBuiltinBySha256(sha256: string): BuiltinModel | undefined {
  const key = sha256.toLowerCase();
  return key.length >= 16 ? TABLE.find((m) => m.sha256?.startsWith(key)) : undefined;
}
