#!/usr/bin/env node
// Measures lmzip's thread settings on busy cores (docs/RELIABILITY.md, "Threads under load").
//
//   node scripts/threads-under-load.mjs [--busy 2] [--threads 1,2,3,auto] [--bytes 3000] [--timeout 300] [--model PATH]
//
// Starts --busy processes that spin forever (the load), then compresses --bytes of story
// text with `lmzip -T N` for each N (`auto`: no -T), and prints wall time and CPU time
// (user + sys) per run. Load and lmzip run at the same niceness (10), so they compete
// with each other evenly and leave other work on the machine ahead of both. The
// spinners are stopped at the end, whatever happens.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.LMZIP_SHARED_DIR ?? resolve(root, '../shared');
const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
const busy = Number(args.busy ?? 2);
const threads = String(args.threads ?? '1,2,3,auto').split(',');
const bytes = Number(args.bytes ?? 3000);
const timeout = Number(args.timeout ?? 300);
const model = args.model ?? join(shared, 'models/stories260K.gguf');
const NICE = '10';

const dir = mkdtempSync(join(tmpdir(), 'lmzip-threads-'));
const input = join(dir, 'story.txt');
writeFileSync(input, readFileSync(join(shared, 'corpus/tinystories-valid-part1.txt')).subarray(0, bytes));

const spinners = Array.from({ length: busy }, () =>
  spawn('nice', ['-n', NICE, process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' }));
let stopped = false;
const stop = () => {
  if (stopped) return;
  stopped = true;
  for (const s of spinners) s.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', stop);
process.on('SIGINT', () => process.exit(130));

function run(t) {
  const cli = [join(root, 'dist/cli/main.js'), '-c', '-q', '-m', model, ...(t === 'auto' ? [] : ['-T', t]), input];
  const timeArgs = ['-f', '%e %U %S', 'nice', '-n', NICE, 'timeout', String(timeout), process.execPath, ...cli];
  return new Promise((done) => {
    const child = spawn('/usr/bin/time', timeArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const [wall, user, sys] = err.trim().split('\n').pop().split(' ').map(Number);
      done({ t, code, wall, cpu: user + sys, note: code === 124 ? `timed out after ${timeout} s` : code ? err.trim().split('\n')[0] : '' });
    });
  });
}

console.log(`${busy} busy processes, ${bytes} bytes, ${model.split('/').pop()}, load average before: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
console.log('threads  wall s  cpu s  note');
for (const t of threads) {
  const r = await run(t);
  console.log(`${t.padEnd(7)}  ${r.wall.toFixed(2).padStart(6)}  ${r.cpu.toFixed(2).padStart(5)}  ${r.note}`);
}
stop();
process.exit(0);
