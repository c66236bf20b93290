/** The shapes of a benchmark run's options and of the report it writes (bench/results/*.json). */

export interface BenchOptions {
  /** Files to measure, absolute or relative to the working directory. */
  files: string[];
  /** Measure at most this many bytes of each file (its first N bytes); 0 = the whole file. */
  maxBytes: number;
  /** GGUF model paths; lmzip is measured once per model. Empty = baselines only. */
  models: string[];
  /** Method ids to run (see BASELINES and 'lmzip'); empty = all. */
  methods: string[];
  /** Repetitions per measurement; times and memory are the median. */
  runs: number;
  /** lmzip options for the main table; undefined = the library's default. */
  lanes?: number;
  window?: number;
  threads?: number;
  /** Model.load's backend for every lmzip run (auto, cpu, cuda); undefined = the library's default. */
  backend?: string;
  /** Shapes of scripts/make-test-model.mjs to generate (cached) and measure like --model files. */
  testShapes: string[];
  /**
   * llama-batched-bench beside the lanes sweep: 'auto' finds or builds it, 'none' skips it,
   * anything else is the binary's path.
   */
  reference: string;
  /** The lanes × threads sweep; empty `lanes` = no sweep. */
  sweep: {
    lanes: number[];
    threads: number[];
    /** The text measured in the sweep and how many of its first bytes. */
    input: string;
    bytes: number;
    /** Repetitions per sweep point (median). */
    runs: number;
  };
  /** The size sweep: input sizes in bytes; empty = no sweep. */
  sizes: {
    bytes: number[];
    /** lmzip is measured only up to this size (it is slow on CPU). */
    lmzipMaxBytes: number;
    /** Baseline methods in the size sweep. */
    methods: string[];
    /** Text files concatenated (and cycled when too short) to make each input. */
    sources: string[];
  };
  /** Where the JSON, Markdown, SVG and PNG go. */
  outDir: string;
  /** Base name of the output files (without extension). */
  outName: string;
  /** A Markdown file whose bench:results markers receive the results (docs/benchmark.md). */
  docsFile?: string;
  /** Install missing Debian packages with apt-get before measuring. */
  install: boolean;
  png: boolean;
  /** Scratch folder for compressed and decompressed files. */
  tmpDir: string;
  /** Per-child time limit in seconds. */
  timeoutSeconds: number;
  /** Per-child time limit in the lanes sweep. */
  sweepTimeoutSeconds: number;
  /** Progress lines go here. */
  log: (line: string) => void;
  /** The command line, recorded in the report. */
  command: string[];
}

export interface MachineInfo {
  cpuModel: string;
  logicalCores: number;
  memoryGiB: number;
  os: string;
  kernel: string;
  node: string;
  llamaCpp: string;
  lmzip: string;
  gnuTime: boolean;
  /** 1-minute load average when the run started and when it ended (other work on the machine skews times). */
  loadAverageStart?: number;
  loadAverageEnd?: number;
}

export interface ToolInfo {
  /** The method id, e.g. 'xz-9e'. */
  id: string;
  /** The command shown in tables, e.g. 'xz -9e'. */
  label: string;
  program: string;
  debianPackage: string;
  installed: boolean;
  version: string | null;
}

export interface InputInfo {
  name: string;
  path: string;
  /** Bytes measured (after --max-bytes). */
  bytes: number;
  /** Size of the whole file. */
  fileBytes: number;
  sha256: string;
}

/** Medians over `runs` repetitions of one method on one input. */
export interface MethodResult {
  input: string;
  method: string;
  label: string;
  kind: 'baseline' | 'lmzip';
  /** Model file name for lmzip rows. */
  model?: string;
  status: 'ok' | 'not installed' | 'failed';
  error?: string;
  inputBytes: number;
  compressedBytes: number | null;
  bitsPerByte: number | null;
  /** inputBytes / compressedBytes. */
  ratio: number | null;
  compressSeconds: number | null;
  decompressSeconds: number | null;
  /** Input bytes per second / 1e6. */
  compressMBps: number | null;
  decompressMBps: number | null;
  compressPeakMiB: number | null;
  decompressPeakMiB: number | null;
  /** Every decompression gave back the input byte for byte. */
  roundTrip: boolean | null;
  runs: number;
  /** Every measured time, for whoever wants the spread. */
  compressSecondsAll: number[];
  decompressSecondsAll: number[];
  /** lmzip only. */
  lmzip?: LmzipDetail;
}

export interface LmzipDetail {
  lanes: number | null;
  window: number | null;
  threads: number | null;
  /** Average KV depth of the coded tokens, from the schedule the file records. */
  depth?: number | null;
  /** Where the model ran. */
  backend?: string;
  tokens: number;
  idealBits: number;
  payloadBytes: number;
  outputBytes: number;
  /** Input bytes coded with the model; the rest went to fallback chunks. */
  modelBytes: number;
  modelChunks: number;
  /** Chunks stored or handed to brotli because the model path did not fit them. */
  otherChunks: number;
  /** The library's own stats.seconds for the compression. */
  librarySeconds: number;
  /** payloadBytes*8/idealBits − 1: against the model's own code length (negative when the mixer wins). */
  coderOverhead: number | null;
  /** Bits the mixer (coding method 2) saved against the model's tables alone; 0 with --no-mix. */
  mixSavedBits?: number | null;
  /** Container bytes beyond the payload (header, chunk table, fallback chunks). */
  containerBytes: number;
  /** null when no chunk was coded with the model (tokens = 0). */
  compressTokensPerSecond: number | null;
  decompressTokensPerSecond: number | null;
  /** The model alone, same schedule, no coding. */
  rawTokensPerSecond: number | null;
  /** compressTokensPerSecond / rawTokensPerSecond. */
  rawSpeedRatio: number | null;
  /**
   * The same ratio from CPU seconds of the whole calls (compressWithStats vs measureModelSpeed,
   * both tokenizing), which other processes on the machine disturb far less than wall time.
   */
  rawCpuRatio?: number | null;
  compressCpuSeconds?: number | null;
  rawCpuSeconds?: number | null;
  /** The library's own timing of the call (excludes process start and model load). */
  compressCallSeconds: number;
  decompressCallSeconds: number | null;
  modelLoadSeconds: number;
}

export interface MethodSummary {
  method: string;
  label: string;
  kind: 'baseline' | 'lmzip';
  model?: string;
  inputs: number;
  inputBytes: number;
  compressedBytes: number;
  bitsPerByte: number;
  ratio: number;
  /** Total bytes / total median seconds. */
  compressMBps: number;
  decompressMBps: number;
  peakMiB: number;
  roundTrip: boolean;
}

export interface LaneSweepPoint {
  model: string;
  lanes: number;
  threads: number;
  /** Where the model ran (cpu, cuda). */
  backend?: string;
  /** Average KV depth of lmzip's coded tokens (see src/bench/reference.ts). */
  depth?: number | null;
  /** llama-batched-bench at the same lanes, threads and average depth. */
  reference?: { pp: number; tg: number; tokensPerSecond: number } | null;
  referenceError?: string;
  inputBytes: number;
  tokens: number;
  compressTokensPerSecond: number | null;
  decompressTokensPerSecond: number | null;
  rawTokensPerSecond: number | null;
  compressPeakMiB: number | null;
  roundTrip: boolean | null;
  error?: string;
}

export interface SizeSweepPoint {
  method: string;
  label: string;
  inputBytes: number;
  compressedBytes: number | null;
  compressSeconds: number | null;
  decompressSeconds: number | null;
  compressPeakMiB: number | null;
  decompressPeakMiB: number | null;
  roundTrip: boolean | null;
  error?: string;
}

export interface BenchReport {
  formatVersion: 1;
  startedAt: string;
  finishedAt: string;
  command: string[];
  machine: MachineInfo;
  tools: ToolInfo[];
  options: {
    maxBytes: number;
    runs: number;
    lanes: number | null;
    window: number | null;
    threads: number | null;
    models: string[];
  };
  inputs: InputInfo[];
  /** The llama-batched-bench binary used beside the lanes sweep, or why there was none. */
  reference?: { binary: string | null; why?: string; buildSeconds: number };
  results: MethodResult[];
  summary: MethodSummary[];
  scaling: {
    lanes: LaneSweepPoint[];
    sizes: SizeSweepPoint[];
  };
  goals: {
    coderOverheadMax: number;
    rawSpeedRatioMin: number;
    /** Overall coder overhead (Σ payload bits / Σ ideal bits − 1) per model. */
    coderOverhead: Record<string, number | null>;
    /** Overall raw-speed ratio per model. */
    rawSpeedRatio: Record<string, number | null>;
    /** The same from CPU seconds (Σ raw CPU s / Σ compression CPU s). */
    rawCpuRatio?: Record<string, number | null>;
    shortfalls: string[];
  };
  /** Files written, relative to the working directory. */
  outputs: string[];
}
