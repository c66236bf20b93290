#!/usr/bin/env bash
# Whole-file sizes through the real CLI: lmzip with the model alone (--no-mix, coding
# method 1) and mixed (coding method 2, the default), beside xz -9e, brotli -q 11 and
# zstd -19, plus lmzip's CPU seconds (user + sys of the process) to compress and to
# decompress. Every lmzip file is decompressed and compared. Prints a Markdown table
# (docs/MIXING.md, "Results").
#
#   npm run build && LMZIP_SHARED_DIR=/work/shared scripts/mix-table.sh [lanes]
#
# Inputs: the corpus files of docs/MIXING.md (first 100 KiB or 64 KiB, fields.c whole),
# model stories260K, default settings otherwise (16 lanes).
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${LMZIP_SHARED_DIR:-../shared}"
corpus="$shared/corpus"
model="$shared/models/stories260K.gguf"
lanes="${1:-16}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

inputs=(
  "tinystories-valid-part1.txt 102400"
  "alice29.txt 65536"
  "enwik5 65536"
  "Linux_2k.log 65536"
  "fields.c.txt 0"
  "zstd-regression-results.csv 65536"
)

# cpu_seconds OUT CMD...: runs CMD with stdout to OUT, prints its user+sys CPU seconds.
cpu_seconds() {
  local out="$1"
  shift
  /usr/bin/time -f '%U %S' -o "$work/time" "$@" >"$out"
  awk '{ printf "%.2f", $1 + $2 }' "$work/time"
}
bpb() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.3f", s * 8 / n }'; }

echo "| input | bytes | lmzip --no-mix | lmzip (mixed) | saved | xz -9e | brotli -q 11 | zstd -19 | CPU s compress, no-mix / mixed | CPU s decompress, no-mix / mixed |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for entry in "${inputs[@]}"; do
  read -r name bytes <<<"$entry"
  in="$work/$name"
  if [ "$bytes" = 0 ]; then cp "$corpus/$name" "$in"; else head -c "$bytes" "$corpus/$name" >"$in"; fi
  n=$(stat -c %s "$in")
  declare -A size cc cd
  for mode in nomix mix; do
    flag=()
    [ "$mode" = nomix ] && flag=(--no-mix)
    cc[$mode]=$(cpu_seconds "$work/$mode.lmz" node dist/cli/main.js -c -m "$model" --lanes "$lanes" "${flag[@]}" "$in")
    size[$mode]=$(stat -c %s "$work/$mode.lmz")
    cd[$mode]=$(cpu_seconds "$work/$mode.out" node dist/cli/main.js -d -c -m "$model" "$work/$mode.lmz")
    cmp -s "$work/$mode.out" "$in" || { echo "$name ($mode): round trip FAILED" >&2; exit 1; }
  done
  xz_size=$(xz -9e -c "$in" | wc -c)
  br_size=$(brotli -q 11 -c "$in" | wc -c)
  zs_size=$(zstd -19 -q -c "$in" | wc -c)
  saved=$(awk -v a="${size[nomix]}" -v b="${size[mix]}" 'BEGIN { printf "%.1f %%", 100 * (1 - b / a) }')
  echo "| $name | $n | ${size[nomix]} ($(bpb "${size[nomix]}" "$n")) | **${size[mix]} ($(bpb "${size[mix]}" "$n"))** | $saved |" \
    "$xz_size ($(bpb "$xz_size" "$n")) | $br_size ($(bpb "$br_size" "$n")) | $zs_size ($(bpb "$zs_size" "$n")) |" \
    "${cc[nomix]} / ${cc[mix]} | ${cd[nomix]} / ${cd[mix]} |"
done
