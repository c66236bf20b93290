#!/usr/bin/env bash
# Sizes of classical compressors on the same bytes the harness codes:
#   native/mix/tools/baselines.sh FILE OFFSET BYTES
# prints "xz=<bytes> brotli=<bytes> zpaq=<bytes>" (xz -9e, brotli -q 11, zpaq -m5).
set -euo pipefail
file=$1 offset=$2 bytes=$3
tmp=$(mktemp -d /tmp/mix-baselines.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dd if="$file" of="$tmp/in" iflag=skip_bytes,count_bytes skip="$offset" count="$bytes" status=none
xz=$(xz -9e -c "$tmp/in" | wc -c)
br=$(brotli -q 11 -c "$tmp/in" | wc -c)
(cd "$tmp" && zpaq a out.zpaq in -m5 >/dev/null 2>&1)
zp=$(wc -c <"$tmp/out.zpaq")
echo "bytes=$(wc -c <"$tmp/in") xz=$xz brotli=$br zpaq=$zp"
