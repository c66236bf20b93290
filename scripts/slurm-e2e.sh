#!/usr/bin/env bash
# Shards on a real Slurm: a one-node cluster on this machine (loopback only) runs an
# sbatch job array of 4 tasks; each compresses its shard of a corpus file with
# `lmzip --shard auto` (SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT); `lmzip join`
# assembles the parts, and the result must decode to the exact input (cmp), equal
# the same shard plan run on one machine, and answer a --range read.
#
#   bash scripts/slurm-e2e.sh        (as root; after `npm run build`; .ci/run calls it)
#
# Installs slurmctld, slurmd, slurm-client and munge with apt when missing. Skips,
# with the reason printed and exit status 0, where that cannot be done (not root, no
# apt, no models, the daemons do not come up). Its configuration, state and logs live
# in a temporary folder (SLURM_CONF points there; /etc/slurm is not touched), its
# daemons listen on 127.0.0.1 on ports 6917/6918 (not Slurm's defaults), and it stops
# exactly the daemons it started, by PID, so it is safe to run twice and beside a
# real Slurm. Takes about a minute plus the package installation.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
started=$SECONDS
say() { printf 'slurm-e2e: %s\n' "$*"; }
skip() { say "SKIPPED: $*"; exit 0; }

SHARED=${LMZIP_SHARED_DIR:-$REPO/../shared}
MODEL=$SHARED/models/stories260K.gguf
CORPUS_FILE=$SHARED/corpus/tinystories-valid-part1.txt
NODE=$(command -v node)
CLI=$REPO/dist/cli/main.js
SHARDS=${SLURM_E2E_SHARDS:-4}
BYTES=${SLURM_E2E_BYTES:-48000}

[ -f "$CLI" ] || { say "dist/cli/main.js is missing: run npm run build first"; exit 1; }
[ -f "$MODEL" ] && [ -f "$CORPUS_FILE" ] || skip "no test model or corpus under $SHARED (set LMZIP_SHARED_DIR)"
[ "$(id -u)" = 0 ] || skip "needs root to install and run the Slurm and munge daemons"

# ---- packages ----------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || skip "Slurm is not installed and there is no apt-get"
  say "installing slurmctld slurmd slurm-client munge"
  export DEBIAN_FRONTEND=noninteractive
  if ! { timeout 300 apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null 2>&1 ||
         { timeout 120 apt-get update -qq >/dev/null 2>&1 && timeout 300 apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null 2>&1; }; }; then
    skip "apt-get could not install slurmctld slurmd slurm-client munge"
  fi
  say "installed in $((SECONDS - started)) s"
fi

# ---- a private one-node cluster ------------------------------------------------------------
W=$(mktemp -d /tmp/lmzip-slurm-e2e.XXXXXX)
chmod 755 "$W"
pids=()
munge_pid=
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$munge_pid" ]; then kill "$munge_pid" 2>/dev/null || true; wait "$munge_pid" 2>/dev/null || true; fi
  if [ "$status" -ne 0 ] && [ -d "$W" ]; then
    say "failed; logs:"
    for f in "$W"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
  fi
  rm -rf "$W"
}
trap cleanup EXIT

# munge authenticates Slurm's messages: use a running munged, else start one (as user munge).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -f /etc/munge/munge.key ] || skip "no /etc/munge/munge.key"
  mkdir -p /run/munge && chown munge:munge /run/munge
  # In the foreground as our own child (setpriv execs it), so that it is stopped and reaped by PID.
  setpriv --reuid munge --regid munge --init-groups /usr/sbin/munged --foreground --force >"$W/munged.log" 2>&1 &
  munge_pid=$!
  for _ in $(seq 1 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.25; done
  munge -n | unmunge >/dev/null 2>&1 || skip "munge does not work here"
fi

H=$(hostname -s)
export SLURM_CONF=$W/slurm.conf
mkdir -p "$W/state" "$W/spool"
cat > "$SLURM_CONF" <<CONF
ClusterName=lmzipe2e
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=6917
SlurmdPort=6918
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
# Array tasks waiting for a free core start at the next scheduler pass: make it frequent.
SchedulerParameters=sched_interval=2,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=2000 State=UNKNOWN
PartitionName=e2e Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -f "$SLURM_CONF" >"$W/slurmctld.out.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$W/slurmd.out.log" 2>&1 &
pids+=($!)
up=
for _ in $(seq 1 60); do
  if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then up=1; break; fi
  sleep 0.5
done
[ -n "$up" ] || skip "the Slurm daemons did not come up ($(tail -n 3 "$W/slurmctld.log" 2>/dev/null | tr '\n' ' '))"
say "cluster up: $(sinfo -h -o '%P %D %t %c')"

# ---- the job array -------------------------------------------------------------------------
INPUT=$W/corpus.txt
head -c "$BYTES" "$CORPUS_FILE" > "$INPUT"
LMZ=("$NODE" "$CLI" -m "$MODEL" -T 1 -q --block-size 4K)
cat > "$W/job.sh" <<JOB
#!/bin/bash
set -euo pipefail
echo "task \$SLURM_ARRAY_TASK_ID of \$SLURM_ARRAY_TASK_COUNT on \$(hostname -s)"
exec ${LMZ[*]} --shard auto "$INPUT"
JOB
t0=$SECONDS
timeout 600 sbatch --wait --array=0-$((SHARDS - 1)) --cpus-per-task=1 --output="$W/task-%a.log" --chdir="$W" "$W/job.sh" >/dev/null
slurm_s=$((SECONDS - t0))
for i in $(seq 0 $((SHARDS - 1))); do grep -q "task $i of $SHARDS" "$W/task-$i.log" || { say "task $i did not run as shard $i of $SHARDS"; exit 1; }; done
"$NODE" "$CLI" join "$W/joined.lmz" "$INPUT".shard-*-of-*.lmz
"$NODE" "$CLI" -m "$MODEL" -q -d -c "$W/joined.lmz" | cmp - "$INPUT"
say "job array of $SHARDS shards: $slurm_s s; joined file decodes to the input (cmp): $(stat -c %s "$INPUT") -> $(stat -c %s "$W/joined.lmz") bytes"

# ---- the same plan on one machine, one worker ------------------------------------------------
t0=$SECONDS
parts=()
for i in $(seq 0 $((SHARDS - 1))); do
  "${LMZ[@]}" --shard "$i/$SHARDS" -o "$W/local-$i.lmz" "$INPUT"
  parts+=("$W/local-$i.lmz")
done
local_s=$((SECONDS - t0))
cat "${parts[@]}" | cmp - "$W/joined.lmz"
say "one worker, the same plan: $local_s s; byte-identical to the Slurm result"
"$NODE" "$CLI" -m "$MODEL" -q -d --range 20000:3000 "$W/joined.lmz" | cmp - <(tail -c +20001 "$INPUT" | head -c 3000)
say "--range 20000:3000 on the joined file: OK"
if [ "$slurm_s" -gt 0 ]; then
  say "throughput, Slurm array vs one worker: $(awk -v a="$local_s" -v b="$slurm_s" 'BEGIN { printf "%.2fx", a / b }') (whole seconds, on a shared machine)"
fi
say "PASSED in $((SECONDS - started)) s"
