#!/usr/bin/env bash
# The docs' Slurm array script on a real one-node Slurm cluster (Debian's slurm-wlm and munge,
# slurmctld and slurmd as root on this machine), as CI runs it:
#
#   sudo tests/cluster/slurm.sh [GRAPHRUN]
#
# Starts munge and the cluster if they are not running, makes a small nnU-Net dataset from
# data/someones_epi.nii.gz, runs it once without Slurm, then submits docs/cluster/
# voxflow-array.sbatch as: a plain array (0-3), a stepped one (0-6:2), a throttled one
# (0-3%2), two stepped halves with an explicit shard count (0-6:2 and 1-7:2 of 8), and an
# array with one task cancelled mid-run and resubmitted alone (--array=2 with
# VOXFLOW_SHARD_COUNT=4). Each output folder must hold the single run's files byte for byte
# and its merged manifest, and `graphrun status` must exit 0.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
graphrun=$(realpath "${1:-$repo/target/debug/graphrun}")
sbatch_script="$repo/docs/cluster/voxflow-array.sbatch"
work=$(mktemp -d /tmp/voxflow-slurm.XXXXXX)
trap 'rm -rf "$work"' EXIT
host=$(hostname -s)
log() { printf '[slurm test] %s\n' "$*"; }

start_cluster() {
  if sinfo -h >/dev/null 2>&1; then
    log "a Slurm cluster is already up"
    return
  fi
  mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge /etc/slurm \
    /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 0700 /etc/munge && chmod 0600 /etc/munge/munge.key
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
  local cpus mem
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=voxflow-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
  slurmctld
  slurmd
  for _ in $(seq 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      log "cluster up: $(sinfo -h -o '%P %D %T %c CPUs')"
      return
    fi
    sleep 1
  done
  log "the cluster did not come up"; tail -20 /var/log/slurm/*.log; exit 1
}

# Submits the docs' script with the given sbatch arguments into output folder $1, waits.
submit() {
  local out=$1; shift
  ( cd "$work/logs" && GRAPH="$work/graph.json" DATASET="$work/ds" OUTPUT="$out" OUTPUTS="$OUTPUTS" \
      GRAPHRUN="$graphrun" sbatch --parsable "$@" "$sbatch_script" )
}

wait_job() {
  local job=$1
  for _ in $(seq 600); do
    if [ -z "$(squeue -h -j "$job" 2>/dev/null)" ]; then return; fi
    sleep 0.5
  done
  log "job $job did not finish"; squeue; exit 1
}

# The folder against the single run: every file byte for byte, the merged manifest equal.
check() {
  local what=$1 out=$2 ref=$3
  if ! diff -r --exclude=manifest.d "$ref" "$out" >/dev/null; then
    log "FAIL $what: the output differs from a single run"
    diff -rq --exclude=manifest.d "$ref" "$out" | head -20
    exit 1
  fi
  "$graphrun" status "$out" >"$work/status.txt" || { log "FAIL $what: status"; cat "$work/status.txt"; exit 1; }
  log "ok   $what: $(ls "$out" | grep -c nii.gz) files and $(wc -l <"$out/manifest.jsonl") manifest lines as one run; $(head -1 "$work/status.txt")"
}

start_cluster
mkdir -p "$work/ds/imagesTr" "$work/logs"
cp "$repo/tests/cluster/graph.json" "$work/graph.json"
for i in $(seq -w 0 11); do cp "$repo/data/someones_epi.nii.gz" "$work/ds/imagesTr/case$i"_0000.nii.gz; done

OUTPUTS=3
"$graphrun" run "$work/graph.json" --nnunet "$work/ds" -o "$work/single" --outputs $OUTPUTS -q

for spec in "plain:--array=0-3" "stepped:--array=0-6:2" "throttled:--array=0-3%2"; do
  name=${spec%%:*}; array=${spec#*:}
  job=$(submit "$work/$name" "$array"); wait_job "$job"
  check "$name array ($array)" "$work/$name" "$work/single"
done

# Two stepped halves of one 8-shard run, with the count given: task ids are shard indices.
a=$(VOXFLOW_SHARD_COUNT=8 submit "$work/halves" --array=0-6:2 --export=ALL,VOXFLOW_SHARD_COUNT=8)
b=$(VOXFLOW_SHARD_COUNT=8 submit "$work/halves" --array=1-7:2 --export=ALL,VOXFLOW_SHARD_COUNT=8)
wait_job "$a"; wait_job "$b"
check "two stepped halves of 8 shards (0-6:2, 1-7:2)" "$work/halves" "$work/single"

# One task cancelled mid-run, then resubmitted alone with the array's shard count.
OUTPUTS=40
"$graphrun" run "$work/graph.json" --nnunet "$work/ds" -o "$work/single40" --outputs $OUTPUTS -q
job=$(submit "$work/cancelled" --array=0-3)
for _ in $(seq 600); do
  if ls "$work/cancelled/manifest.d/"shard-2of4.*.jsonl >/dev/null 2>&1; then break; fi
  sleep 0.1
done
scancel "${job}_2"
wait_job "$job"
if "$graphrun" status "$work/cancelled" >"$work/status.txt"; then
  log "FAIL: a run with a cancelled task reads as complete"; cat "$work/status.txt"; exit 1
fi
log "ok   after the cancel, status says: $(grep -E '^  2/4' "$work/status.txt" | tr -s ' ')"
job=$(submit "$work/cancelled" --array=2 --export=ALL,VOXFLOW_SHARD_COUNT=4)
wait_job "$job"
check "task 2 cancelled mid-run, resubmitted with --array=2" "$work/cancelled" "$work/single40"
log "all Slurm scenarios passed"
