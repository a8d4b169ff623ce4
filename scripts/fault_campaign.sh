#!/usr/bin/env bash
# The kill/interrupt campaign: trains d2nn-mnist (1,024 images, 2 epochs, checkpoints after every
# step) once uninterrupted, then interrupts copies of the same run and resumes them, and counts
# the runs whose metrics and checkpoint tensors equal the uninterrupted run's bit for bit
# (scripts/compare_runs.py). Cases: SIGINT at three points (before the first step, mid-epoch,
# around the test pass), SIGKILL at N random moments (default 20), two processes started on one
# folder at once, and a full disk (a 160 KiB tmpfs, less than one checkpoint, when this machine lets root mount one).
#
#   scripts/fault_campaign.sh [KILLS]      (WAVETRAIN: the binary, default target/release/wavetrain)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
wt=${WAVETRAIN:-$root/target/release/wavetrain}
kills=${1:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(train --backend cpu --max-train 1024 --epochs 2 --no-pictures --checkpoint-every 0)
same() { python3 "$root/scripts/compare_runs.py" "$1" "$2" >/dev/null; }
# Resumes (or restarts, when nothing was saved) until the run has finished.
finish() {
  local dir=$1 tries=0
  until [ -f "$dir/metrics.csv" ] && [ "$(tail -n +3 "$dir/metrics.csv" | wc -l)" -ge 2 ]; do
    tries=$((tries + 1)); [ $tries -gt 5 ] && return 1
    if [ -f "$dir/checkpoint.safetensors" ]; then
      "$wt" train --resume "$dir" --no-pictures >/dev/null 2>&1
    else
      "$wt" "${args[@]}" --out "$dir" >/dev/null 2>&1
    fi
  done
}
"$wt" "${args[@]}" --out "$work/ref" >/dev/null 2>&1 || { echo "reference run failed"; exit 1; }
t0=$(date +%s.%N); "$wt" "${args[@]}" --out "$work/timing" >/dev/null 2>&1; t1=$(date +%s.%N)
dur=$(python3 -c "print(round($t1 - $t0, 3))")
echo "uninterrupted run: ${dur} s"
ok=0; n=0
report() { n=$((n + 1)); if same "$work/ref" "$1"; then ok=$((ok + 1)); echo "  $2: identical"; else echo "  $2: DIFFERENT"; fi; }

echo "SIGINT at three points:"
for at in 0.05 0.5 0.85; do
  d="$work/int-$at"
  "$wt" "${args[@]}" --out "$d" >/dev/null 2>&1 & pid=$!
  sleep "$(python3 -c "print(round($dur * $at, 3))")"; kill -INT $pid 2>/dev/null; wait $pid; code=$?
  finish "$d"; report "$d" "SIGINT at ${at} of the run (exit $code)"
done

echo "SIGKILL at $kills random moments:"
for i in $(seq "$kills"); do
  d="$work/kill-$i"
  at=$(python3 -c "import random; print(round(random.uniform(0.02, 0.98) * $dur, 3))")
  "$wt" "${args[@]}" --out "$d" >/dev/null 2>&1 & pid=$!
  sleep "$at"; kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
  stage=$( [ -f "$d/checkpoint.safetensors" ] && echo checkpointed || echo "before any checkpoint")
  finish "$d"; report "$d" "SIGKILL at ${at} s ($stage)"
done

echo "two processes on one folder:"
d="$work/both"
"$wt" "${args[@]}" --out "$d" >/dev/null 2>"$work/a.err" & a=$!
"$wt" "${args[@]}" --out "$d" >/dev/null 2>"$work/b.err" & b=$!
wait $a; ca=$?; wait $b; cb=$?
echo "  exit codes $ca and $cb ($(cat "$work/a.err" "$work/b.err" | grep -o 'in use by process [0-9]*' | head -1))"
finish "$d"; report "$d" "the run that owned the folder"

echo "full disk:"
mnt="$work/full"; mkdir -p "$mnt"
if mount -t tmpfs -o size=160k tmpfs "$mnt" 2>/dev/null; then
  "$wt" "${args[@]}" --out "$mnt/run" >/dev/null 2>"$work/full.err"; code=$?
  echo "  exit $code: $(grep -o 'error:.*' "$work/full.err" | head -c 200)"
  ls -a "$mnt/run" 2>/dev/null | grep -c '\.tmp$' | sed 's/^/  temporary files left: /'
  umount "$mnt"
else
  echo "  skipped: this machine does not let the campaign mount a small tmpfs"
fi
echo "resumed to identical metrics and tensors: $ok of $n"
