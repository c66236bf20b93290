// A minimal GGUF (v3) reader and writer in plain Node, for scripts/make-test-model.mjs:
// read the metadata of a vocab-only GGUF, write a model file with metadata and tensors.
// Specification: vendor/llama.cpp/ggml/include/gguf.h and docs of the ggml project.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const ALIGNMENT = 32;

/** GGUF value types. */
export const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 };

/** ggml tensor types used here, with their block size and bytes per block. */
export const GGML = {
  F32: { id: 0, block: 1, bytes: 4 },
  F16: { id: 1, block: 1, bytes: 2 },
  Q8_0: { id: 8, block: 32, bytes: 34 },
};

/**
 * Reads a GGUF file's metadata (not its tensor data). Values keep their GGUF type so that
 * they can be written back unchanged: { type, value } or, for arrays, { type: ARRAY, elemType, value: [...] }.
 * @example const { kv } = readGgufMetadata('vendor/llama.cpp/models/ggml-vocab-starcoder.gguf');
 */
export function readGgufMetadata(path) {
  const fd = openSync(path, 'r');
  let buf = Buffer.alloc(0);
  let filePos = 0;
  let pos = 0;
  // Reads lazily in 1 MiB pieces: vocab files are a few MB, all of it metadata.
  const need = (n) => {
    while (pos + n > buf.length) {
      const more = Buffer.alloc(Math.max(1 << 20, n));
      const got = readSync(fd, more, 0, more.length, filePos);
      if (got === 0) throw new Error(`${path}: truncated GGUF`);
      filePos += got;
      buf = Buffer.concat([buf.subarray(pos), more.subarray(0, got)]);
      pos = 0;
    }
  };
  const u32 = () => (need(4), (pos += 4), buf.readUInt32LE(pos - 4));
  const u64 = () => (need(8), (pos += 8), buf.readBigUInt64LE(pos - 8));
  const str = () => {
    const n = Number(u64());
    need(n);
    pos += n;
    return buf.toString('utf8', pos - n, pos);
  };
  const scalar = (type) => {
    switch (type) {
      case T.U8: return (need(1), (pos += 1), buf.readUInt8(pos - 1));
      case T.I8: return (need(1), (pos += 1), buf.readInt8(pos - 1));
      case T.U16: return (need(2), (pos += 2), buf.readUInt16LE(pos - 2));
      case T.I16: return (need(2), (pos += 2), buf.readInt16LE(pos - 2));
      case T.U32: return u32();
      case T.I32: return (need(4), (pos += 4), buf.readInt32LE(pos - 4));
      case T.F32: return (need(4), (pos += 4), buf.readFloatLE(pos - 4));
      case T.BOOL: return (need(1), (pos += 1), buf.readUInt8(pos - 1) !== 0);
      case T.STRING: return str();
      case T.U64: return u64();
      case T.I64: return (need(8), (pos += 8), buf.readBigInt64LE(pos - 8));
      case T.F64: return (need(8), (pos += 8), buf.readDoubleLE(pos - 8));
      default: throw new Error(`${path}: unknown GGUF value type ${type}`);
    }
  };
  try {
    if (u32() !== GGUF_MAGIC) throw new Error(`${path}: not a GGUF file`);
    const version = u32();
    if (version < 2) throw new Error(`${path}: GGUF version ${version} is not supported`);
    const tensorCount = Number(u64());
    const kvCount = Number(u64());
    const kv = new Map();
    for (let i = 0; i < kvCount; i++) {
      const key = str();
      const type = u32();
      if (type === T.ARRAY) {
        const elemType = u32();
        const n = Number(u64());
        const value = new Array(n);
        for (let j = 0; j < n; j++) value[j] = scalar(elemType);
        kv.set(key, { type, elemType, value });
      } else kv.set(key, { type, value: scalar(type) });
    }
    return { version, tensorCount, kv };
  } finally {
    closeSync(fd);
  }
}

class Out {
  constructor(fd) {
    this.fd = fd;
    this.chunks = [];
    this.size = 0;
    this.written = 0;
  }
  push(b) {
    this.chunks.push(b);
    this.size += b.length;
    if (this.size >= 1 << 22) this.flush();
  }
  flush() {
    writeSync(this.fd, Buffer.concat(this.chunks, this.size));
    this.written += this.size;
    this.chunks = [];
    this.size = 0;
  }
  get position() {
    return this.written + this.size;
  }
  num(type, v) {
    const sizes = { [T.U8]: 1, [T.I8]: 1, [T.U16]: 2, [T.I16]: 2, [T.U32]: 4, [T.I32]: 4, [T.F32]: 4, [T.BOOL]: 1, [T.U64]: 8, [T.I64]: 8, [T.F64]: 8 };
    const b = Buffer.alloc(sizes[type]);
    switch (type) {
      case T.U8: b.writeUInt8(v); break;
      case T.I8: b.writeInt8(v); break;
      case T.U16: b.writeUInt16LE(v); break;
      case T.I16: b.writeInt16LE(v); break;
      case T.U32: b.writeUInt32LE(v); break;
      case T.I32: b.writeInt32LE(v); break;
      case T.F32: b.writeFloatLE(v); break;
      case T.BOOL: b.writeUInt8(v ? 1 : 0); break;
      case T.U64: b.writeBigUInt64LE(BigInt(v)); break;
      case T.I64: b.writeBigInt64LE(BigInt(v)); break;
      case T.F64: b.writeDoubleLE(v); break;
    }
    this.push(b);
  }
  str(s) {
    const bytes = Buffer.from(s, 'utf8');
    this.num(T.U64, bytes.length);
    this.push(bytes);
  }
  pad() {
    const n = (ALIGNMENT - (this.position % ALIGNMENT)) % ALIGNMENT;
    if (n) this.push(Buffer.alloc(n));
  }
}

/**
 * Writes a GGUF v3 file. `kv` maps keys to { type, value } (arrays: { type: T.ARRAY, elemType, value }).
 * `tensors` is a list of { name, dims (ne0 first), ggml (a GGML entry), write(push) } where
 * write(push) calls push(Buffer) with exactly the tensor's bytes, in order.
 * @example writeGguf('m.gguf', new Map([['general.architecture', { type: T.STRING, value: 'llama' }]]), [])
 */
export function writeGguf(path, kv, tensors) {
  const fd = openSync(path, 'w');
  try {
    const out = new Out(fd);
    out.num(T.U32, GGUF_MAGIC);
    out.num(T.U32, 3);
    out.num(T.U64, tensors.length);
    out.num(T.U64, kv.size);
    for (const [key, v] of kv) {
      out.str(key);
      out.num(T.U32, v.type);
      if (v.type === T.ARRAY) {
        out.num(T.U32, v.elemType);
        out.num(T.U64, v.value.length);
        for (const x of v.value) v.elemType === T.STRING ? out.str(x) : out.num(v.elemType, x);
      } else if (v.type === T.STRING) out.str(v.value);
      else out.num(v.type, v.value);
    }
    let offset = 0;
    const sizes = tensors.map((t) => {
      const n = t.dims.reduce((a, b) => a * b, 1);
      if (t.dims[0] % t.ggml.block) throw new Error(`${t.name}: row length ${t.dims[0]} is not a multiple of ${t.ggml.block}`);
      return (n / t.ggml.block) * t.ggml.bytes;
    });
    tensors.forEach((t, i) => {
      out.str(t.name);
      out.num(T.U32, t.dims.length);
      for (const d of t.dims) out.num(T.U64, d);
      out.num(T.U32, t.ggml.id);
      out.num(T.U64, offset);
      offset += Math.ceil(sizes[i] / ALIGNMENT) * ALIGNMENT;
    });
    out.pad();
    tensors.forEach((t, i) => {
      const start = out.position;
      t.write((b) => out.push(b));
      if (out.position - start !== sizes[i]) throw new Error(`${t.name}: wrote ${out.position - start} bytes, expected ${sizes[i]}`);
      out.pad();
    });
    out.flush();
    return out.written;
  } finally {
    closeSync(fd);
  }
}
