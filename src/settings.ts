/**
 * The coding settings that decide the output bytes (all recorded in the member
 * header, or derived from what is), their defaults, and how they are fitted to the
 * input: lanes and window never exceed what the input can use (docs/FORMAT.md,
 * "Writers"), so a small input never asks llama.cpp for a large context.
 */
import { invalid } from './validate.js';
import type { Model } from './model.js';
import { findBuiltinBySha256 } from './models/builtin.js';
import { CodingMethodId, MAX_BLOCK_SIZE, MAX_CHUNK_SIZE, MIN_BLOCK_SIZE } from './format/v2/constants.js';
import { chunkLimit } from './chunker.js';
import { native } from './native.js';

export interface CodecSettings {
  /** Chunks coded at once, one llama.cpp sequence each (1-256). */
  lanes: number;
  /** Context positions a lane may hold before it is full (start token included). */
  window: number;
  /** Tokens carried over when a lane's window is full. */
  overlap: number;
  /**
   * A full lane keeps its start token and last `overlap` tokens by moving them down in
   * llama.cpp's cache (a K-shift) instead of feeding them again (docs/FORMAT.md,
   * SHIFT_CONTEXT): the default wherever the model allows it (chooseSettings).
   */
  shiftContext: boolean;
  /**
   * With shiftContext: each shift first moves the lane's kept cells to the lowest cells
   * of its cache, so that later steps attend over the positions held instead of the
   * whole window (docs/FORMAT.md, COMPACT_SHIFT). What lmzip writes; false only for the
   * files written before it (golden files, tests).
   */
  compactShift: boolean;
  /** llama.cpp's physical batch size (fixed: it splits batches and so decides kernels). */
  ubatch: number;
  /** Flash attention (off: it makes results depend on the thread count, LLAMA-FACTS.md). */
  flashAttention: boolean;
  /** The most original bytes per block (blocks decode independently). */
  blockSize: number;
  /** Target chunk size; undefined: max(MIN_DEFAULT_CHUNK_SIZE, block length / lanes). */
  chunkSize: number | undefined;
  /** docs/FORMAT.md "Coding methods". */
  codingMethod: number;
  methodParams: Uint8Array;
}

/**
 * Lanes (chunks coded side by side, one batch per step). Measured at real size
 * (SmolLM2-135M and Qwen2.5-0.5B shapes, docs/benchmark.md "At real size"): on a
 * CPU, 16 lanes decode 1.2-1.4x the tokens/s of 1 lane and 64 lanes only ~1.1-1.3x
 * more again, for 4x the KV cache (SmolLM2: ~24 MB per lane at window 1024) and, with
 * 256 KiB blocks, 4 KiB chunks that each start cold (worse compression). 16 stays.
 */
export const DEFAULT_LANES = 16;
export const DEFAULT_UBATCH = 512;
/** Used when neither the user nor the model table names a window. */
export const DEFAULT_MAX_WINDOW = 1024;
/**
 * The most tokens a full lane keeps by default (the default overlap is
 * min(window / 2, this)). Chosen when full lanes restarted: a restart feeds them again
 * as one prefill, and with window 1024 and overlap 512 the restarts took a third of the
 * time on long chunks (SmolLM2-135M shape, docs/benchmark.md "Restarts"); 256 cut that
 * threefold, and for compression the kept tokens matter little past a few hundred
 * (stories260K, 60 KB: window 512 with overlap 128 codes as small as 256/128). A shift
 * (shiftContext, now the default) feeds nothing again, so a larger overlap would cost
 * little time; the default stays, since its gain in size cannot be measured here
 * without a trained model of that context.
 */
export const MAX_DEFAULT_OVERLAP = 256;
/**
 * Original bytes per block: the unit of random access and resumption. Measured on the
 * whole TinyStories file (398 KB) with stories260K (`scripts/measure-format.ts sweep`):
 * against one block for everything, 32 KiB blocks cost 0.59 %, 64 KiB 0.30 %, 128 KiB
 * 0.20 %, 256 KiB 0.14 %. 256 KiB is the smallest block that still fills 16 lanes with
 * chunks of 16 KiB, so it costs no speed either.
 */
export const DEFAULT_BLOCK_SIZE = 256 * 1024;
/**
 * Chunks are at least this long unless the caller sets chunkSize: each chunk costs
 * table bytes and starts its lane cold, and more lanes only buy speed (60 KB of text
 * is then 4 chunks, not 15: the container under 1 % of the file).
 */
export const MIN_DEFAULT_CHUNK_SIZE = 16384;

export interface SettingsOptions {
  lanes?: number;
  window?: number;
  overlap?: number;
  /** false: a full lane restarts and feeds its kept tokens again (the version-2 files before SHIFT_CONTEXT). */
  shiftContext?: boolean;
  /** false: shift without moving the kept cells down (SHIFT_CONTEXT alone, as written before COMPACT_SHIFT). */
  compactShift?: boolean;
  blockSize?: number;
  chunkSize?: number;
  /** false: the model alone (coding method 1); default: mixed (method 2). */
  mix?: boolean;
}

/** The overlap used when none is given: half the window, at most MAX_DEFAULT_OVERLAP tokens. */
export function defaultOverlap(window: number): number {
  return Math.min(Math.floor(window / 2), MAX_DEFAULT_OVERLAP);
}

/** The chunk target for a block of `length` bytes. */
export function chunkTarget(length: number, lanes: number, chunkSize: number | undefined): number {
  return chunkSize ?? Math.max(MIN_DEFAULT_CHUNK_SIZE, Math.ceil(length / lanes));
}

/**
 * The settings for compressing with `model`: the caller's, else the defaults, fitted
 * to an input of `inputSize` bytes (undefined: unknown, a stream). Fitting lowers
 * lanes to the most chunks a block can have and the window to the longest chunk
 * plus one; neither changes any token's context, so it changes no coded bit, only
 * what llama.cpp allocates.
 */
export async function chooseSettings(model: Model, options: SettingsOptions, inputSize?: number): Promise<CodecSettings> {
  const trained = model.facts.contextLength > 0 ? model.facts.contextLength : DEFAULT_MAX_WINDOW;
  // A GGUF's advertised context is not always what it handles well (stories260K says
  // 2048 but predicts far worse past a few hundred tokens): the built-in table carries
  // a measured window per model.
  const window = options.window ?? findBuiltinBySha256(await model.fingerprint())?.window ?? Math.min(trained, DEFAULT_MAX_WINDOW);
  if (window < 8) throw invalid('window', 'an integer of at least 8', window);
  const overlap = options.overlap ?? defaultOverlap(window);
  if (overlap > window - 2) throw invalid('overlap', `an integer below window - 1 (${window - 1})`, overlap);
  // Full lanes shift (compacting) wherever llama.cpp can shift the model's cache: no
  // prefill, and with the kept cells moved down each step attends over no more cells
  // than after a restart. Measured (SmolLM2-135M shape, window 1024 / overlap 256, 2
  // threads, docs/benchmark.md "Compacting shift"): 1 lane 102.5 / 97.6 % of llama.cpp
  // against 91.8 / 86.6 % restarting (`node bench/speed-pair.mjs --lanes 1 --rounds 3
  // --shift on|off`); 16 lanes, raw schedule, 194, 182, 222 tok/s against 179, 169, 167
  // (`node bench/context-policy.mjs speed`).
  const shiftContext = options.shiftContext ?? model.facts.canShiftContext;
  if (shiftContext && !model.facts.canShiftContext)
    throw invalid('shiftContext', `false for this model (llama.cpp cannot shift a ${model.facts.architecture} context)`, shiftContext);
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || blockSize % 1024 !== 0)
    throw invalid('blockSize', `a multiple of 1024 from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE}`, blockSize);
  const compactShift = shiftContext && (options.compactShift ?? true);
  return fitToInput({ lanes: options.lanes ?? DEFAULT_LANES, window, overlap, shiftContext, compactShift, ubatch: DEFAULT_UBATCH, flashAttention: false, blockSize,
    chunkSize: options.chunkSize, ...codingMethod(options.mix ?? true, blockSize, inputSize) }, inputSize);
}

/**
 * The coding method for new files: the model mixed with adaptive context models
 * (method 2) unless `mix` is false. Mixing won on every text measured, by 10 % on the
 * model's own domain and by 50-97 % on text it was not trained on (docs/MIXING.md,
 * "Results"); data the model cannot spell goes to brotli or is stored either way. The
 * parameters size the mixer's tables for the largest block the input can have.
 *
 * @example codingMethod(true, 262144, 60000) // { codingMethod: 2, methodParams: <33 bytes> }
 */
export function codingMethod(mix: boolean, blockSize: number, inputSize?: number): Pick<CodecSettings, 'codingMethod' | 'methodParams'> {
  if (!mix) return { codingMethod: CodingMethodId.Model, methodParams: new Uint8Array(0) };
  const largestBlock = Math.max(1, Math.min(blockSize, inputSize ?? Infinity));
  return { codingMethod: CodingMethodId.Mixed, methodParams: native().mixParams(largestBlock) };
}

/** Lowers lanes and window to what the largest block of the input can use. */
export function fitToInput(s: CodecSettings, inputSize: number | undefined): CodecSettings {
  const length = Math.max(1, Math.min(s.blockSize, inputSize ?? Infinity));
  // The chunker's numbers for this block (blockChunkLengths in src/codec.ts): ⌈length /
  // target⌉ chunks, none longer than its limit.
  const target = Math.min(chunkTarget(length, s.lanes, s.chunkSize), MAX_CHUNK_SIZE);
  const lanes = Math.min(s.lanes, Math.ceil(length / target));
  const longest = Math.min(chunkLimit(target), MAX_CHUNK_SIZE, length);
  // A chunk of n bytes has at most n + 1 tokens (a stripped space), which fit a window
  // of n + 1 positions with the start token, so it never restarts.
  const window = Math.max(8, Math.min(s.window, longest + 1, s.blockSize + 1));
  return { ...s, lanes, window, overlap: Math.min(s.overlap, window - 2) };
}
