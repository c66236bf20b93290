/**
 * The real general-purpose compressors lmzip is compared with. Each runs as its
 * own child process on a file; nothing is emulated. A tool that is not installed
 * is reported as such, never estimated.
 */
import { copyFileSync, linkSync, mkdirSync, rmSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTimed, runQuiet, which } from './proc.js';
import type { ToolInfo } from './types.js';

export interface Baseline {
  id: string;
  label: string;
  program: string;
  debianPackage: string;
  /** File name extension the tool insists on for its output (zpaq adds ".zpaq" otherwise). */
  ext?: string;
  /** How the tool is asked for its version when dpkg cannot say. */
  versionArgs: string[];
  /**
   * Compress `input` to `output`. Tools that write standard output get it
   * redirected; archivers (zpaq) are run in `work`, a scratch folder.
   */
  compress(input: string, output: string, work: string): Invocation;
  /** Decompress `compressed` to `output`. */
  decompress(compressed: string, output: string, work: string): Invocation;
}

export interface Invocation {
  args: string[];
  stdinFile?: string;
  stdoutFile?: string;
  cwd?: string;
  /** Where the result is when the tool does not write standard output. */
  resultFile?: string;
}

function stdioTool(
  id: string,
  label: string,
  program: string,
  debianPackage: string,
  level: string[],
  decompressArgs: string[],
  versionArgs: string[] = ['--version'],
): Baseline {
  return {
    id,
    label,
    program,
    debianPackage,
    versionArgs,
    // The input is named on the command line, not piped, so that tools which size their
    // tables to the input (zstd, brotli) can see how long it is.
    compress: (input, output) => ({ args: [...level, input], stdoutFile: output }),
    decompress: (compressed, output) => ({ args: [...decompressArgs, compressed], stdoutFile: output }),
  };
}

/** In the order they appear in tables. */
export const BASELINES: readonly Baseline[] = [
  stdioTool('gzip-9', 'gzip -9', 'gzip', 'gzip', ['-9', '-c'], ['-d', '-c']),
  stdioTool('bzip2-9', 'bzip2 -9', 'bzip2', 'bzip2', ['-9', '-c'], ['-d', '-c']),
  stdioTool('xz-9e', 'xz -9e', 'xz', 'xz-utils', ['-9e', '-c'], ['-d', '-c']),
  stdioTool('zstd-19', 'zstd -19', 'zstd', 'zstd', ['-19', '-q', '-c'], ['-d', '-q', '-c']),
  stdioTool('zstd-22', 'zstd --ultra -22', 'zstd', 'zstd', ['--ultra', '-22', '-q', '-c'], ['-d', '-q', '-c']),
  stdioTool('brotli-11', 'brotli -q 11', 'brotli', 'brotli', ['-q', '11', '-c'], ['-d', '-c']),
  // ncompress: -f so that it writes even when the output is not smaller.
  stdioTool('compress', 'compress (LZW)', 'compress', 'ncompress', ['-f', '-c'], ['-d', '-f', '-c'], ['-V']),
  {
    id: 'zpaq-5',
    label: 'zpaq -m5',
    program: 'zpaq',
    debianPackage: 'zpaq',
    ext: '.zpaq',
    versionArgs: [],
    // zpaq is an archiver: the archive holds one file named "input"; its size includes the
    // archive's own index (about 100 bytes). It uses 2 threads by default here.
    compress: (_input, output, work) => ({ args: ['a', output, 'input', '-m5'], cwd: work }),
    decompress: (compressed, _output, work) => ({
      args: ['x', compressed, '-to', 'out', '-force'],
      cwd: work,
      resultFile: join(work, 'out', 'input'),
    }),
  },
];

export function baselineById(id: string): Baseline | undefined {
  return BASELINES.find((b) => b.id === id);
}

/** Which tools are installed and their versions (Debian package version when dpkg knows it). */
export async function detectTools(baselines: readonly Baseline[] = BASELINES): Promise<ToolInfo[]> {
  const out: ToolInfo[] = [];
  for (const b of baselines) {
    const path = which(b.program);
    let version: string | null = null;
    if (path) {
      const dpkg = await runQuiet('dpkg-query', ['-W', '-f', '${Version}', b.debianPackage]);
      if (dpkg && /^[0-9]/.test(dpkg.trim())) version = `${b.debianPackage} ${dpkg.trim()} (Debian)`;
      else {
        const v = await runQuiet(path, b.versionArgs);
        version = v ? v.trim().split('\n')[0]!.slice(0, 80) : null;
      }
    }
    out.push({
      id: b.id,
      label: b.label,
      program: b.program,
      debianPackage: b.debianPackage,
      installed: path !== null,
      version,
    });
  }
  return out;
}

/** The apt command that installs every missing tool (and GNU time, and rsvg-convert for PNGs). */
export function aptInstallCommand(packages: string[]): string {
  return `apt-get install -y ${[...new Set(packages)].join(' ')}`;
}

export interface BaselineRun {
  ok: boolean;
  error?: string;
  compressedBytes: number;
  compressSeconds: number;
  decompressSeconds: number;
  compressPeakKiB: number | null;
  decompressPeakKiB: number | null;
  roundTrip: boolean;
}

/**
 * Compresses `input` with `b`, decompresses the result, and checks the bytes.
 * `scratch` is a folder this call may fill and empty.
 */
export async function runBaselineOnce(
  b: Baseline,
  input: string,
  original: Buffer,
  scratch: string,
  timeoutMs?: number,
): Promise<BaselineRun> {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const compressed = join(scratch, `compressed${b.ext ?? ''}`);
  const restored = join(scratch, 'restored');
  const fail = (error: string): BaselineRun => ({
    ok: false,
    error,
    compressedBytes: 0,
    compressSeconds: 0,
    decompressSeconds: 0,
    compressPeakKiB: null,
    decompressPeakKiB: null,
    roundTrip: false,
  });
  // Archivers read their input from the scratch folder under a fixed name.
  const c = b.compress(input, compressed, scratch);
  if (c.cwd) {
    try {
      linkSync(input, join(scratch, 'input'));
    } catch {
      copyFileSync(input, join(scratch, 'input'));
    }
  }
  const cr = await runTimed(b.program, c.args, { ...c, timeoutMs });
  if (c.cwd) rmSync(join(scratch, 'input'), { force: true });
  if (cr.code !== 0) return fail(`${b.label} exited with ${cr.code ?? cr.signal}: ${cr.stderr.trim().slice(-300)}`);
  const compressedBytes = statSync(compressed).size;
  const d = b.decompress(compressed, restored, scratch);
  const dr = await runTimed(b.program, d.args, { ...d, timeoutMs });
  if (dr.code !== 0) return fail(`${b.label} -d exited with ${dr.code ?? dr.signal}: ${dr.stderr.trim().slice(-300)}`);
  const back = readFileSync(d.resultFile ?? restored);
  return {
    ok: true,
    compressedBytes,
    compressSeconds: cr.seconds,
    decompressSeconds: dr.seconds,
    compressPeakKiB: cr.peakRssKiB,
    decompressPeakKiB: dr.peakRssKiB,
    roundTrip: back.equals(original),
  };
}
