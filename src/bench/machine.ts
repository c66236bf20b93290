/** What the results were measured on: printed with every table. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { runQuiet } from './proc.js';
import { GNU_TIME } from './proc.js';
import type { MachineInfo } from './types.js';

function readJson(rel: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export async function describeMachine(): Promise<MachineInfo> {
  const lscpu = (await runQuiet('lscpu', [])) ?? '';
  const cpuModel =
    /^Model name:\s*(.+)$/m.exec(lscpu)?.[1]?.trim() ?? os.cpus()[0]?.model?.trim() ?? 'unknown';
  let osName = `${os.type()} ${os.release()}`;
  try {
    const rel = readFileSync('/etc/os-release', 'utf8');
    osName = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(rel)?.[1] ?? osName;
  } catch {
    /* not Linux */
  }
  // src/bench and dist/bench are both two levels below the package root.
  const pkg = readJson('../../package.json');
  const llama = readJson('../../scripts/llama-cpp.json');
  return {
    cpuModel,
    logicalCores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: osName,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    llamaCpp: llama ? `${String(llama.tag)} (${String(llama.commit).slice(0, 10)})` : 'unknown',
    lmzip: pkg ? String(pkg.version) : 'unknown',
    gnuTime: GNU_TIME !== null,
    loadAverageStart: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

export function machineLine(m: MachineInfo): string {
  return (
    `${m.cpuModel}, ${m.logicalCores} logical cores, ${m.memoryGiB} GiB RAM, ${m.os} (${m.kernel}); ` +
    `Node ${m.node}; llama.cpp ${m.llamaCpp}; lmzip ${m.lmzip}` +
    (m.loadAverageStart !== undefined
      ? `; load average ${m.loadAverageStart}${m.loadAverageEnd !== undefined ? ` at the start, ${m.loadAverageEnd} at the end` : ''}`
      : '')
  );
}
