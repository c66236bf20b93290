/**
 * Resuming an interrupted compression. A killed run leaves its output with a header
 * and some complete blocks (and perhaps part of one). Because blocks are cut at
 * multiples of the block size and the settings are a function of the options and the
 * input's size, the blocks already written are exactly what a new run would write:
 * the new run checks them (header bytes equal to its own, each block's CRC against
 * the input), keeps them, and continues from the first block that is missing or
 * incomplete.
 *
 *   const point = await findResumePoint('big.txt.lmz.tmp', 'big.txt', { model });
 *   await truncate('big.txt.lmz.tmp', point.keepBytes);
 *   await pipeline(createReadStream('big.txt', { start: point.inputOffset }),
 *     createCompressStream({ model, sizeHint, resume: point }), createWriteStream('big.txt.lmz.tmp', { flags: 'a' }));
 */
import { CancelFlag } from '../codec.js';
import { createMemberWriter, validateCompressOptions, type CompressOptions } from '../compress.js';
import { blockCrc, parseBlockTable } from '../format/v2/block.js';
import type { IndexEntry } from '../format/v2/types.js';
import { ByteCursor } from '../format/varint.js';
import { openModel } from '../model-source.js';
import { invalid } from '../validate.js';
import { bufferSource, fileSource, type RandomAccessSource } from './source.js';

export interface ResumePoint {
  /** Bytes of the partial output to keep: truncate it to this length and append. 0: start afresh. */
  keepBytes: number;
  /** Where the input continues (the original bytes the kept blocks hold). */
  inputOffset: number;
  /** The kept blocks, for the member's seek index. */
  blocks: IndexEntry[];
  /** Bytes of the kept header. */
  headerSize: number;
  /** The kept blocks include the member's last: only its end is missing. */
  complete: boolean;
}

/** Input bytes read at any offset: `read` returns fewer than `length` only at the end. */
export interface InputBytes {
  readonly size: number;
  read(offset: number, length: number): Promise<Buffer>;
}

function isInputBytes(x: unknown): x is InputBytes {
  return typeof x === 'object' && x !== null && !(x instanceof Uint8Array) && typeof (x as InputBytes).size === 'number' && typeof (x as InputBytes).read === 'function';
}

const START_AFRESH: ResumePoint = { keepBytes: 0, inputOffset: 0, blocks: [], headerSize: 0, complete: false };

/**
 * How much of `partial` (an interrupted compression of `input` with the same
 * options) can be kept. Never throws for a damaged or foreign partial file: it
 * then says to start afresh.
 * @example
 * const point = await findResumePoint('big.txt.lmz.tmp', 'big.txt', { model, lanes: 16 });
 */
export async function findResumePoint(partial: string | Uint8Array, input: string | Uint8Array | InputBytes, options: CompressOptions = {}): Promise<ResumePoint> {
  if (typeof partial !== 'string' && !(partial instanceof Uint8Array)) throw invalid('partial', 'a path or a Uint8Array', partial);
  const given = isInputBytes(input);
  if (typeof input !== 'string' && !(input instanceof Uint8Array) && !given) throw invalid('input', 'a path, a Uint8Array or { size, read(offset, length) }', input);
  validateCompressOptions(options);
  const out = typeof partial === 'string' ? await fileSource(partial) : bufferSource(partial);
  // A caller's reader (e.g. one part of a larger file, src/shard.ts) is the caller's to close.
  const src: RandomAccessSource = typeof input === 'string' ? await fileSource(input)
    : input instanceof Uint8Array ? bufferSource(input) : { size: input.size, read: (o, n) => input.read(o, n), close: async () => {} };
  const opened = await openModel(options.model, { threads: options.threads, gpuLayers: options.gpuLayers, backend: options.backend, signal: options.signal });
  const cancel = new CancelFlag(options.signal);
  try {
    const writer = await createMemberWriter(opened, options, src.size, cancel);
    try {
      // A member with a kept block has more than one, so its header is the full one.
      const header = await writer.header(false);
      return await keptBlocks(out, src, header, writer.blockSize);
    } finally {
      await writer.dispose();
    }
  } finally {
    cancel.detach();
    if (opened.owned) opened.model.dispose();
    await out.close();
    await src.close();
  }
}

async function keptBlocks(out: RandomAccessSource, input: RandomAccessSource, header: Buffer, blockSize: number): Promise<ResumePoint> {
  const written = await out.read(0, header.length);
  if (!written.equals(header)) return START_AFRESH;
  const blocks: IndexEntry[] = [];
  let pos = header.length;
  let original = 0;
  let complete = false;
  while (!complete) {
    const tableBytes = await out.read(pos, 1 << 16);
    let parsed;
    try {
      parsed = parseBlockTable(new ByteCursor(tableBytes), blockSize, false, 'a kept block');
    } catch {
      break; // cut inside its table, or damaged: write it again
    }
    if (parsed.kind !== 'block') break; // the member was complete: its end is written again
    const t = parsed.table;
    const expected = Math.min(blockSize, input.size - original);
    if (t.originalSize !== expected || t.last !== (original + expected === input.size) || pos + t.encodedSize > out.size) break;
    if (blockCrc(original, [await input.read(original, expected)]) !== t.blockCrc) break;
    blocks.push({ originalSize: t.originalSize, compressedSize: t.encodedSize });
    pos += t.encodedSize;
    original += t.originalSize;
    complete = t.last;
  }
  if (blocks.length === 0) return START_AFRESH;
  return { keepBytes: pos, inputOffset: original, blocks, headerSize: header.length, complete };
}
