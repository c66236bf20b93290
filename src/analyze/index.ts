/**
 * lmzip analyze as a library: per-token records from the compression loop, the
 * classical baselines, the summary and the HTML report.
 * @example
 * import { analyze } from 'lmzip';
 * const a = await analyze(text, { model });
 * console.log(a.totals.bits / a.totals.bytes, 'bits/byte');
 */
export {
  analyze, analyzeStream, Analyzer, TokenTable, Vocabulary, DEFAULT_TOP_K,
  type Analysis, type AnalysisTotals, type AnalyzeOptions, type Candidate, type ChunkAnalysis, type FrameAnalysis, type TokenRecord,
} from './records.js';
export { analyzeDocuments, type CorpusDocument } from './corpus.js';
export { classicalBaselines, huffmanBits, huffmanCodeLengths, order0Bits, type BaselineId, type BaselineResult } from './baselines.js';
export { buildReport, concentration, costSegments, formatReport, type AnalysisReport, type DocumentSummary, type Segment } from './summary.js';
export { renderHtmlReport } from './report.js';
