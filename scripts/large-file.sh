#!/usr/bin/env bash
# Large-input check: compresses and decompresses a file of several hundred MB through
# the CLI (streaming from disk), verifies the round trip and reports wall time and
# peak resident memory (/usr/bin/time -v) for each direction.
#
#   scripts/large-file.sh [SIZE_MB] [KIND] [MODEL]
#     SIZE_MB  default 300 (MiB; may be fractional, e.g. 0.25)
#     KIND     mixed (default): 1 MiB blocks of random bytes, every 16th starting with
#                32 KiB of story-like text. The default 256 KiB chunks mix that text with
#                random bytes, so they end up stored/brotli: this exercises the container,
#                streaming and I/O at scale, not the model;
#              random: random bytes only (the container and I/O path, fastest);
#              text: story-like text only, model-coded throughout: the model path at
#                scale, but slow (stories260K at ~2-10k tokens/s, ~0.5 tokens per byte,
#                and compression decodes its output again to verify): 1 MiB takes minutes
#     MODEL    default $LMZIP_SHARED_DIR/models/stories260K.gguf (else ../shared/models/…)
#
# Not part of the default test run (minutes, GBs of disk). Needs `npm run build:ts`
# first. Work files go to $LMZIP_LARGE_DIR (default /tmp/lmzip-large) and are removed
# at the end unless KEEP=1. Exit status 0 when the round trip is exact.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MB=${1:-300}
KIND=${2:-mixed}
MODEL=${3:-${LMZIP_SHARED_DIR:-$ROOT/../shared}/models/stories260K.gguf}
DIR=${LMZIP_LARGE_DIR:-/tmp/lmzip-large}
CLI="node $ROOT/dist/cli/main.js"
[ -f dist/cli/main.js ] || { echo "large-file.sh: build first (npm run build:ts)" >&2; exit 2; }
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
mkdir -p "$DIR"
IN=$DIR/input.bin
cleanup() { [ -n "${KEEP:-}" ] || rm -f "$IN" "$IN.lmz" "$DIR/back.bin" "$DIR"/*.time; }
trap cleanup EXIT

echo "large-file: generating ${SIZE_MB} MiB ($KIND) in $IN"
node - "$IN" "$SIZE_MB" "$KIND" <<'JS'
const fs = require('node:fs');
const crypto = require('node:crypto');
const [path, sizeMb, kind] = process.argv.slice(2);
// Story-like text from a small grammar: varied enough that the model beats brotli on it
// (a handful of fixed sentences would be brotli's).
const W = {
  n: ['Lily', 'Tom', 'Max', 'Sue', 'Ben', 'Mia', 'Sam', 'Anna', 'Tim', 'Lucy', 'Jack', 'Emma', 'Bob', 'Zoe', 'Leo', 'Kate'],
  a: ['dog', 'cat', 'bird', 'bunny', 'frog', 'fish', 'bear', 'duck', 'horse', 'mouse', 'puppy', 'kitten'],
  t: ['ball', 'box', 'kite', 'toy', 'hat', 'cake', 'book', 'flower', 'rock', 'car', 'doll', 'apple', 'stick', 'shell'],
  j: ['big', 'little', 'red', 'happy', 'shiny', 'soft', 'old', 'new', 'funny', 'pretty', 'blue', 'small', 'sad', 'brave'],
  p: ['the park', 'the garden', 'the forest', 'the house', 'the lake', 'the school', 'the beach', 'the hill'],
  v: ['found', 'saw', 'wanted', 'liked', 'lost', 'made', 'took', 'gave', 'had', 'shared'],
};
const MiB = 1 << 20;
function text(n, seed) {
  let x = seed >>> 0;
  const r = (k) => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return W[k][(x >>> 8) % W[k].length]; };
  const forms = [
    () => `Once upon a time, there was a ${r('j')} ${r('a')} named ${r('n')}.`,
    () => `One day, ${r('n')} ${r('v')} a ${r('t')} in ${r('p')}.`,
    () => `${r('n')} was very ${r('j')} because the ${r('t')} was so nice.`,
    () => `"Can I play with your ${r('t')}?" asked ${r('n')}. ${r('n')} said, "Yes, let's play together!"`,
    () => `${r('n')} and the ${r('a')} went to ${r('p')} and played all day.`,
    () => `In ${r('p')}, a ${r('j')} ${r('a')} sat under a tree and looked at the sky.`,
  ];
  let s = '';
  while (s.length < n) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; s += forms[(x >>> 8) % forms.length]() + ((x >>> 4) % 7 ? ' ' : '\n\n'); }
  return Buffer.from(s.slice(0, n));
}
const fd = fs.openSync(path, 'w');
const total = Math.round(Number(sizeMb) * MiB); // SIZE_MB may be fractional (0.25 = 256 KiB)
for (let i = 0, left = total; left > 0; i++, left -= MiB) {
  const n = Math.min(MiB, left);
  if (kind === 'text') fs.writeSync(fd, text(n, i + 1));
  else if (kind === 'mixed' && i % 16 === 0) fs.writeSync(fd, Buffer.concat([text(Math.min(n, 32 << 10), i + 1), crypto.randomBytes(Math.max(0, n - (32 << 10)))]));
  else fs.writeSync(fd, crypto.randomBytes(n));
}
fs.closeSync(fd);
JS
ls -l "$IN"

measure() { # label, command...
  local label=$1; shift
  local t0=$SECONDS
  /usr/bin/time -v -o "$DIR/$label.time" "$@"
  local rss
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DIR/$label.time")
  printf 'large-file: %-10s %5ss  peak RSS %s MiB\n' "$label" $((SECONDS - t0)) $((rss / 1024))
}
measure compress $CLI -m "$MODEL" -k -f -o "$IN.lmz" "$IN"
measure decompress $CLI -d -m "$MODEL" -k -f -o "$DIR/back.bin" "$IN.lmz"
cmp "$IN" "$DIR/back.bin"
ls -l "$IN" "$IN.lmz"
echo "large-file: round trip exact; model file $(stat -c %s "$MODEL") bytes"
