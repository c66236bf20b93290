/**
 * The numeric profile: what, besides the model and the schedule, decides the logits
 * bit for bit. Two builds with equal profiles decode each other's files; a file whose
 * profile differs from the running build is refused before decoding (PROFILE_MISMATCH).
 * See docs/FORMAT.md and docs/DETERMINISM.md.
 */
import type { Model } from './model.js';
import { native } from './native.js';

export function numericProfile(model: Model): string {
  const info = native().backendInfo();
  const backend = model.gpuLayers !== 0 && info.gpuOffload ? `gpu(${model.gpuLayers})` : 'cpu';
  return `isa=${info.isa};llama=${info.llamaCommit};backend=${backend};kv=f16`;
}

/** Explains which parts of two profiles differ, for error messages. */
export function describeProfileDifference(fileProfile: string, ours: string): string {
  const parse = (s: string) => new Map(s.split(';').map((kv) => kv.split('=', 2) as [string, string]));
  const a = parse(fileProfile);
  const b = parse(ours);
  const diffs: string[] = [];
  for (const key of new Set([...a.keys(), ...b.keys()]))
    if (a.get(key) !== b.get(key)) diffs.push(`${key}: file has ${a.get(key) ?? '(none)'}, this build has ${b.get(key) ?? '(none)'}`);
  return diffs.join('; ');
}
