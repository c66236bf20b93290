/**
 * `lmzip -l FILE.lmz`: what a compressed file holds — model, sizes, ratio, bits per
 * byte, the mix of methods — read from its structures without decoding.
 */
import { LmzReader } from '../../format/reader.js';
import type { FileHeader } from '../../format/types.js';
import type { FileRun } from '../file-run.js';
import { fileSystemError, printable } from '../output.js';
import { InputFile } from '../safe-files.js';

export async function listFile(run: FileRun, path: string): Promise<void> {
  const reader = new LmzReader();
  let header: FileHeader | undefined;
  const chunks = { model: 0, brotli: 0, stored: 0 };
  const bytes = { model: 0, brotli: 0, stored: 0 };
  let tokens = 0, frames = 0, compressed = 0, original = 0n;
  const input = path === '-' ? undefined : await InputFile.open(path, { followSymlinks: true, allowHardLinks: true });
  try {
    for await (const chunk of input ? input.readStream() : run.io.stdin) {
      compressed += (chunk as Buffer).length;
      for (const e of reader.push(chunk as Buffer)) {
        if (e.type === 'header') header = e.header;
        else if (e.type === 'frame') {
          frames++;
          for (const c of e.frame.chunks) {
            const key = c.method === 1 ? 'model' : c.method === 2 ? 'brotli' : 'stored';
            chunks[key]++;
            bytes[key] += c.originalSize;
            tokens += c.tokenCount;
          }
        } else original = e.end.totalSize;
      }
    }
    reader.finish();
  } catch (e) {
    throw fileSystemError(e, path, 'cannot read');
  } finally {
    await input?.close();
  }
  const h = header!;
  const n = Number(original);
  const pct = (k: keyof typeof bytes) => (n ? ((100 * bytes[k]) / n).toFixed(1) : '0.0');
  run.io.stdout.write(
    `${printable(path)}\n` +
    `  compressed      ${compressed} bytes\n` +
    `  uncompressed    ${n} bytes\n` +
    `  ratio           ${compressed ? (n / compressed).toFixed(3) : '0'} (${n ? ((compressed * 8) / n).toFixed(3) : '0'} bits per byte)\n` +
    `  model           ${printable(h.modelReference || '(unnamed)')}\n` +
    `  model sha256    ${h.modelSha256}\n` +
    `  profile         ${printable(h.profile)}\n` +
    `  lanes/ctx       ${h.lanes} lanes, window ${h.window}, overlap ${h.overlap}\n` +
    `  frames          ${frames}, ${tokens} tokens\n` +
    `  methods         model ${pct('model')}% (${chunks.model} chunks), brotli ${pct('brotli')}% (${chunks.brotli}), stored ${pct('stored')}% (${chunks.stored})\n`);
}
