/**
 * Crafted GGUF files for the hostile-model tests, made by editing a real model's
 * metadata (never committed as binaries). A small GGUF reader/writer for tests only:
 * it keeps every tensor's bytes and re-aligns the data section after the edits.
 *
 * @example
 * const bytes = craftGguf(readFileSync(STORIES), (g) => setKv(g, 'llama.block_count', 'u32', 1_000_000));
 * writeFileSync(join(dir, 'layers.gguf'), bytes);
 */

export const T = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, str: 8, arr: 9, u64: 10, i64: 11, f64: 12 } as const;
export type Scalar = Exclude<keyof typeof T, 'arr'>;

export type Value = number | bigint | boolean | string | Buffer | Value[];
export interface Kv {
  key: string;
  type: number;
  /** For arrays: the element type. */
  itemType?: number;
  value: Value;
}
export interface TensorInfo {
  name: string;
  dims: bigint[];
  type: number;
  offset: bigint;
}
export interface Gguf {
  version: number;
  kvs: Kv[];
  tensors: TensorInfo[];
  /** Everything from the start of the (aligned) tensor data to the end of the file. */
  data: Buffer;
}

const SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

class Reader {
  constructor(readonly b: Buffer, public p = 0) {}
  u32() { const v = this.b.readUInt32LE(this.p); this.p += 4; return v; }
  u64() { const v = this.b.readBigUInt64LE(this.p); this.p += 8; return v; }
  str() { const n = Number(this.u64()); const s = this.b.subarray(this.p, this.p + n); this.p += n; return s.toString('utf8'); }
  scalar(type: number): Value {
    const b = this.b, p = this.p;
    if (type === T.str) return this.str();
    this.p += SIZES[type];
    switch (type) {
      case T.u8: return b.readUInt8(p);
      case T.i8: return b.readInt8(p);
      case T.u16: return b.readUInt16LE(p);
      case T.i16: return b.readInt16LE(p);
      case T.u32: return b.readUInt32LE(p);
      case T.i32: return b.readInt32LE(p);
      case T.f32: return b.readFloatLE(p);
      case T.bool: return b.readUInt8(p) !== 0;
      case T.u64: return b.readBigUInt64LE(p);
      case T.i64: return b.readBigInt64LE(p);
      case T.f64: return b.readDoubleLE(p);
      default: throw new Error(`gguf-craft: unknown type ${type}`);
    }
  }
}

/** Parses a GGUF v2/v3 file (trusted input: a real model). */
export function parseGguf(bytes: Buffer): Gguf {
  const r = new Reader(bytes);
  if (bytes.toString('latin1', 0, 4) !== 'GGUF') throw new Error('gguf-craft: not a GGUF file');
  r.p = 4;
  const version = r.u32();
  const nTensors = Number(r.u64());
  const nKv = Number(r.u64());
  const kvs: Kv[] = [];
  for (let i = 0; i < nKv; i++) {
    const key = r.str();
    const type = r.u32();
    if (type === T.arr) {
      const itemType = r.u32();
      const n = Number(r.u64());
      const items: Value[] = [];
      for (let j = 0; j < n; j++) items.push(r.scalar(itemType));
      kvs.push({ key, type, itemType, value: items });
    } else {
      kvs.push({ key, type, value: r.scalar(type) });
    }
  }
  const tensors: TensorInfo[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = r.str();
    const nDims = r.u32();
    const dims: bigint[] = [];
    for (let d = 0; d < nDims; d++) dims.push(r.u64());
    const type = r.u32();
    tensors.push({ name, dims, type, offset: r.u64() });
  }
  const g: Gguf = { version, kvs, tensors, data: Buffer.alloc(0) };
  const alignment = alignmentOf(g);
  g.data = bytes.subarray(Math.ceil(r.p / alignment) * alignment);
  return g;
}

class Writer {
  parts: Buffer[] = [];
  length = 0;
  push(b: Buffer) { this.parts.push(b); this.length += b.length; }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.push(b); }
  u64(v: bigint | number) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v))); this.push(b); }
  str(s: string | Buffer) { const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s; this.u64(b.length); this.push(b); }
  scalar(type: number, v: Value) {
    if (type === T.str) return this.str(v as string | Buffer);
    const b = Buffer.alloc(SIZES[type] ?? 0);
    switch (type) {
      case T.u8: b.writeUInt8(Number(v) & 0xff); break;
      case T.i8: b.writeInt8(Number(v)); break;
      case T.u16: b.writeUInt16LE(Number(v) & 0xffff); break;
      case T.i16: b.writeInt16LE(Number(v)); break;
      case T.u32: b.writeUInt32LE(Number(BigInt.asUintN(32, BigInt(Math.trunc(Number(v)))))); break;
      case T.i32: b.writeInt32LE(Number(BigInt.asIntN(32, BigInt(Math.trunc(Number(v)))))); break;
      case T.f32: b.writeFloatLE(Number(v)); break;
      case T.bool: b.writeUInt8(v ? 1 : 0); break;
      case T.u64: b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v as number | bigint))); break;
      case T.i64: b.writeBigInt64LE(BigInt.asIntN(64, BigInt(v as number | bigint))); break;
      case T.f64: b.writeDoubleLE(Number(v)); break;
      default: throw new Error(`gguf-craft: cannot write type ${type}`);
    }
    this.push(b);
  }
}

/** The data section's alignment: general.alignment when it is a power of two, else GGUF's default 32. */
function alignmentOf(g: Gguf): number {
  const a = Number(g.kvs.find((k) => k.key === 'general.alignment')?.value ?? 32);
  return Number.isInteger(a) && a > 0 && (a & (a - 1)) === 0 ? a : 32;
}

/** Serialises a GGUF: header, metadata, tensor infos, padding to the alignment, the data. */
export function writeGguf(g: Gguf): Buffer {
  const alignment = alignmentOf(g);
  const w = new Writer();
  w.push(Buffer.from('GGUF', 'latin1'));
  w.u32(g.version);
  w.u64(g.tensors.length);
  w.u64(g.kvs.length);
  for (const kv of g.kvs) {
    w.str(kv.key);
    w.u32(kv.type);
    if (kv.type === T.arr) {
      const items = kv.value as Value[];
      w.u32(kv.itemType!);
      w.u64(items.length);
      for (const item of items) w.scalar(kv.itemType!, item);
    } else {
      w.scalar(kv.type, kv.value);
    }
  }
  for (const t of g.tensors) {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(t.offset);
  }
  const padded = Math.ceil(w.length / alignment) * alignment;
  w.push(Buffer.alloc(padded - w.length));
  w.push(g.data);
  return Buffer.concat(w.parts);
}

/** Sets (or adds) a scalar key. */
export function setKv(g: Gguf, key: string, type: Scalar, value: Value): void {
  const kv = g.kvs.find((k) => k.key === key);
  if (kv) Object.assign(kv, { type: T[type], value, itemType: undefined });
  else g.kvs.push({ key, type: T[type], value });
}

/** Sets (or adds) an array key. */
export function setArray(g: Gguf, key: string, itemType: Scalar, items: Value[]): void {
  const kv = g.kvs.find((k) => k.key === key);
  if (kv) Object.assign(kv, { type: T.arr, itemType: T[itemType], value: items });
  else g.kvs.push({ key, type: T.arr, itemType: T[itemType], value: items });
}

export function getKv(g: Gguf, key: string): Kv | undefined {
  return g.kvs.find((k) => k.key === key);
}

export function removeKv(g: Gguf, key: string): void {
  g.kvs = g.kvs.filter((k) => k.key !== key);
}

/** Parses `source`, applies `edit`, and serialises the result. */
export function craftGguf(source: Buffer, edit: (g: Gguf) => void): Buffer {
  const g = parseGguf(source);
  edit(g);
  return writeGguf(g);
}
