/**
 * `lmzip -l FILE.lmz`: what a compressed file holds — model, sizes, ratio, bits per
 * byte, members and blocks, the mix of methods — read from its structures without
 * decoding (inspectStream walks headers, block tables and indexes only).
 */
import { inspectStream, type ContainerInfo } from '../../compress.js';
import type { FileRun } from '../file-run.js';
import { fileSystemError, printable } from '../output.js';
import { InputFile } from '../safe-files.js';

export async function listFile(run: FileRun, path: string): Promise<void> {
  const input = path === '-' ? undefined : await InputFile.open(path, { followSymlinks: true, allowHardLinks: true });
  let info: ContainerInfo;
  try {
    info = await inspectStream((input ? input.readStream() : run.io.stdin) as AsyncIterable<Uint8Array>);
  } catch (e) {
    throw fileSystemError(e, path, 'cannot read');
  } finally {
    await input?.close();
  }
  const n = info.originalSize;
  const compressed = info.compressedSize;
  const pct = (k: keyof typeof info.bytesByMethod) => (n ? ((100 * info.bytesByMethod[k]) / n).toFixed(1) : '0.0');
  // A member that needs a model says which; model-free members (empty input, all brotli) name none.
  const h = info.members.find((m) => !m.header.modelFree)?.header ?? info.header;
  const model = h.version === 2 ? { name: h.modelName, sha: `${h.modelHash} (first 8 bytes)` } : { name: h.modelReference, sha: h.modelSha256 };
  const layout = info.members.map((m) => `v${m.version}: ${m.blocks} block(s)${m.indexed ? ', indexed' : ''}`);
  run.io.stdout.write(
    `${printable(path)}\n` +
    `  compressed      ${compressed} bytes\n` +
    `  uncompressed    ${n} bytes\n` +
    `  ratio           ${compressed ? (n / compressed).toFixed(3) : '0'} (${n ? ((compressed * 8) / n).toFixed(3) : '0'} bits per byte)\n` +
    `  model           ${h.modelFree ? '(none needed)' : printable(model.name || '(unnamed)')}\n` +
    (h.modelFree ? '' : `  model sha256    ${model.sha}\n  profile         ${printable(h.profile)}\n`) +
    `  lanes/ctx       ${h.lanes} lanes, window ${h.window}, overlap ${h.overlap}${'shiftContext' in h && h.shiftContext ? (h.compactShift ? ' (shifted)' : ' (shifted in place)') : ''}\n` +
    `  members         ${info.members.length} (${[...new Set(layout)].join('; ')})\n` +
    `  blocks          ${info.blocks}${info.tokens ? `, ${info.tokens} tokens` : ''}\n` +
    `  methods         model ${pct('model')}% (${info.chunks.model} chunks), brotli ${pct('brotli')}% (${info.chunks.brotli}), stored ${pct('stored')}% (${info.chunks.stored})\n`);
  if (run.options.verbose) run.io.stdout.write(memberLines(info));
}

/** -l -v: one line per member — where it lies, what it holds, whether random access finds it from the end. */
function memberLines(info: ContainerInfo): string {
  let offset = 0;
  let original = 0;
  return info.members.map((m, i) => {
    const h = m.header;
    const blockSize = h.version === 2 ? `, blocks of ${h.blockSize} bytes` : '';
    const line = `  member ${i + 1}        at byte ${offset}, ${m.compressedSize} bytes: original bytes ${original} to ${original + m.originalSize}, ` +
      `v${m.version}, ${m.blocks} block(s)${blockSize}, ${m.indexed ? 'indexed' : 'no index'}\n`;
    offset += m.compressedSize;
    original += m.originalSize;
    return line;
  }).join('');
}
