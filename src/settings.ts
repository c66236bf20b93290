/**
 * The coding settings that decide the output bytes (all recorded in the header),
 * and their defaults.
 */
import { invalid } from './validate.js';
import type { Model } from './model.js';
import { findBuiltinBySha256 } from './models/builtin.js';

export interface CodecSettings {
  /** Chunks coded at once, one llama.cpp sequence each (1-256). */
  lanes: number;
  /** Context positions a lane may hold before it restarts (start token included). */
  window: number;
  /** Tokens carried over when a lane restarts. */
  overlap: number;
  /** llama.cpp's physical batch size (fixed: it splits batches and so decides kernels). */
  ubatch: number;
  /** Flash attention (off: it makes results depend on the thread count, LLAMA-FACTS.md). */
  flashAttention: boolean;
}

export const DEFAULT_LANES = 16;
export const DEFAULT_UBATCH = 512;
/** Used when neither the user nor the model table names a window. */
export const DEFAULT_MAX_WINDOW = 1024;


export interface SettingsOptions {
  lanes?: number;
  window?: number;
  overlap?: number;
}

export async function chooseSettings(model: Model, options: SettingsOptions): Promise<CodecSettings> {
  const trained = model.facts.contextLength > 0 ? model.facts.contextLength : DEFAULT_MAX_WINDOW;
  // A GGUF's advertised context is not always what it handles well (stories260K says
  // 2048 but predicts far worse past a few hundred tokens): the built-in table carries
  // a measured window per model.
  const window = options.window ?? findBuiltinBySha256(await model.fingerprint())?.window ?? Math.min(trained, DEFAULT_MAX_WINDOW);
  if (window < 8) throw invalid('window', 'an integer of at least 8', window);
  const overlap = options.overlap ?? Math.floor(window / 2);
  if (overlap > window - 2) throw invalid('overlap', `an integer below window - 1 (${window - 1})`, overlap);
  return { lanes: options.lanes ?? DEFAULT_LANES, window, overlap, ubatch: DEFAULT_UBATCH, flashAttention: false };
}
