/**
 * The version-2 member header (docs/FORMAT.md, "Member header"): writing it, and
 * parsing it once all of it has arrived. The numeric profile is stored as entries of
 * enumerated key and value ids, with literal text where the tables have none.
 */
import { ErrorCode, LmzipError } from '../../errors.js';
import { MAGIC } from '../constants.js';
import { crc32 } from '../crc32.js';
import { ByteCursor, corruptHeader, pushVarint } from '../varint.js';
import {
  FLAG_COMPACT_SHIFT, FLAG_FLASH_ATTENTION, FLAG_MODEL_FREE, FLAG_SHIFT_CONTEXT, FORMAT_VERSION_2, KNOWN_CODING_METHODS, MAX_BLOCK_SIZE, MAX_HEADER_BODY, MAX_LANES,
  MAX_METHOD_PARAMS, MAX_NAME_BYTES, MAX_PROFILE_BYTES, MAX_UBATCH, MAX_WINDOW, MIN_BLOCK_SIZE, MIN_WINDOW, MODEL_HASH_BYTES,
} from './constants.js';
import type { HeaderV2 } from './types.js';

/** Enumerated profile keys and their values (docs/FORMAT.md, "Numeric profile"): id = index + 1. */
const PROFILE_TABLE: readonly { key: string; values: readonly string[] }[] = [
  { key: 'isa', values: ['x86_64-avx2-fma-f16c', 'native', 'aarch64-baseline', 'arm64-baseline'] },
  { key: 'llama', values: ['v0.5.0-de3ff815ea7d559ee917f063901b8986f038abc6'] },
  { key: 'backend', values: ['cpu'] },
  { key: 'kv', values: ['f16'] },
];
const LITERAL_KEY = /^[a-z0-9_]{1,32}$/;
const LITERAL_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]{1,255}$/; // printable ASCII without ';' and '='

/**
 * The profile's header bytes: per entry one byte, key id in the high nibble and value
 * id in the low one, 0 meaning that a literal (u8 length, then the text) follows.
 * Throws a plain Error for text the format cannot hold (a build defect).
 */
export function encodeProfile(profile: string): number[] {
  const out: number[] = [];
  if (profile === '') return out;
  for (const pair of profile.split(';')) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (eq < 0 || !LITERAL_KEY.test(key) || !LITERAL_VALUE.test(value)) throw new Error(`internal: profile entry "${pair}" cannot be recorded`);
    const k = PROFILE_TABLE.findIndex((e) => e.key === key);
    const v = k >= 0 ? PROFILE_TABLE[k].values.indexOf(value) : -1;
    out.push((k + 1) * 16 + (v + 1));
    if (k < 0) out.push(key.length, ...Buffer.from(key, 'latin1'));
    if (v < 0) out.push(value.length, ...Buffer.from(value, 'latin1'));
  }
  if (out.length > MAX_PROFILE_BYTES) throw new Error('internal: numeric profile too long');
  return out;
}

/** The profile's text form from its header bytes. */
export function decodeProfile(bytes: Uint8Array): string {
  const c = new ByteCursor(bytes);
  const literal = (what: string, max: number, pattern: RegExp) => {
    const n = c.left > 0 ? c.u8() : 0;
    if (n < 1 || n > max || n > c.left) throw corruptHeader(`a profile ${what} of ${n} bytes`);
    const text = Buffer.from(c.take(n)).toString('latin1');
    if (!pattern.test(text)) throw corruptHeader(`a profile ${what} with characters it may not hold`);
    return text;
  };
  const seen = new Set<string>();
  const pairs: string[] = [];
  while (c.left > 0) {
    const entry = c.u8();
    const keyId = entry >> 4;
    const valueId = entry & 15;
    let key: string;
    if (keyId === 0) {
      if (valueId !== 0) throw corruptHeader('a literal profile key with an enumerated value');
      key = literal('key', 32, LITERAL_KEY);
      if (PROFILE_TABLE.some((e) => e.key === key)) throw corruptHeader(`profile key ${key} written literally`);
    } else key = PROFILE_TABLE[keyId - 1]?.key ?? `#${keyId}`;
    if (seen.has(key)) throw corruptHeader(`profile key ${key} appears twice`);
    seen.add(key);
    const value = valueId === 0 ? literal('value', 255, LITERAL_VALUE) : (PROFILE_TABLE[keyId - 1]?.values[valueId - 1] ?? `#${valueId}`);
    pairs.push(`${key}=${value}`);
  }
  return pairs.join(';');
}

export interface HeaderFieldsV2 {
  modelFree: boolean;
  blockSize: number;
  /** Hex SHA-256 of the model (only its first 8 bytes are recorded). */
  modelSha256?: string;
  modelName?: string;
  lanes?: number;
  window?: number;
  overlap?: number;
  ubatch?: number;
  flashAttention?: boolean;
  shiftContext?: boolean;
  compactShift?: boolean;
  codingMethod?: number;
  methodParams?: Uint8Array;
  profile?: string;
}

/** The header bytes of a version-2 member. */
export function writeHeaderV2(h: HeaderFieldsV2): Buffer {
  const body: number[] = [];
  if (h.blockSize % 1024 !== 0) throw new Error('internal: a block size that is not a multiple of 1024');
  pushVarint(body, h.blockSize / 1024);
  let flags = 0;
  if (h.modelFree) flags |= FLAG_MODEL_FREE;
  else {
    if (h.flashAttention) flags |= FLAG_FLASH_ATTENTION;
    if (h.shiftContext) flags |= FLAG_SHIFT_CONTEXT;
    if (h.shiftContext && h.compactShift) flags |= FLAG_COMPACT_SHIFT;
    body.push(...Buffer.from(h.modelSha256 ?? '', 'hex').subarray(0, MODEL_HASH_BYTES));
    const name = Buffer.from(h.modelName ?? '', 'utf8');
    if (name.length > MAX_NAME_BYTES) throw new Error('internal: model name too long');
    pushVarint(body, name.length);
    body.push(...name);
    for (const v of [h.lanes, h.window, h.overlap, h.ubatch, h.codingMethod]) pushVarint(body, v as number);
    const params = h.methodParams ?? new Uint8Array(0);
    pushVarint(body, params.length);
    body.push(...params);
    body.push(...encodeProfile(h.profile ?? ''));
  }
  const head: number[] = [...MAGIC, FORMAT_VERSION_2, flags];
  pushVarint(head, body.length);
  const out = Buffer.alloc(head.length + body.length + 4);
  out.set(head, 0);
  out.set(body, head.length);
  out.writeUInt32LE(crc32(out.subarray(0, head.length + body.length)), head.length + body.length);
  return out;
}

/**
 * Parses a version-2 header at the start of `bytes` (magic and version already
 * checked by the caller). Throws NEED_MORE (varint.ts) while it is incomplete.
 */
export function parseHeaderV2(bytes: Uint8Array): HeaderV2 {
  const c = new ByteCursor(bytes, MAGIC.length + 1);
  const flags = c.u8();
  if (flags & ~(FLAG_MODEL_FREE | FLAG_FLASH_ATTENTION | FLAG_SHIFT_CONTEXT | FLAG_COMPACT_SHIFT)) throw corruptHeader('reserved header flags are set');
  const bodySize = c.varint('header size');
  if (bodySize < 1 || bodySize > MAX_HEADER_BODY) throw corruptHeader(`header body of ${bodySize} bytes`);
  const bodyStart = c.pos;
  c.take(bodySize);
  const crc = c.u32();
  const size = c.pos;
  if (crc32(bytes.subarray(0, size - 4)) !== crc) throw corruptHeader('the header checksum does not match');

  const b = new ByteCursor(bytes, bodyStart, bodyStart + bodySize);
  const field = <T>(read: () => T): T => {
    try {
      return read();
    } catch (e) {
      if (e instanceof LmzipError) throw e;
      throw corruptHeader('the header body ends inside a field');
    }
  };
  const blockSize = field(() => b.varint('block size')) * 1024;
  if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) throw corruptHeader(`block size ${blockSize} is out of range`);
  const header: HeaderV2 = {
    version: 2, modelFree: (flags & FLAG_MODEL_FREE) !== 0, blockSize, modelHash: '', modelName: '', lanes: 1, window: MIN_WINDOW,
    overlap: 0, ubatch: 1, flashAttention: (flags & FLAG_FLASH_ATTENTION) !== 0,
    shiftContext: (flags & FLAG_SHIFT_CONTEXT) !== 0, compactShift: (flags & FLAG_COMPACT_SHIFT) !== 0, codingMethod: 0, methodParams: new Uint8Array(0),
    profile: '', size,
  };
  if (header.modelFree) {
    if (header.flashAttention || header.shiftContext || header.compactShift) throw corruptHeader('a model-free header with a model setting');
    if (b.left !== 0) throw corruptHeader('header length does not match its fields');
    return header;
  }
  if (header.compactShift && !header.shiftContext) throw corruptHeader('COMPACT_SHIFT is set without SHIFT_CONTEXT');
  header.modelHash = Buffer.from(field(() => b.take(MODEL_HASH_BYTES))).toString('hex');
  const nameLength = field(() => b.varint('name length'));
  if (nameLength > MAX_NAME_BYTES) throw corruptHeader(`a model name of ${nameLength} bytes`);
  header.modelName = Buffer.from(field(() => b.take(nameLength))).toString('utf8');
  header.lanes = field(() => b.varint('lanes'));
  header.window = field(() => b.varint('window'));
  header.overlap = field(() => b.varint('overlap'));
  header.ubatch = field(() => b.varint('ubatch'));
  header.codingMethod = field(() => b.varint('coding method'));
  const paramsLength = field(() => b.varint('method parameters length'));
  if (paramsLength > MAX_METHOD_PARAMS) throw corruptHeader(`coding method parameters of ${paramsLength} bytes`);
  header.methodParams = Uint8Array.from(field(() => b.take(paramsLength)));
  if (b.left > MAX_PROFILE_BYTES) throw corruptHeader(`a numeric profile of ${b.left} bytes`);
  header.profile = field(() => decodeProfile(b.take(b.left)));

  if (header.lanes < 1 || header.lanes > MAX_LANES) throw corruptHeader(`lane count ${header.lanes} is out of range`);
  if (header.window < MIN_WINDOW || header.window > Math.min(MAX_WINDOW, blockSize + 1)) throw corruptHeader(`window ${header.window} is out of range`);
  if (header.overlap > header.window - 2) throw corruptHeader('overlap must be smaller than the window minus one');
  if (header.ubatch < 1 || header.ubatch > MAX_UBATCH) throw corruptHeader(`ubatch ${header.ubatch} is out of range`);
  if (!KNOWN_CODING_METHODS.has(header.codingMethod))
    throw new LmzipError(ErrorCode.UNSUPPORTED_VERSION,
      `this file uses coding method ${header.codingMethod}; this build knows ${[...KNOWN_CODING_METHODS].join(', ')} (upgrade lmzip)`);
  if (header.codingMethod === 1 && header.methodParams.length !== 0) throw corruptHeader('coding method 1 takes no parameters');
  return header;
}
