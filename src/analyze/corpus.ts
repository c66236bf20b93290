/**
 * Corpus mode (`lmzip analyze --jsonl`): one summary per document — bytes, tokens,
 * bits per byte, mean entropy, the share of surprising tokens — for data-curation
 * pipelines. Small documents share lane schedules (each is still cut into chunks
 * exactly as compressing it alone would cut it), large ones stream frame by frame,
 * so memory stays bounded whatever the corpus size.
 */
import { MAX_CHUNKS_PER_FRAME } from '../format/constants.js';
import type { Analyzer } from './records.js';
import { DEFAULT_THRESHOLD_BITS, DocumentTotals, type DocumentSummary } from './summary.js';
import { chunkBlock } from '../codec.js';

/** One document: its bytes, or a way to stream them when it is large. */
export interface CorpusDocument {
  file: string;
  /** 1-based line of a JSONL corpus. */
  line?: number;
  /** The record's `id` field, when it has one. */
  id?: unknown;
  data?: Uint8Array;
  /** For a large document: its size and its bytes as a stream (read once). */
  size?: number;
  stream?: () => AsyncIterable<Uint8Array>;
}

/** Documents are batched until a schedule holds this many bytes (or 8 chunks per lane). */
export const BATCH_BYTES = 256 * 1024;

interface Pending {
  doc: CorpusDocument;
  data: Uint8Array;
  lengths: number[];
}

/**
 * Summarizes documents in order, one result per document.
 * @example
 * for await (const s of analyzeDocuments(docs, analyzer)) console.log(JSON.stringify(s));
 */
export async function* analyzeDocuments(docs: AsyncIterable<CorpusDocument> | Iterable<CorpusDocument>, analyzer: Analyzer,
  options: { thresholdBits?: number } = {}): AsyncGenerator<DocumentSummary> {
  const threshold = options.thresholdBits ?? DEFAULT_THRESHOLD_BITS;
  const where = (d: CorpusDocument) => ({ file: d.file, ...(d.line !== undefined ? { line: d.line } : {}), ...(d.id !== undefined ? { id: d.id } : {}) });
  let batch: Pending[] = [];
  let batchBytes = 0;
  let batchChunks = 0;

  async function* flush(): AsyncGenerator<DocumentSummary> {
    if (batch.length === 0) return;
    const data = Buffer.concat(batch.map((p) => p.data));
    const frame = await analyzer.analyzeChunks(data, batch.flatMap((p) => p.lengths));
    let chunk = 0;
    let token = 0;
    for (const p of batch) {
      const totals = new DocumentTotals(threshold);
      totals.bytes = p.data.length;
      const first = token;
      for (let k = 0; k < p.lengths.length; k++, chunk++) {
        const c = frame.chunks[chunk];
        token += c.tokens;
        if (!c.modelCoded) continue;
        totals.modelBytes += c.bytes;
        totals.bits += c.bits;
      }
      totals.addTokens(frame.tokens, first, token);
      yield totals.summary(where(p.doc));
    }
    batch = [];
    batchBytes = 0;
    batchChunks = 0;
  }

  for await (const doc of docs) {
    const size = doc.data?.length ?? doc.size ?? 0;
    if (doc.data && size + batchBytes <= BATCH_BYTES) {
      const lengths = await chunkBlock(analyzer.model, doc.data, analyzer.settings.lanes, analyzer.chunkSizeFor(size));
      if (batchChunks + lengths.length > MAX_CHUNKS_PER_FRAME) yield* flush();
      batch.push({ doc, data: doc.data, lengths });
      batchBytes += size;
      batchChunks += lengths.length;
      if (batchBytes >= BATCH_BYTES || batchChunks >= 8 * analyzer.settings.lanes) yield* flush();
      continue;
    }
    yield* flush();
    // A large document: frame by frame, as compression would stream it.
    const totals = new DocumentTotals(threshold);
    for await (const frame of analyzer.frames(doc.data ?? doc.stream!())) {
      totals.addTotals(frame.totals);
      totals.addTokens(frame.tokens);
    }
    yield totals.summary(where(doc));
  }
  yield* flush();
}
