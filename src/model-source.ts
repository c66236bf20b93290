/**
 * Where compress/decompress get their model: a loaded Model, a reference to resolve
 * (path, built-in name, URL, hf:), the LMZIP_MODEL default, or — when decompressing —
 * the model the file itself names.
 */
import { ErrorCode, LmzipError } from './errors.js';
import type { FileHeader } from './format/types.js';
import { Model, type LoadModelOptions } from './model.js';
import { defaultModelReference, findCachedModel, missingModelError, resolveModel, type ResolveOptions } from './models/index.js';
import { backendToDecode } from './profile.js';
import { invalid } from './validate.js';

export interface OpenedModel {
  model: Model;
  /** The reference recorded in .lmz files. */
  reference: string;
  /** True when this call loaded the model and must dispose it. */
  owned: boolean;
}

export type ModelOption = Model | string | undefined;

function checkOption(model: unknown): asserts model is ModelOption {
  if (model !== undefined && typeof model !== 'string' && !(model instanceof Model))
    throw invalid('model', 'a Model, or a model path, name or URL string', model);
}

export async function openModel(option: unknown, load: LoadModelOptions, resolveOptions: ResolveOptions = {}, referenceToRecord?: string): Promise<OpenedModel> {
  checkOption(option);
  if (option instanceof Model) {
    if (option.disposed) throw new LmzipError(ErrorCode.MODEL_DISPOSED, 'this model has been disposed');
    return { model: option, reference: referenceToRecord ?? option.facts.path, owned: false };
  }
  const { path, reference } = await resolveModel(option ?? defaultModelReference(), { ...resolveOptions, signal: resolveOptions.signal ?? load.signal });
  return { model: await Model.load(path, load), reference: referenceToRecord ?? reference, owned: true };
}

/** The model to decompress a file with: the one given (checked later), else the one the file names. */
export async function openModelForFile(header: Pick<FileHeader, 'modelSha256' | 'modelReference' | 'profile'>, option: unknown, load: LoadModelOptions,
  resolveOptions: ResolveOptions = {}): Promise<OpenedModel> {
  checkOption(option);
  // A CPU-written file is decoded on the CPU, also on a machine with a GPU.
  const loadForFile = { ...load, backend: backendToDecode(header.profile, load.backend) };
  if (option !== undefined) return openModel(option, loadForFile, resolveOptions);
  // The header's reference is untrusted: findCachedModel only reads regular GGUF files.
  const want = { sha256: header.modelSha256, reference: header.modelReference };
  const path = await findCachedModel(want, { ...resolveOptions, signal: resolveOptions.signal ?? load.signal });
  if (!path) throw missingModelError(want);
  return { model: await Model.load(path, loadForFile), reference: header.modelReference, owned: true };
}
