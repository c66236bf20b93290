// What the lane schedule costs on a full block, old chunker and overlap against new:
// exact step and prefill counts (the engine's schedule, native/engine.h, replayed on
// the chunks' real token counts), and a time estimate from measured step costs.
//
// Run: npx tsx bench/schedule.ts [MODEL.gguf] [--step-ms 1:10,16:68] [--prefill-tps 480]
// (default model: the SmolLM2-135M-shape test model, scripts/make-test-model.mjs).
// Step costs default to llama-batched-bench's S_TG on the 2-core machine of
// docs/benchmark.md (1 lane ~100 tok/s, 16 lanes ~236 tok/s; linear in between) and
// its S_PP (~480 tok/s) for restart prefills.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Model } from '../src/index.js';
import { chunkLengths } from '../src/chunker.js';
import { chunkBlock } from '../src/codec.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1]! : fallback;
};
const [ms1, ms16] = opt('--step-ms', '1:10,16:68').split(',').map((p) => Number(p.split(':')[1]));
const prefillTps = Number(opt('--prefill-tps', '480'));
const modelPath = args[0] ?? join(homedir(), '.cache/lmzip/test-models/smollm2-135m-q8_0-seed1.gguf');
const corpus = join(import.meta.dirname, '../../shared/corpus');

/** Milliseconds of one step with `lanes` one-token lanes plus `prefill` restart tokens. */
const stepMs = (lanes: number, prefill: number) => (lanes ? ms1! + ((ms16! - ms1!) * (lanes - 1)) / 15 : 0) + (prefill * 1000) / prefillTps;

interface Replay { steps: number; laneSteps: number; prefill: number; ms: number }

/** The engine's schedule (native/engine.cpp, Session::run) over chunks of these token counts. */
function replay(tokens: number[], lanes: number, window: number, overlap: number): Replay {
  type Lane = { chunk: number; coded: number; positions: number; restart: boolean };
  let next = 0;
  const take = (): Lane => ({ chunk: next < tokens.length ? next++ : -1, coded: 0, positions: 0, restart: true });
  const state = Array.from({ length: lanes }, take);
  const r: Replay = { steps: 0, laneSteps: 0, prefill: 0, ms: 0 };
  for (;;) {
    let active = 0;
    let prefill = 0;
    for (const lane of state) {
      if (lane.chunk < 0) continue;
      active++;
      if (lane.restart || lane.positions >= window) {
        const carried = Math.min(lane.coded, overlap);
        prefill += carried; // the start token is the lane's one token of this step
        lane.positions = 1 + carried;
        lane.restart = false;
      } else lane.positions++;
    }
    if (!active) break;
    r.steps++;
    r.laneSteps += active;
    r.prefill += prefill;
    r.ms += stepMs(active, prefill);
    for (let l = 0; l < lanes; l++) {
      const lane = state[l]!;
      if (lane.chunk >= 0 && ++lane.coded === tokens[lane.chunk]) state[l] = take();
    }
  }
  return r;
}

const model = await Model.load(modelPath, { threads: 1 });
const oldChunks = (block: Uint8Array, target: number) => {
  // The chunker before this change: each chunk ends at the last newline (else space)
  // in the second half of `target` bytes.
  const out: number[] = [];
  for (let start = 0; start < block.length; ) {
    let end = Math.min(start + target, block.length);
    if (end < block.length) {
      const floor = start + Math.floor(target / 2);
      let cut = -1;
      for (const byte of [0x0a, 0x20]) {
        for (let i = end - 1; i >= floor && cut < 0; i--) if (block[i] === byte) cut = i + 1;
        if (cut >= 0) break;
      }
      if (cut >= 0) end = cut;
    }
    out.push(end - start);
    start = end;
  }
  return out;
};

console.log(`| input (first 256 KiB) | chunker | overlap | chunks | steps | lane fill | prefill tokens / coded | est. s | est. share of ideal |`);
console.log(`| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
for (const name of ['tinystories-valid-part1.txt', 'enwik8_small', 'bible.txt', 'lcet10.txt']) {
  let block: Buffer;
  try {
    block = readFileSync(join(corpus, name)).subarray(0, 262144);
  } catch {
    continue;
  }
  if (block.length < 262144) continue;
  const variants = [['old', oldChunks(block, 16384)], ['equal bytes', chunkLengths(block, 16384)], ['equal tokens', await chunkBlock(model, block, 16, undefined)]] as const;
  for (const [label, lengths] of variants) {
    const counts: number[] = [];
    let offset = 0;
    for (const len of lengths) {
      const plan = await model.planTokens(block.subarray(offset, offset + len));
      offset += len;
      counts.push(plan.tokens.length);
    }
    const coded = counts.reduce((a, b) => a + b, 0);
    const ideal = (coded / 16) * stepMs(16, 0);
    for (const overlap of label === 'old' ? [512] : label === 'equal tokens' ? [512, 256] : [256]) {
      const r = replay(counts, 16, 1024, overlap);
      console.log(`| ${name} | ${label} | ${overlap} | ${lengths.length} | ${r.steps} | ${((r.laneSteps / (r.steps * 16)) * 100).toFixed(1)} % | ` +
        `${(r.prefill / coded).toFixed(2)} | ${(r.ms / 1000).toFixed(0)} | ${((ideal / r.ms) * 100).toFixed(0)} % |`);
    }
  }
}
model.dispose();
